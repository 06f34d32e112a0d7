"""Clip-level SimCLR baseline for video.

Two clips of one video are two views of one encoder; every other clip of
the global batch is a negative (Chen et al., ICML 2020; clips of one video
as views as in CVRL). The momentum-encoder form of the same baseline is
:class:`~mmavcl.models.algorithms.MoCoVideo`.
"""
from typing import Dict, List, Optional

from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from .base import BaseSSLAlgorithm, Inputs, embed


@MODELS.register_module()
class SimCLRVideo(BaseSSLAlgorithm):
    r"""Symmetric in-batch contrast between two clips of the same video.

    With :math:`z^v_i = \mathrm{normalize}(g(f(x^v_i)))` for both clips
    :math:`v \in \{1, 2\}` through the same (online) encoder and j over the
    global batch (keys gathered across ranks with gradient):

    .. math::
        \mathcal{L}_{clip} = \frac{1}{2B}\sum_i \Big[
          -\log\frac{e^{z^1_i\cdot z^2_i/\tau}}
                    {\sum_j e^{z^1_i\cdot z^2_j/\tau}}
          -\log\frac{e^{z^2_i\cdot z^1_i/\tau}}
                    {\sum_j e^{z^2_i\cdot z^1_j/\tau}}
        \Big]

    Inputs: ``inputs['video']`` = 2 views ``(B, C, T, H, W)``.

    Args:
        backbone (dict): video backbone.
        neck (dict): projection neck ``(B, C) -> (B, D)``.
        loss (dict): an ``InfoNCELoss`` with ``in_batch_negatives=True``
            (the only negatives there are) and ``symmetric=True``;
            temperature and ``loss_weight`` live there.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='InfoNCELoss', temperature=0.1,
                                   symmetric=True, in_batch_negatives=True),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)
        if not getattr(self.loss_module, 'in_batch_negatives', True):
            raise ValueError(
                'SimCLRVideo needs a loss with in_batch_negatives=True: '
                'without a queue the other clips of the batch are the only '
                'negatives')

    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        z1, z2 = (embed(self.backbone, self.neck, x)
                  for x in self.get_views(inputs, 'video', num=2))
        loss, logits, pos = self.loss_module(z1, z2, return_logits=True)
        losses = {'loss_clip': loss}
        losses.update(self.monitor_contrast('clip', logits, pos, z1))
        return losses
