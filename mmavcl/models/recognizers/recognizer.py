"""Backbone + classification head for downstream evaluation.

One class covers the downstream protocols:

* **fine-tuning**: ``frozen=False``, everything trains;
* **linear probe**: ``frozen=True``; the backbone has no gradients and its
  BatchNorm layers keep their pretrained statistics (eval mode even while
  the runner calls ``model.train()``);
* **feature extraction**: ``cls_head=None``; ``predict`` returns pooled
  features per view (``features`` ``(V, C)``) for retrieval / kNN.

Pretrained weights come from ``pretrained=PATH`` (any checkpoint with
``<pretrained_prefix>``-prefixed backbone keys: an mmavcl pretraining
checkpoint, an exported file, or bare backbone weights), loaded with
``weights_only`` and checked: a backbone key missing from the file is an
error, because a linear probe on a half-random backbone fails silently.
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel

from mmavcl.registry import MODELS
from ..data_preprocessors import build_data_preprocessor
from ..utils import global_pool, last_stage

Inputs = Union[Dict[str, Union[torch.Tensor, List[torch.Tensor]]],
               List[torch.Tensor], torch.Tensor]

__all__ = ['AVRecognizer', 'load_backbone_checkpoint', 'select_prefix']


def select_prefix(state_dict: Dict[str, torch.Tensor], prefix: str,
                  target_keys: Optional[Sequence[str]] = None
                  ) -> Tuple[Dict[str, torch.Tensor], str]:
    """Keys under ``prefix`` with the prefix removed.

    When nothing starts with ``prefix`` but the keys already match
    ``target_keys`` (a bare backbone file), the state dict is used as is.
    A leading ``module.`` (DDP) is ignored. Returns the selection and the
    prefix actually used.
    """
    sd = {(k[7:] if k.startswith('module.') else k): v
          for k, v in state_dict.items()}
    picked = {k[len(prefix):]: v for k, v in sd.items()
              if k.startswith(prefix)}
    if picked or not prefix:
        return picked, prefix
    if target_keys is not None and set(sd) & set(target_keys):
        return sd, ''
    return {}, prefix


def load_backbone_checkpoint(backbone: nn.Module, filename: str,
                             prefix: str = 'backbone.',
                             map_location: str = 'cpu') -> Dict[str, list]:
    """Load backbone weights from ``filename`` (``weights_only``).

    Args:
        backbone: The module to fill.
        filename: Checkpoint path; ``state_dict`` wrappers are unwrapped.
        prefix: Key prefix of the backbone inside the file (``backbone.``,
            ``audio_backbone.``, or ``''`` for bare weights).

    Returns:
        ``{'loaded': [...], 'unexpected': [...]}`` key lists.

    Raises:
        KeyError: no key under ``prefix``, or backbone keys missing.
    """
    from mmavcl.utils.checkpoint import safe_torch_load
    ckpt = safe_torch_load(filename, map_location=map_location)
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise TypeError(f'{filename}: expected a state dict, got '
                        f'{type(ckpt).__name__}')
    own = backbone.state_dict()
    picked, used = select_prefix(sd, prefix, list(own))
    if not picked:
        heads = sorted({k.split('.')[0] for k in sd})[:10]
        raise KeyError(f'{filename}: no key starts with {prefix!r}; its '
                       f'top-level names are {heads}. Set the prefix of the '
                       'backbone inside this file (e.g. audio_backbone.).')
    missing = [k for k in own if k not in picked]
    if missing:
        raise KeyError(
            f'{filename}: {len(missing)} backbone key(s) missing under '
            f'{used!r}, e.g. {missing[:5]}: the checkpoint belongs to a '
            'different backbone architecture')
    unexpected = [k for k in picked if k not in own]
    backbone.load_state_dict({k: picked[k] for k in own}, strict=True)
    print_log(f'loaded {len(own)} backbone tensors from {filename} '
              f'(prefix {used!r}); ignored {len(unexpected)} unexpected '
              f'key(s){": " + str(unexpected[:5]) if unexpected else ""}',
              logger='current')
    return dict(loaded=list(own), unexpected=unexpected)


@MODELS.register_module()
class AVRecognizer(BaseModel):
    """Backbone + :class:`ClsHead` for one modality, with multi-view tests.

    Input of :meth:`forward`: ``inputs[modality]`` is a list of ``V`` view
    tensors, each ``(B, C, T, H, W)`` (video) or ``(B, 1, F, T)`` (audio
    log-mel), or a single tensor (one view). The ``V`` views are flattened
    to ``B * V`` samples and passed through the backbone in chunks of at
    most ``test_cfg['max_testing_views']`` (to bound memory when testing
    ``10 clips x 3 crops``); the head then averages each sample's views.

    Args:
        backbone: Backbone config.
        cls_head: :class:`ClsHead` config, or ``None`` for a feature
            extractor.
        modality: ``'video'`` or ``'audio'``: which input the backbone reads.
        frozen: Linear probe: no backbone gradients, BN in eval mode.
        pretrained: Checkpoint with the pretrained backbone.
        pretrained_prefix: Backbone key prefix in ``pretrained``.
        backbone_outputs: A backbone that returns a tuple of maps:
            ``'last'`` uses the last one (stages); ``'concat'`` averages
            each over its non-channel axes and concatenates them, ``(N,
            C_1 + C_2 + ...)`` (two-pathway backbones: slow + fast).
        data_preprocessor: Defaults to ``AVDataPreprocessor``.
        test_cfg: ``max_testing_views`` (int or None),
            ``keep_clip_scores`` (default True: per-view scores for the
            clip-level accuracy), ``keep_features`` (default: True without a
            head).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 cls_head: Optional[dict] = None,
                 modality: str = 'video',
                 frozen: bool = False,
                 pretrained: Optional[str] = None,
                 pretrained_prefix: str = 'backbone.',
                 backbone_outputs: str = 'last',
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=build_data_preprocessor(data_preprocessor),
            init_cfg=init_cfg)
        if modality not in ('video', 'audio'):
            raise ValueError(f"modality must be 'video' or 'audio', got "
                             f'{modality!r}')
        self.modality = modality
        if backbone_outputs not in ('last', 'concat'):
            raise ValueError("backbone_outputs must be 'last' or 'concat', "
                             f'got {backbone_outputs!r}')
        self.backbone_outputs = backbone_outputs
        self.backbone = MODELS.build(backbone)
        self.cls_head = MODELS.build(cls_head) if cls_head else None
        self.frozen = frozen
        self.pretrained = pretrained
        self.pretrained_prefix = pretrained_prefix
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        max_views = self.test_cfg.get('max_testing_views')
        if max_views is not None and max_views < 1:
            raise ValueError(f'max_testing_views must be >= 1, got '
                             f'{max_views}')
        if frozen:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
            self._set_backbone_eval()

    # -- weights -----------------------------------------------------------
    def init_weights(self) -> None:
        super().init_weights()
        if self.pretrained:
            load_backbone_checkpoint(self.backbone, self.pretrained,
                                     self.pretrained_prefix)
        elif self.frozen:
            print_log('AVRecognizer(frozen=True) without `pretrained`: the '
                      'linear probe runs on a randomly initialised backbone',
                      logger='current', level=logging.WARNING)

    def _set_backbone_eval(self) -> None:
        self.backbone.eval()

    def train(self, mode: bool = True) -> 'AVRecognizer':
        super().train(mode)
        if self.frozen:
            # BN statistics are part of the pretrained representation
            self._set_backbone_eval()
        return self

    # -- forward -----------------------------------------------------------
    def _views(self, inputs: Inputs) -> Tuple[torch.Tensor, int]:
        """Flatten ``(B, ...)`` views into ``(B * V, ...)``, views of a
        sample consecutive."""
        if isinstance(inputs, dict):
            if self.modality not in inputs:
                raise KeyError(
                    f'AVRecognizer(modality={self.modality!r}) got inputs '
                    f'with keys {sorted(inputs)}: the pipeline must produce '
                    f'{self.modality} views')
            inputs = inputs[self.modality]
        if isinstance(inputs, torch.Tensor):
            return inputs, 1
        views = list(inputs)
        if not views:
            raise ValueError('AVRecognizer got an empty list of views')
        x = torch.stack(views, dim=1)
        return x.flatten(0, 1), len(views)

    def extract_feat(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone map ``(N, C, ...)`` of ``(N, ...)`` inputs, or pooled
        ``(N, C)`` features for ``backbone_outputs='concat'``."""
        if self.frozen:
            with torch.no_grad():
                feat = self.backbone(x)
        else:
            feat = self.backbone(x)
        if self.backbone_outputs == 'last' or \
                not isinstance(feat, (tuple, list)):
            return last_stage(feat)
        return torch.cat([global_pool(f) for f in feat], dim=1)

    def _chunked(self, x: torch.Tensor, fn) -> torch.Tensor:
        size = self.test_cfg.get('max_testing_views') or x.shape[0]
        return torch.cat([fn(c) for c in torch.split(x, size)])

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C)`` globally averaged backbone features."""
        if self.cls_head is not None:
            return self.cls_head.pre_logits(self.extract_feat(x))
        return global_pool(self.extract_feat(x))

    def forward(self, inputs: Inputs, data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """``'loss'`` -> dict of losses, ``'predict'`` -> data samples,
        ``'tensor'`` -> logits ``(B * V, num_classes)`` (or pooled features
        ``(B * V, C)`` without a head)."""
        x, num_views = self._views(inputs)
        if mode == 'loss':
            if self.cls_head is None:
                raise RuntimeError('AVRecognizer without cls_head cannot '
                                   'train: it is a feature extractor')
            return self.cls_head.loss(self.extract_feat(x), data_samples)
        if mode == 'predict':
            return self.predict(x, num_views, data_samples)
        if mode == 'tensor':
            if self.cls_head is None:
                return self._chunked(x, self.pooled_features)
            return self._chunked(x, lambda c: self.cls_head(
                self.extract_feat(c)))
        raise ValueError(f'invalid mode {mode!r}: loss, predict or tensor')

    def predict(self, x: torch.Tensor, num_views: int,
                data_samples: Optional[List]) -> List:
        if data_samples is None:
            from mmavcl.structures import AVDataSample
            data_samples = [
                AVDataSample() for _ in range(x.shape[0] // num_views)
            ]
        keep_feats = self.test_cfg.get('keep_features',
                                       self.cls_head is None)
        feats = self._chunked(x, self.pooled_features)  # (B * V, C)
        if keep_feats:
            per_view = feats.reshape(-1, num_views, feats.shape[-1])
            for ds, f in zip(data_samples, per_view):
                ds.set_field(f.detach(), 'features')
        if self.cls_head is not None:
            self.cls_head.predict(
                feats, data_samples, num_views,
                keep_clip_scores=self.test_cfg.get('keep_clip_scores', True))
        return data_samples
