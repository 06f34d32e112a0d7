"""The base class of every self-supervised algorithm in mmavcl.

An algorithm is ``backbone(s) -> neck(s) -> head(s) -> loss modules``. The
base class builds the optional parts, runs the two modes mmengine asks for
(``'loss'`` while training, ``'tensor'`` for features) and offers the few
helpers every method needs (momentum copies, monitoring values, reading
views and pretext labels with errors that name the offending sample). A
subclass writes :meth:`BaseSSLAlgorithm.loss` and nothing else.

Monitoring values travel in the dict returned by ``loss()`` under names that
do not contain ``'loss'``: mmengine's ``parse_losses`` logs every entry but
sums only the keys containing ``'loss'``, so accuracies, embedding std,
queue pointers and the momentum are logged without being back-propagated.
Logged values are averaged over ranks (:meth:`BaseSSLAlgorithm.parse_losses`):
mmengine logs rank 0 only, which would show a 1/world share of the batch.
"""
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub
from mmengine.model import BaseModel

from mmavcl.registry import MODELS

Inputs = Dict[str, List[torch.Tensor]]


class ModuleGroup(nn.ModuleDict):
    """A named set of sub-networks that can be called by name.

    :class:`~mmavcl.models.utils.MomentumEncoder` runs its EMA copy through
    ``forward``; a plain ``ModuleDict`` has none, so the key side of an
    algorithm calls ``momentum_encoder('backbone', x)``.
    """

    def forward(self, name: str, *args, **kwargs):
        return self[name](*args, **kwargs)


def global_pool(feat: Union[torch.Tensor, Sequence[torch.Tensor]]
                ) -> torch.Tensor:
    """Average a backbone map over every axis after the channels.

    Args:
        feat: ``(B, C, *spatial)`` or a tuple of stages (the last is used).

    Returns:
        Tensor: ``(B, C)``.
    """
    if isinstance(feat, (tuple, list)):
        feat = feat[-1]
    return feat.flatten(2).mean(dim=2) if feat.dim() > 2 else feat


def sample_name(sample, index: int) -> str:
    """``video_id`` of a data sample (metainfo or data field) for errors."""
    vid = sample.metainfo.get('video_id', None) if hasattr(
        sample, 'metainfo') else None
    if vid is None and hasattr(sample, 'get'):
        vid = sample.get('video_id', None)
    return str(vid) if vid is not None else f'#{index} of the batch'


def last_stage(feat: Union[torch.Tensor, Sequence[torch.Tensor]]
               ) -> torch.Tensor:
    """The last entry of a backbone's tuple of stages (or the map itself)."""
    return feat[-1] if isinstance(feat, (tuple, list)) else feat


class BaseSSLAlgorithm(BaseModel, metaclass=ABCMeta):
    """Backbone(s), neck(s), head(s) and losses of a self-supervised method.

    Args:
        backbone (dict): video backbone config; its input is
            ``(B, C, T, H, W)``.
        neck (dict, optional): neck applied to the video backbone output.
        head (dict, optional): a head (most methods name theirs explicitly).
        audio_backbone (dict, optional): audio backbone over ``(B, 1, F, T)``
            log-mel (or ``(B, L)`` waveform) inputs.
        audio_neck (dict, optional): neck applied to the audio backbone.
        data_preprocessor (dict, optional): defaults to
            ``AVDataPreprocessor``.
        init_cfg (dict, optional): mmengine initialisation config.

    Modes of :meth:`forward`:

    * ``'loss'``: ``loss(inputs, data_samples)``, a dict of named loss terms
      (keys with ``'loss'``) and monitoring values (keys without).
    * ``'tensor'``: :meth:`extract_feat`, backbone maps of every view.
    """

    def __init__(self,
                 backbone: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 audio_backbone: Optional[dict] = None,
                 audio_neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='AVDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.backbone = self.build_optional(backbone)
        self.neck = self.build_optional(neck)
        self.head = self.build_optional(head)
        self.audio_backbone = self.build_optional(audio_backbone)
        self.audio_neck = self.build_optional(audio_neck)

    # ------------------------------------------------------------ building
    @staticmethod
    def build_optional(cfg: Optional[Union[dict, nn.Module]]
                       ) -> Optional[nn.Module]:
        """Build a registered module from ``cfg``; ``None`` stays ``None``."""
        if cfg is None or isinstance(cfg, nn.Module):
            return cfg
        return MODELS.build(cfg)

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_head(self) -> bool:
        return self.head is not None

    @property
    def with_audio(self) -> bool:
        return self.audio_backbone is not None

    def build_momentum_encoder(self,
                               modules: Dict[str, nn.Module],
                               momentum: float = 0.999,
                               end_momentum: Optional[float] = None,
                               bn_train: bool = True) -> nn.Module:
        """EMA copy of the named online modules (see :meth:`online_group`).

        The online modules stay registered under their own names; the group
        handed to ``MomentumEncoder`` is built on the fly so their
        parameters are not registered twice.
        """
        from mmavcl.models.utils import MomentumEncoder
        return MomentumEncoder(ModuleGroup(modules), momentum=momentum,
                               end_momentum=end_momentum, bn_train=bn_train)

    def momentum_update(self, encoder: nn.Module,
                        modules: Dict[str, nn.Module]) -> None:
        """``xi <- m * xi + (1 - m) * theta`` for one momentum encoder.

        The current iteration (for a momentum schedule) is read from the
        runner's message hub when a runner is driving the model.
        """
        hub = MessageHub.get_current_instance()
        cur_iter = hub.get_info('iter')
        max_iters = hub.get_info('max_iters')
        encoder.update(ModuleGroup(modules), cur_iter=cur_iter,
                       max_iters=max_iters)

    # ------------------------------------------------------------- forward
    def forward(self,
                inputs: Inputs,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """Dispatch to :meth:`loss` or :meth:`extract_feat`.

        Args:
            inputs (dict): ``{'video': [Tensor (B, C, T, H, W)] * V,
                'audio': [Tensor (B, 1, F, Ta)] * A}`` after the data
                preprocessor; either modality may be absent.
            data_samples (list[AVDataSample], optional): one per sample.
            mode (str): ``'loss'`` or ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(
            f'{type(self).__name__}.forward: invalid mode "{mode}"; a '
            "self-supervised algorithm supports 'loss' and 'tensor' (use a "
            'Recognizer for predictions)')

    def extract_feat(self, inputs: Inputs) -> Dict[str, list]:
        """Backbone maps of every view: ``{'video': [...], 'audio': [...]}``.
        """
        out = {}
        if self.backbone is not None and inputs.get('video'):
            out['video'] = [self.backbone(v) for v in inputs['video']]
        if self.audio_backbone is not None and inputs.get('audio'):
            out['audio'] = [self.audio_backbone(a) for a in inputs['audio']]
        return out

    @abstractmethod
    def loss(self, inputs: Inputs, data_samples: list
             ) -> Dict[str, torch.Tensor]:
        """Named loss terms (``loss_*``) plus monitoring values."""

    def parse_losses(self, losses: Dict[str, torch.Tensor]
                     ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """mmengine's parsing (the back-propagated total stays this rank's),
        then every logged value averaged over ranks in one ``all_reduce``.

        mmengine logs what rank 0 returns, i.e. the loss of 1/world of the
        global batch; the mean is the loss of the whole batch, less noisy
        by about ``sqrt(world)`` (as mmcv 1.x runners logged it).
        """
        loss, log_vars = super().parse_losses(losses)
        if get_world_size() > 1:
            values = torch.stack([v.detach().float().reshape(())
                                  for v in log_vars.values()])
            all_reduce(values, op='mean')
            log_vars = OrderedDict(zip(log_vars, values.unbind()))
        return loss, log_vars

    # ------------------------------------------------------------- helpers
    def get_views(self, inputs: Inputs, modality: str,
                  num: Optional[int] = None,
                  at_least: Optional[int] = None) -> List[torch.Tensor]:
        """The list of ``modality`` views, checked against what the method
        needs so a wrong pipeline fails with a message saying which."""
        views = inputs.get(modality) if isinstance(inputs, dict) else None
        name = type(self).__name__
        if not views:
            have = sorted(inputs) if isinstance(inputs, dict) else type(inputs)
            raise ValueError(
                f'{name} needs inputs["{modality}"] but the batch has {have}'
                '; check the view sampler / PackAVInputs in the pipeline')
        if num is not None and len(views) != num:
            raise ValueError(
                f'{name} needs exactly {num} {modality} views per sample, got '
                f'{len(views)}; check the view sampler of the pipeline')
        if at_least is not None and len(views) < at_least:
            raise ValueError(
                f'{name} needs at least {at_least} {modality} views per '
                f'sample, got {len(views)}')
        return list(views)

    @staticmethod
    def pretext_label(data_samples: list, key: str,
                      device: torch.device) -> torch.Tensor:
        """``LongTensor (B,)`` of ``pretext_labels[key]`` made by the sampler.
        """
        labels = []
        for i, sample in enumerate(data_samples or []):
            table = sample.get('pretext_labels', None)
            if table is None or key not in table:
                raise KeyError(
                    f'sample {sample_name(sample, i)}: pretext_labels has no '
                    f'"{key}" (has {sorted(table) if table else None}); the '
                    'view sampler in the pipeline must produce it')
            labels.append(int(table[key]))
        if not labels:
            raise ValueError(f'no data samples to read "{key}" labels from')
        return torch.tensor(labels, dtype=torch.long, device=device)

    @staticmethod
    def monitor_contrast(prefix: str, logits: torch.Tensor,
                         pos_mask: torch.Tensor,
                         embeddings: Optional[torch.Tensor] = None
                         ) -> Dict[str, torch.Tensor]:
        """Top-1 contrastive accuracy (%) and, optionally, the collapse
        indicator ``std`` of L2-normalised embeddings, as log entries."""
        from mmavcl.models.utils import contrastive_accuracy, embedding_std
        out = {f'acc_{prefix}': contrastive_accuracy(logits.detach(),
                                                     pos_mask)}
        if embeddings is not None:
            out[f'std_{prefix}'] = embedding_std(embeddings.detach())
        return out

    @staticmethod
    def monitor_queue(prefix: str, queue: nn.Module
                      ) -> Dict[str, torch.Tensor]:
        """Write pointer of a ``FeatureQueue`` as a float log entry."""
        return {f'queue_ptr_{prefix}': queue.ptr.detach().float().reshape(())}

    @staticmethod
    def monitor_momentum(encoder: nn.Module,
                         name: str = 'momentum') -> Dict[str, torch.Tensor]:
        return {name: torch.tensor(float(encoder.momentum))}

    @staticmethod
    def cls_accuracy(logits: torch.Tensor, target: torch.Tensor
                     ) -> torch.Tensor:
        """Top-1 accuracy (%) of a pretext classifier, detached."""
        return (logits.detach().argmax(1) == target).float().mean() * 100
