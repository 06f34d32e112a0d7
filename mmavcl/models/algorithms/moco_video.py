"""Clip-level MoCo-v2 baseline for video.

Two clips of one video are two views; the clip embedding of one must find
the other among a queue of past keys (He et al., CVPR 2020; Chen et al.,
2020 for the MLP head; Qian et al., CVPR 2021 "CVRL" for clips of one video
as views). The SimCLR form of the same baseline is
:class:`~mmavcl.models.algorithms.SimCLRVideo`.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from .base import BaseSSLAlgorithm, Inputs, embed


@MODELS.register_module()
class MoCoVideo(BaseSSLAlgorithm):
    r"""Clip-level contrast between two clips of the same video.

    With :math:`z = \mathrm{normalize}(g(f(x)))` the projected clip
    embedding, query :math:`q_i = z_\theta(x^1_i)` and key
    :math:`k_i = z_\xi(x^2_i)` from the momentum encoder
    :math:`\xi \leftarrow m\xi + (1-m)\theta` (with shuffle-BN), negatives
    from a FIFO queue :math:`\mathcal{Q}` of past keys:

    .. math::
        \mathcal{L}_{clip} = -\frac{1}{B}\sum_i \log
        \frac{e^{q_i\cdot k_i/\tau}}{e^{q_i\cdot k_i/\tau}
              + \sum_{n\in\mathcal{Q}} e^{q_i\cdot n/\tau}}

    With ``symmetric=True`` the roles of the clips are swapped as well and the
    two terms are averaged. The logits use the queue before this step's keys
    are enqueued.

    Inputs: ``inputs['video']`` = 2 views ``(B, C, T, H, W)``.

    Args:
        backbone (dict): video backbone.
        neck (dict): projection neck ``(B, C) -> (B, D)``.
        loss (dict): an ``InfoNCELoss`` config (temperature and
            ``loss_weight`` live there).
        symmetric (bool): swap clip roles and average.
        **key_encoder_args: ``queue_len`` (K; 0 disables the queue),
            ``feat_dim`` (D), ``momentum``, ``end_momentum``,
            ``shuffle_bn``: see :meth:`BaseSSLAlgorithm.init_key_encoders`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='InfoNCELoss', temperature=0.2,
                                   in_batch_negatives=False),
                 symmetric: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **key_encoder_args) -> None:
        super().__init__(backbone=backbone, neck=neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)
        self.symmetric = symmetric
        self.init_key_encoders(dict(momentum_encoder=self._online()),
                               queues=['queue'], allow_no_queue=True,
                               **key_encoder_args)

    def _online(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck))

    def encode(self, x: Tensor, net: nn.Module) -> Tensor:
        """``z`` of clips ``(B, C, T, H, W)`` with ``net``'s backbone and
        neck (online or momentum), ``(B, D)``."""
        return embed(net.backbone, net.neck, x)

    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        x1, x2 = self.get_views(inputs, 'video', num=2)
        online = self._online()
        # queries before the momentum update, as in MoCo's code
        q1 = self.encode(x1, online)
        self.momentum_update(self.momentum_encoder, online)
        queue = self.queue.features() if self.queue is not None else None
        pairs = [(q1, self.key_forward(self.encode, x2))]
        if self.symmetric:
            pairs.append((self.encode(x2, online),
                          self.key_forward(self.encode, x1)))

        losses: Dict[str, Tensor] = {}
        terms = []
        for q, k in pairs:
            loss, logits, pos = self.loss_module(q, k, queue,
                                                 return_logits=True)
            terms.append(loss)
            if not losses:  # the first direction is monitored
                losses.update(self.monitor_contrast('clip', logits, pos, q))
        losses['loss_clip'] = sum(terms) / len(terms)
        if self.queue is not None:
            self.queue.enqueue(torch.cat([k for _, k in pairs]))
            losses.update(self.monitor_queue('clip', self.queue))
        losses.update(self.monitor_momentum(self.momentum_encoder))
        return losses
