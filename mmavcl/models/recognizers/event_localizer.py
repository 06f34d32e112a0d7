"""Audio-visual event localization on frozen per-segment features."""
import logging
from typing import List, Optional

import torch
from mmengine.logging import print_log

from mmavcl.registry import MODELS
from ..utils import global_pool
from .recognizer import AVRecognizer, Inputs, load_backbone_checkpoint

__all__ = ['AVEventLocalizer']


@MODELS.register_module()
class AVEventLocalizer(AVRecognizer):
    """Per-segment event labels from a pretrained audio-visual encoder.

    The AVE protocol: a video is ``S`` segments (ten of one second), each an
    event category or background. Every segment's clip goes through the
    video backbone and its audio through the audio backbone (both frozen by
    default, loaded from one pretraining checkpoint); their pooled features
    are concatenated per segment, ``(B, S, C_v + C_a)``, and a
    :class:`~mmavcl.models.heads.TemporalSegmentHead` turns the sequence
    into ``(B, S, K)`` logits, trained with cross-entropy per segment.

    Inputs (``SampleEventSegments(audio=True)``): ``inputs['video']`` the
    ``S`` segment clips, each ``(B, C, T, H, W)``; ``inputs['audio']`` the
    ``S`` segments' log-mel ``(B, 1, F, T)``. Labels: the data samples'
    ``segment_labels`` (``S`` ints, metainfo from
    :class:`~mmavcl.datasets.AVEDataset`).

    ``predict`` sets ``pred_segment_scores`` ``(S, K)`` (softmax) and
    ``pred_segment_labels`` ``(S,)`` on each data sample.

    Args:
        backbone: Video backbone config.
        head: :class:`TemporalSegmentHead` config.
        audio_backbone: Audio backbone config, or ``None`` (video-only
            features, for video-only pretraining).
        frozen: Frozen encoders (the protocol): no gradients, BN in eval
            mode.
        pretrained: Checkpoint holding both encoders.
        pretrained_prefix: Video backbone key prefix in ``pretrained``.
        audio_pretrained_prefix: Audio backbone key prefix.
        backbone_outputs: See :class:`AVRecognizer` (two-pathway video
            backbones: ``'concat'``).
        test_cfg: ``max_testing_views``: clips per backbone call.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 audio_backbone: Optional[dict] = None,
                 frozen: bool = True,
                 pretrained: Optional[str] = None,
                 pretrained_prefix: str = 'backbone.',
                 audio_pretrained_prefix: str = 'audio_backbone.',
                 backbone_outputs: str = 'last',
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, cls_head=None, modality='video',
                         frozen=frozen, pretrained=pretrained,
                         pretrained_prefix=pretrained_prefix,
                         backbone_outputs=backbone_outputs,
                         data_preprocessor=data_preprocessor,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         init_cfg=init_cfg)
        self.audio_backbone = (MODELS.build(audio_backbone)
                               if audio_backbone else None)
        self.audio_pretrained_prefix = audio_pretrained_prefix
        self.head = MODELS.build(head)
        if frozen and self.audio_backbone is not None:
            for p in self.audio_backbone.parameters():
                p.requires_grad_(False)
            self._set_backbone_eval()

    def init_weights(self) -> None:
        super().init_weights()
        if self.audio_backbone is None:
            return
        if self.pretrained:
            load_backbone_checkpoint(self.audio_backbone, self.pretrained,
                                     self.audio_pretrained_prefix)
        elif self.frozen:
            print_log('AVEventLocalizer: the frozen audio encoder is '
                      'randomly initialised (no `pretrained`)',
                      logger='current', level=logging.WARNING)

    def _set_backbone_eval(self) -> None:
        self.backbone.eval()
        if getattr(self, 'audio_backbone', None) is not None:
            self.audio_backbone.eval()

    # -- features ----------------------------------------------------------
    def _audio_feat(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            with torch.no_grad():
                return global_pool(self.audio_backbone(x))
        return global_pool(self.audio_backbone(x))

    def segment_features(self, inputs: Inputs) -> torch.Tensor:
        """``(B, S, C_v [+ C_a])`` pooled features of every segment."""
        if not isinstance(inputs, dict) or 'video' not in inputs:
            raise KeyError('AVEventLocalizer needs inputs["video"] (the '
                           'segment clips of SampleEventSegments)')
        x, num_seg = self._views(inputs)
        feats = [self._chunked(x, lambda c: global_pool(
            self.extract_feat(c)))]
        if self.audio_backbone is not None:
            audio = inputs.get('audio')
            if not audio or len(audio) != num_seg:
                raise KeyError(
                    f'AVEventLocalizer with an audio encoder needs one audio '
                    f'view per segment ({num_seg}), got '
                    f'{len(audio) if audio else 0}: SampleEventSegments('
                    'audio=True) and DecodeAudioViews')
            a = torch.stack(list(audio), dim=1).flatten(0, 1)
            feats.append(self._chunked(a, self._audio_feat))
        feat = torch.cat(feats, dim=1)
        return feat.reshape(-1, num_seg, feat.shape[-1])

    @staticmethod
    def segment_labels(data_samples: List, device) -> torch.Tensor:
        """``(B, S)`` long labels from the data samples' metainfo."""
        try:
            rows = [list(ds.segment_labels) for ds in data_samples]
        except AttributeError:
            raise KeyError('data samples carry no `segment_labels`: the '
                           'dataset is an AVEDataset and PackAVInputs has '
                           "meta_keys=('segment_labels', )") from None
        return torch.tensor(rows, dtype=torch.long, device=device)

    def forward(self, inputs: Inputs, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """``'loss'`` -> losses, ``'predict'`` -> data samples,
        ``'tensor'`` -> logits ``(B, S, K)``."""
        feat = self.segment_features(inputs)
        if mode == 'loss':
            labels = self.segment_labels(data_samples, feat.device)
            if labels.shape != feat.shape[:2]:
                raise ValueError(f'{labels.shape[1]} segment labels per '
                                 f'video for {feat.shape[1]} segments')
            return self.head.loss(feat, labels)
        logits = self.head(feat)
        if mode == 'tensor':
            return logits
        if mode == 'predict':
            return self._predict(logits, data_samples)
        raise ValueError(f'invalid mode {mode!r}: loss, predict or tensor')

    def _predict(self, logits: torch.Tensor,
                 data_samples: Optional[List]) -> List:
        if data_samples is None:
            from mmavcl.structures import AVDataSample
            data_samples = [AVDataSample() for _ in range(logits.shape[0])]
        scores = logits.softmax(-1)
        for ds, sc in zip(data_samples, scores):
            ds.set_field(sc.detach(), 'pred_segment_scores')
            ds.set_field(sc.argmax(-1).detach(), 'pred_segment_labels')
        return data_samples

    def extra_repr(self) -> str:
        return (f'frozen={self.frozen}, '
                f'audio={self.audio_backbone is not None}')
