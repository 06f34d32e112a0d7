"""Downstream classification head (linear probe / fine-tuning)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmavcl.registry import MODELS
from ..utils import last_stage

Feat = Union[torch.Tensor, Sequence[torch.Tensor]]


@MODELS.register_module()
class ClsHead(BaseModule):
    """Pool, dropout and a linear (or MLP) classifier over backbone features.

    ``logits = W2 . relu(W1 . drop(pool(x)))`` with the hidden layer only
    when ``hidden_channels`` is set; ``pool`` averages (or max-pools) every
    axis after the channels, so the head takes a video map
    ``(N, C, T, H, W)``, an audio map ``(N, C, F, T)`` or pooled ``(N, C)``.

    The loss is ``loss_cls(logits, y)`` (cross-entropy by default). At test
    time the ``V`` views of a sample are merged by :meth:`average_clips`:
    ``'prob'``: ``1/V sum_v softmax(z_v)``; ``'score'``: ``1/V sum_v z_v``;
    ``None``: ``z_v`` averaged as well (no normalisation, kept for parity
    with MMAction2's option names).

    Args:
        num_classes: Number of classes.
        in_channels: Channels ``C`` of the backbone output.
        hidden_channels: Width of an optional hidden layer (MLP head).
        dropout_ratio: Dropout before the classifier.
        pool: ``'avg'``, ``'max'`` or ``None`` (input already pooled).
        loss_cls: Loss config (``CrossEntropyLoss``).
        average_clips: ``'prob'``, ``'score'`` or ``None``.
        init_std: Std of the normal init of the classifier weights.
        init_cfg: mmengine init config (overrides the default init).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 hidden_channels: Optional[int] = None,
                 dropout_ratio: float = 0.5,
                 pool: Optional[str] = 'avg',
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 average_clips: Optional[str] = 'prob',
                 init_std: float = 0.01,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool not in ('avg', 'max', None):
            raise ValueError(f"pool must be 'avg', 'max' or None, got {pool}")
        if average_clips not in ('prob', 'score', None):
            raise ValueError("average_clips must be 'prob', 'score' or None, "
                             f'got {average_clips!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.pool = pool
        self.average_clips_mode = average_clips
        self.init_std = init_std
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 \
            else nn.Identity()
        if hidden_channels:
            self.hidden = nn.Sequential(
                nn.Linear(in_channels, hidden_channels),
                nn.ReLU(inplace=True))
            fc_in = hidden_channels
        else:
            self.hidden = nn.Identity()
            fc_in = in_channels
        self.fc = nn.Linear(fc_in, num_classes)
        self.loss_cls = MODELS.build(loss_cls)

    def init_weights(self) -> None:
        if self.init_cfg is not None:
            return super().init_weights()
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, self.init_std)
                nn.init.zeros_(m.bias)

    def pre_logits(self, feats: Feat) -> torch.Tensor:
        """Pooled features ``(N, C)`` of the last backbone stage."""
        x = last_stage(feats)
        if x.dim() > 2 and self.pool is not None:
            x = x.flatten(2)
            x = x.mean(2) if self.pool == 'avg' else x.amax(2)
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'ClsHead(in_channels={self.in_channels}) got '
                             f'features of shape {tuple(x.shape)}')
        return x

    def forward(self, feats: Feat) -> torch.Tensor:
        """Logits ``(N, num_classes)``."""
        return self.fc(self.hidden(self.dropout(self.pre_logits(feats))))

    def loss(self, feats: Feat, data_samples: List) -> Dict[str, torch.Tensor]:
        """``loss_cls`` plus the batch top-1 accuracy (logged, not summed)."""
        logits = self(feats)
        labels = gather_labels(data_samples).to(logits.device)
        if labels.shape[0] != logits.shape[0]:
            raise ValueError(f'{logits.shape[0]} logits for {labels.shape[0]}'
                             ' labels: train with one view per sample')
        acc = (logits.argmax(1) == labels).float().mean() * 100
        return dict(loss_cls=self.loss_cls(logits, labels),
                    top1_acc=acc.detach())

    def average_clips(self, cls_scores: torch.Tensor, num_views: int
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Merge the views of each sample.

        Args:
            cls_scores: ``(B * V, num_classes)`` logits, views of a sample
                consecutive.
            num_views: ``V``.

        Returns:
            ``(B, num_classes)`` averaged scores and ``(B, V, num_classes)``
            per-view scores after the same normalisation.
        """
        per_view = cls_scores.reshape(-1, num_views, cls_scores.shape[-1])
        if self.average_clips_mode == 'prob':
            per_view = F.softmax(per_view, dim=-1)
        return per_view.mean(dim=1), per_view

    def predict(self, feats: Feat, data_samples: List, num_views: int = 1,
                keep_clip_scores: bool = True) -> List:
        """Set ``pred_score`` ``(C,)``, ``pred_label`` ``(1,)`` and
        (optionally) ``clip_scores`` ``(V, C)`` on each data sample."""
        score, per_view = self.average_clips(self(feats), num_views)
        for ds, s, pv in zip(data_samples, score, per_view):
            ds.set_field(s.detach(), 'pred_score')
            ds.set_field(s.argmax().reshape(1).detach(), 'pred_label')
            if keep_clip_scores:
                ds.set_field(pv.detach(), 'clip_scores')
        return data_samples


def gather_labels(data_samples: Sequence) -> torch.Tensor:
    """``(N,)`` labels from data samples, naming the first one without."""
    labels = []
    for i, ds in enumerate(data_samples):
        if 'gt_label' not in ds:
            vid = ds.metainfo.get('video_id', f'#{i}')
            raise KeyError(f'data sample {vid} has no `gt_label`: the '
                           'annotation list needs a label column')
        labels.append(ds.gt_label.reshape(-1)[:1])
    return torch.cat(labels).long()
