"""Per-frame audio-visual similarity maps for sound-source localization.

A frozen audio-visual model (GLCL, AVTSS, the AVC baseline, ...) says where
a sound comes from by comparing its audio embedding with the video features
at every position *before* global pooling. :class:`SoundLocalizer` holds the
pretrained video and audio encoders and their projections (the modules of
the pretraining checkpoint, renamed by ``checkpoint_prefixes``) and returns,
for every clip, one map per frame at the frame size; the
``SoundLocalizationMetric`` scores them against annotated boxes.
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor

from mmavcl.registry import MODELS
from ..data_preprocessors import build_data_preprocessor
from ..necks import ConvMLPNeck, MLPNeck
from ..utils import last_stage
from .recognizer import select_prefix

__all__ = ['SoundLocalizer', 'audio_visual_maps', 'project_map']


def project_map(proj: Optional[nn.Module], fmap: Tensor) -> Tensor:
    """Apply a projection at every position of a dense map.

    ``(B, C, *S) -> (B, D, *S)``. A :class:`ConvMLPNeck` is pointwise
    already; an :class:`MLPNeck`'s linear layers are applied to each
    position's ``C``-vector (its pooling skipped), which is the training
    embedding ``g(mean_p f(p))`` moved inside the mean, ``mean_p g(f(p))``
    (equal for one linear layer; for an MLP with BN, BN in eval mode is a
    per-channel affine map, so every position is projected alike).
    """
    if proj is None:
        return fmap
    if isinstance(proj, ConvMLPNeck):
        return proj(fmap)
    if isinstance(proj, MLPNeck):
        x = fmap.movedim(1, -1)                      # (B, *S, C)
        y = proj.mlp(x.reshape(-1, x.shape[-1]))     # (B * |S|, D)
        return y.reshape(*x.shape[:-1], -1).movedim(-1, 1)
    raise TypeError(f'project_map: {type(proj).__name__} is neither an '
                    'MLPNeck nor a ConvMLPNeck')


def audio_visual_maps(video_feat: Tensor, audio_emb: Tensor,
                      size: Optional[Sequence[int]] = None) -> Tensor:
    r"""Cosine similarity of one audio embedding with every video position.

    .. math::
        S_b(t, y, x) = \frac{\langle V_b(:, t, y, x),\ a_b\rangle}
                            {\lVert V_b(:, t, y, x)\rVert\,
                             \lVert a_b\rVert}

    With a per-step audio embedding ``(B, C, T')`` (one vector per video
    feature step, ``SoundLocalizer(audio_time='local')``), step t of the
    video is compared with :math:`a_b(:, t)`.

    Args:
        video_feat: ``(B, C, T', h, w)`` projected video features.
        audio_emb: ``(B, C)`` projected audio embedding of the same clip,
            or ``(B, C, T')`` one per video feature step.
        size: ``(T, H, W)``: the maps are resized to it (trilinear, not
            aligned at the corners: a feature cell covers its receptive
            field's centre), e.g. the clip's frame count and frame size.

    Returns:
        Tensor: ``(B, T', h, w)`` or ``(B, T, H, W)`` maps in ``[-1, 1]``.
    """
    ok = video_feat.dim() == 5 and audio_emb.dim() in (2, 3) and \
        audio_emb.shape[:2] == video_feat.shape[:2] and \
        audio_emb.shape[2:] in ((), video_feat.shape[2:3])
    if not ok:
        raise ValueError(f'audio_visual_maps needs (B, C, T, h, w) video '
                         f'features and (B, C) or (B, C, T) audio '
                         f'embeddings, got {tuple(video_feat.shape)} and '
                         f'{tuple(audio_emb.shape)}')
    eq = 'bcthw,bc->bthw' if audio_emb.dim() == 2 else 'bcthw,bct->bthw'
    maps = torch.einsum(eq, F.normalize(video_feat, dim=1),
                        F.normalize(audio_emb, dim=1))
    if size is not None:
        maps = F.interpolate(maps[:, None], size=tuple(size),
                             mode='trilinear', align_corners=False)[:, 0]
    return maps


@MODELS.register_module()
class SoundLocalizer(BaseModel):
    """Audio-visual similarity maps of a frozen pretrained model.

    For clip ``v`` ``(B, 3, T, H, W)`` and its audio ``a`` ``(B, 1, F,
    Ta)``:

    * video features ``V = project_map(video_proj, f_v(v))`` ``(B, D, T',
      h, w)`` (``video_stage`` picks the map of a multi-output backbone:
      ``0`` is GLCL's slow pathway, the one its global loss compares with
      the audio);
    * audio embedding ``a = audio_proj(f_a(a))`` pooled to ``(B, D)``: an
      :class:`MLPNeck` pools then projects (the training embedding); any
      other projection (GLCL's 1x1 ``ConvMLPNeck`` over the audio
      sequence, frequency averaged first) projects, then averages;
    * :func:`audio_visual_maps` ``(B, T, H, W)``: cosine maps, resized to
      the clip's frames.

    ``audio_time='local'`` keeps the audio's time axis instead: the
    projected sequence ``(B, D, Ta')`` is averaged over the steps of each
    video feature step t (``adaptive_avg_pool1d`` to ``T'``: the window
    ``[t r, (t + 1) r)`` for ``Ta' = r T'``, GLCL's local bags), and frame
    t is compared with its own sound; e.g. GLCL's local features
    (``video_stage=1``, ``video_proj='fast_proj.'``,
    ``audio_proj='audio_local_proj.'``).

    ``predict`` stores ``heatmaps`` ``(V, T, H, W)`` float32 on each data
    sample, view ``i`` paired with audio view ``i``.

    Args:
        backbone, audio_backbone: encoders of the pretraining config.
        video_proj, audio_proj: their projections (``None``: none).
        video_stage: which map of a tuple-returning video backbone.
        audio_time: ``'clip'`` (one audio embedding per clip) or
            ``'local'`` (one per video feature step, see above; needs a
            pointwise ``audio_proj``, not an ``MLPNeck``).
        checkpoint_prefixes: ``{own module: prefix in the checkpoint}``, e.g.
            ``dict(video_proj='slow_proj.', audio_proj='audio_global_proj.')``
            for GLCL, ``dict(video_proj='neck.', audio_proj='audio_neck.')``
            for AVTSS / AVC; unlisted modules keep their own names.
            Checkpoints loaded into this model (``tools/test.py``'s
            ``load_from``) are renamed accordingly and must hold every key:
            a missing one is a ``KeyError`` naming it, not a random module.
        data_preprocessor: ``AVDataPreprocessor`` with the pretraining's
            ``audio_cfg``.
    """

    def __init__(self,
                 backbone: dict,
                 audio_backbone: dict,
                 video_proj: Optional[dict] = None,
                 audio_proj: Optional[dict] = None,
                 video_stage: int = -1,
                 audio_time: str = 'clip',
                 checkpoint_prefixes: Optional[Dict[str, str]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=build_data_preprocessor(data_preprocessor),
            init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.audio_backbone = MODELS.build(audio_backbone)
        self.video_proj = MODELS.build(video_proj) if video_proj else None
        self.audio_proj = MODELS.build(audio_proj) if audio_proj else None
        self.video_stage = video_stage
        if audio_time not in ('clip', 'local'):
            raise ValueError(f"audio_time must be 'clip' or 'local', got "
                             f'{audio_time!r}')
        if audio_time == 'local' and isinstance(self.audio_proj, MLPNeck):
            raise ValueError("audio_time='local' needs a pointwise "
                             'audio_proj (an MLPNeck pools the time axis)')
        self.audio_time = audio_time
        self.checkpoint_prefixes = dict(checkpoint_prefixes or {})
        unknown = set(self.checkpoint_prefixes) - {
            'backbone', 'audio_backbone', 'video_proj', 'audio_proj'}
        if unknown:
            raise KeyError(f'SoundLocalizer checkpoint_prefixes: unknown '
                           f'module(s) {sorted(unknown)}')
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()
        self._register_load_state_dict_pre_hook(self._rename_checkpoint)

    def _rename_checkpoint(self, state_dict: dict, prefix: str, *args
                           ) -> None:
        """Map the pretraining checkpoint's names onto this model's."""
        if prefix:  # only when this model is the root being loaded
            return
        own = self.state_dict()
        if all(k in state_dict for k in own):
            return  # already this model's layout
        renamed = {}
        for module in {k.split('.', 1)[0] for k in own}:
            picked, _ = select_prefix(
                state_dict,
                self.checkpoint_prefixes.get(module, module + '.'))
            renamed.update({f'{module}.{k}': v for k, v in picked.items()
                            if f'{module}.{k}' in own})
        missing = [k for k in own if k not in renamed]
        if missing:
            heads = sorted({k.split('.')[0] for k in state_dict})[:10]
            raise KeyError(
                f'SoundLocalizer: the checkpoint lacks {len(missing)} key(s) '
                f'(after renaming {self.checkpoint_prefixes}), e.g. '
                f'{missing[:4]}; its top-level names are {heads}')
        print_log(f'SoundLocalizer: {len(renamed)} tensors from the '
                  f'checkpoint ({len(state_dict) - len(renamed)} of its keys '
                  'unused)',
                  logger='current')
        state_dict.clear()
        state_dict.update(renamed)

    def train(self, mode: bool = True) -> 'SoundLocalizer':
        # a frozen evaluator: BN always uses the pretrained statistics
        return super().train(False)

    # -- features ------------------------------------------------------------
    def video_features(self, video: Tensor) -> Tensor:
        """``(B, 3, T, H, W) -> (B, D, T', h, w)`` projected features."""
        feat = self.backbone(video)
        if isinstance(feat, (tuple, list)):
            feat = feat[self.video_stage]
        if feat.dim() != 5:
            raise ValueError(f'SoundLocalizer needs a (B, C, T, h, w) video '
                             f'map, got {tuple(feat.shape)}')
        return project_map(self.video_proj, feat)

    def audio_embedding(self, audio: Tensor,
                        steps: Optional[int] = None) -> Tensor:
        """``(B, 1, F, Ta) -> (B, D)`` projected clip embedding, or with
        ``audio_time='local'`` ``(B, D, steps)``, the projected sequence
        averaged over ``steps`` equal windows."""
        feat = last_stage(self.audio_backbone(audio))
        if isinstance(self.audio_proj, MLPNeck):
            return self.audio_proj(feat)
        if feat.dim() == 4 and (self.audio_time == 'local' or isinstance(
                self.audio_proj, ConvMLPNeck) and self.audio_proj.ndim == 1):
            feat = feat.mean(dim=2)  # (B, C, F', T') -> (B, C, T')
        feat = project_map(self.audio_proj, feat)
        if self.audio_time == 'local':
            if feat.dim() != 3:
                raise ValueError(f"audio_time='local' needs an audio "
                                 f'sequence, got {tuple(feat.shape)}')
            return F.adaptive_avg_pool1d(feat, steps)
        return feat.flatten(2).mean(dim=2) if feat.dim() > 2 else feat

    def heatmaps(self, video: Tensor, audio: Tensor) -> Tensor:
        """``(B, T, H, W)`` maps of a batch of clips and their audio."""
        feat = self.video_features(video)
        return audio_visual_maps(feat,
                                 self.audio_embedding(audio, feat.shape[2]),
                                 size=video.shape[2:])

    # -- modes ---------------------------------------------------------------
    def forward(self, inputs: Dict[str, Union[Tensor, List[Tensor]]],
                data_samples: Optional[List] = None,
                mode: str = 'predict'):
        """``'predict'``: data samples with ``heatmaps`` ``(V, T, H, W)``;
        ``'tensor'``: the maps ``(B, V, T, H, W)``."""
        if mode == 'loss':
            raise RuntimeError('SoundLocalizer evaluates a frozen model; it '
                               'has no loss')
        for key in ('video', 'audio'):
            if key not in inputs:
                raise KeyError(f'SoundLocalizer needs {key} views; the '
                               f'inputs have {sorted(inputs)} (the test '
                               f'pipeline must decode the clip audio)')
        videos, audios = inputs['video'], inputs['audio']
        videos = [videos] if isinstance(videos, Tensor) else list(videos)
        audios = [audios] if isinstance(audios, Tensor) else list(audios)
        if len(videos) != len(audios):
            raise ValueError(f'SoundLocalizer pairs video view i with audio '
                             f'view i; got {len(videos)} video and '
                             f'{len(audios)} audio views')
        with torch.no_grad():
            maps = torch.stack([self.heatmaps(v, a)
                                for v, a in zip(videos, audios)], dim=1)
        if mode == 'tensor':
            return maps
        if mode != 'predict':
            raise ValueError(f'invalid mode {mode!r}: predict or tensor')
        if data_samples is None:
            from mmavcl.structures import AVDataSample
            data_samples = [AVDataSample() for _ in range(maps.shape[0])]
        for ds, m in zip(data_samples, maps):
            ds.set_field(m.float().cpu(), 'heatmaps')
        return data_samples
