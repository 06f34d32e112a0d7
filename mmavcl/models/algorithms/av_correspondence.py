"""Audio-visual correspondence baseline: plain cross-modal InfoNCE.

The video clip and the audio of the same time span are positives; every
other clip/audio of the global batch is a negative (the cross-modal
contrast of e.g. Morgado et al., CVPR 2021, without memory banks or
extra positives). It is the reference every audio-visual method is compared
against.
"""
from typing import Dict, List, Optional

from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from .base import BaseSSLAlgorithm, Inputs, embed


@MODELS.register_module()
class AVCorrespondence(BaseSSLAlgorithm):
    r"""Symmetric video <-> audio InfoNCE with in-batch negatives.

    With :math:`v_i = \mathrm{normalize}(g_v(f_v(x^v_i)))` and
    :math:`a_i = \mathrm{normalize}(g_a(f_a(x^a_i)))`:

    .. math::
        \mathcal{L} = \frac{1}{2B}\sum_i \Big[
          -\log\frac{e^{v_i\cdot a_i/\tau}}{\sum_j e^{v_i\cdot a_j/\tau}}
          -\log\frac{e^{a_i\cdot v_i/\tau}}{\sum_j e^{a_i\cdot v_j/\tau}}
        \Big]

    where j runs over the global batch (keys gathered across ranks).

    Inputs: ``inputs['video']`` = 1 view ``(B, C, T, H, W)``,
    ``inputs['audio']`` = 1 view ``(B, 1, F, Ta)`` aligned in time.

    Args:
        backbone, neck: video encoder and projection ``(B, C) -> (B, D)``.
        audio_backbone, audio_neck: audio encoder and projection.
        loss (dict): ``InfoNCELoss`` with ``symmetric=True``,
            ``in_batch_negatives=True`` (temperature lives there).
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 audio_backbone: dict,
                 audio_neck: dict,
                 loss: dict = dict(type='InfoNCELoss', temperature=0.07,
                                   symmetric=True, in_batch_negatives=True),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, neck=neck,
                         audio_backbone=audio_backbone, audio_neck=audio_neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)

    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        (video, ) = self.get_views(inputs, 'video', num=1)
        (audio, ) = self.get_views(inputs, 'audio', num=1)
        zv = embed(self.backbone, self.neck, video)
        za = embed(self.audio_backbone, self.audio_neck, audio)
        loss, logits, pos = self.loss_module(zv, za, return_logits=True)
        out = {'loss_va': loss}
        out.update(self.monitor_contrast('va', logits, pos, zv))
        out['std_audio'] = self.monitor_contrast(
            'a', logits, pos, za)['std_a']
        return out
