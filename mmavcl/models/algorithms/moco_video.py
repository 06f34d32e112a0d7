"""Clip-level MoCo-v2 / SimCLR baseline for video.

Two clips of one video are two views; the clip embedding of one must find
the other among negatives (He et al., CVPR 2020; Chen et al., 2020 for the
MLP head; Qian et al., CVPR 2021 "CVRL" for clips of one video as views).
"""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from mmavcl.registry import MODELS
from .base import BaseSSLAlgorithm, global_pool


@MODELS.register_module()
class MoCoVideo(BaseSSLAlgorithm):
    r"""Clip-level contrast between two clips of the same video.

    With z = normalize(g(f(x))) the projected clip embedding, query
    :math:`q_i = z_\theta(x^1_i)` and key :math:`k_i = z_\xi(x^2_i)`:

    **MoCo** (``use_momentum=True``): keys from the momentum encoder
    :math:`\xi \leftarrow m\xi + (1-m)\theta` (with shuffle-BN), negatives
    from a FIFO queue :math:`\mathcal{Q}` of past keys:

    .. math::
        \mathcal{L} = -\frac{1}{B}\sum_i \log
        \frac{e^{q_i\cdot k_i/\tau}}{e^{q_i\cdot k_i/\tau}
              + \sum_{n\in\mathcal{Q}} e^{q_i\cdot n/\tau}}

    With ``symmetric=True`` the roles of the clips are swapped as well and the
    two terms are averaged.

    **SimCLR** (``use_momentum=False``): both clips through the online
    encoder, in-batch negatives over the global batch (``loss`` is an
    ``InfoNCELoss`` with ``in_batch_negatives=True``, ``symmetric=True``),
    no queue.

    Inputs: ``inputs['video']`` = 2 views ``(B, C, T, H, W)``.

    Args:
        backbone (dict): video backbone.
        neck (dict): projection neck ``(B, C) -> (B, D)``.
        loss (dict): an ``InfoNCELoss`` config (temperature lives there).
        use_momentum (bool): MoCo (True) or SimCLR (False).
        queue_len (int): queue length K (MoCo only); 0 disables the queue.
        feat_dim (int): embedding size D.
        momentum (float): EMA coefficient m. ``end_momentum`` schedules it
            with a cosine to that value.
        shuffle_bn (bool): shuffle-BN for the key forward.
        symmetric (bool): MoCo only, swap clip roles and average.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='InfoNCELoss', temperature=0.2,
                                   in_batch_negatives=False),
                 use_momentum: bool = True,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.999,
                 end_momentum: Optional[float] = None,
                 shuffle_bn: bool = True,
                 symmetric: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        from mmavcl.models.utils import FeatureQueue
        self.loss_module = MODELS.build(loss)
        if not use_momentum and not getattr(self.loss_module,
                                            'in_batch_negatives', True):
            raise ValueError(
                'MoCoVideo(use_momentum=False) is SimCLR: its loss needs '
                'in_batch_negatives=True (otherwise no negatives exist)')
        self.use_momentum = use_momentum
        self.shuffle_bn = shuffle_bn
        self.symmetric = symmetric
        if use_momentum:
            self.momentum_encoder = self.build_momentum_encoder(
                self._online(), momentum, end_momentum)
            self.queue = FeatureQueue(queue_len, feat_dim) \
                if queue_len > 0 else None
        else:
            self.momentum_encoder = None
            self.queue = None

    def _online(self) -> Dict[str, torch.nn.Module]:
        return dict(backbone=self.backbone, neck=self.neck)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Online embedding ``(B, C, T, H, W) -> (B, D)``, L2-normalised."""
        return F.normalize(self.neck(global_pool(self.backbone(x))), dim=1)

    @torch.no_grad()
    def embed_key(self, x: torch.Tensor) -> torch.Tensor:
        """Momentum embedding with shuffle-BN, ``(B, D)``, L2-normalised."""
        from mmavcl.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
        if self.shuffle_bn:
            x, idx_unshuffle = batch_shuffle_ddp(x)
        feat = global_pool(self.momentum_encoder('backbone', x))
        z = F.normalize(self.momentum_encoder('neck', feat), dim=1)
        if self.shuffle_bn:
            z = batch_unshuffle_ddp(z, idx_unshuffle)
        return z

    def loss(self, inputs, data_samples) -> Dict[str, torch.Tensor]:
        x1, x2 = self.get_views(inputs, 'video', num=2)
        q1 = self.embed(x1)
        losses: Dict[str, torch.Tensor] = {}
        if not self.use_momentum:
            q2 = self.embed(x2)
            loss, logits, pos = self.loss_module(q1, q2, return_logits=True)
            losses['loss_clip'] = loss
            losses.update(self.monitor_contrast('clip', logits, pos, q1))
            return losses

        self.momentum_update(self.momentum_encoder, self._online())
        queue = self.queue.features() if self.queue is not None else None
        k2 = self.embed_key(x2)
        pairs = [(q1, k2)]
        keys: List[torch.Tensor] = [k2]
        if self.symmetric:
            q2 = self.embed(x2)
            k1 = self.embed_key(x1)
            pairs.append((q2, k1))
            keys.append(k1)
        terms = []
        for i, (q, k) in enumerate(pairs):
            loss, logits, pos = self.loss_module(q, k, queue,
                                                 return_logits=True)
            terms.append(loss)
            if i == 0:
                losses.update(self.monitor_contrast('clip', logits, pos, q))
        losses['loss_clip'] = sum(terms) / len(terms)
        if self.queue is not None:
            self.queue.enqueue(torch.cat(keys))
            losses.update(self.monitor_queue('clip', self.queue))
        losses.update(self.monitor_momentum(self.momentum_encoder))
        return losses
