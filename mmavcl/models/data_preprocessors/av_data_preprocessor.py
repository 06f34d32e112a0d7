"""Device-side preprocessing of multi-view audio-visual batches."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures.batching import stack_audio, stack_view
from mmavcl.utils.compat import require
from .video_augment import BatchedVideoAug


@MODELS.register_module()
class AVDataPreprocessor(BaseDataPreprocessor):
    r"""Batch, normalise and augment multi-view video and audio on the device.

    Input (what ``pseudo_collate`` makes of :class:`PackAVInputs` outputs, or
    the stacked form of ``default_collate``)::

        {'inputs': {'video': [[uint8 (C, T, H, W)] * B] * V,
                    'audio': [[float (L,)] * B] * A},
         'data_samples': [AVDataSample] * B}

    (stacked: ``[(B, C, T, H, W)] * V``; audio may be ``(F, T)`` features).

    A plain video batch (``inputs`` = a list of ``(C, T, H, W)`` tensors, or
    one ``(B, C, T, H, W)`` tensor) is taken as a single video view.

    Output::

        {'inputs': {'video': [float (B, C, T, H, W)] * V,
                    'audio': [float (B, 1, F, Ta)] * A},  # or (B, L)
         'data_samples': [AVDataSample] * B}

    Video, per view: uint8 goes to the device first (4x less traffic), then
    :math:`x / 255`; when ``training`` and ``video_aug`` is set, the
    augmentation draws parameters per sample (and anew for each view),
    shared by the frames of a clip: kornia's ``VideoSequential(...,
    same_on_frame=True)`` (``video_aug_impl='kornia'``, the reference) or
    :class:`BatchedVideoAug` (``'batched'``: the same distributions in
    whole-batch tensor operations, ~5x kornia's throughput on the CPU);
    finally :math:`(255 x - \mu) / \sigma`.

    Audio, per view: waveforms ``(B, L)`` become log-mel spectrograms with
    torchaudio (``MelSpectrogram`` power, then
    :math:`10 \log_{10}(\max(S, 10^{-10}))`), clamped **per clip** at
    ``max_clip - top_db`` (torchaudio's ``AmplitudeToDB`` would clamp at the
    max of the whole batch, so a clip's features would depend on the other
    clips). Optional ``audio_norm=(mean, std)`` then SpecAugment masks
    (training only). 2-D per-sample audio ``(F, T)`` is taken as precomputed
    features and skips the log-mel.

    Clip length: an audio view covers its video view's real span, so its
    waveform is longer at 25 fps than at 30 fps, and a batch pads the
    shorter ones with zeros. With ``audio_cfg['num_steps']`` = S, each
    clip's log-mel is cut to its own samples (the ``ceil(L_i / hop)``
    steps whose centres lie in its ``L_i = audio_meta[view]['num_samples']``
    samples, read from the data samples) and its time axis resized to S
    steps with nearest interpolation (``F.interpolate``'s default; GLCL's
    released code cuts the clip's log-mel and resizes it to 96 steps so),
    so step ``j`` of every clip sits at the same fraction ``j / S`` of its
    span: ``S = r * T`` gives each of the clip's T frames exactly r steps.
    That holds where frames are evenly spaced; a variable-frame-rate file
    shows them 20-50 ms apart. So where the audio view records
    ``frame_edges`` (where each of its video view's T frames starts, as a
    fraction of the span; :func:`~mmavcl.datasets.transforms.frame_edges`)
    and they are more than half a log-mel step away from ``t / T``, step
    ``j`` is taken at fraction ``k / (S / T)`` of frame ``t``'s own share
    of the span instead (``j T / S = t + k``, ``0 <= k < 1``), still
    nearest: each frame's r steps are its own audio (GLCL's local bags).
    Constant-rate clips are resized as before.
    Each clip's log-mel (and its dB floor) comes from its own samples only,
    one transform per distinct length in the batch.

    Everything runs in fp32 with autocast disabled, so the output does not
    depend on ``--amp``.

    Args:
        mean (tuple[float]): Per-channel video mean on the 0-255 scale.
            Defaults to ImageNet's ``(123.675, 116.28, 103.53)``.
        std (tuple[float]): Per-channel std, 0-255 scale. Defaults to
            ``(58.395, 57.12, 57.375)``.
        video_aug (list[dict], optional): kornia augmentations by class name
            in ``kornia.augmentation``, e.g. ``[dict(type='ColorJitter',
            brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, p=0.8),
            dict(type='RandomGrayscale', p=0.2)]``. Applied to ``[0, 1]``
            float video during training. Photometric ones are meant: spatial
            crops and flips belong to the CPU pipeline, which records them.
        video_aug_impl (str): ``'kornia'`` (any class of
            ``kornia.augmentation``; the reference) or ``'batched'``
            (:class:`BatchedVideoAug`: ``ColorJitter``, ``RandomGrayscale``,
            ``RandomGaussianBlur``, ``RandomSolarize`` with kornia's
            arguments and distributions, a random jitter order per clip).
            Defaults to ``'kornia'``.
        aug_views (list[int], optional): Video views to augment; None = all.
        audio_cfg (dict, optional): Log-mel settings: ``sample_rate``
            (16000), ``n_fft`` (1024), ``win_length`` (400), ``hop_length``
            (160), ``n_mels`` (128), ``f_min`` (0), ``f_max`` (None),
            ``top_db`` (80; None = no clamp), ``num_steps`` (None: every
            step of the padded batch; an int S: each clip cut to its own
            samples and resized to S steps, see above). None keeps
            waveforms ``(B, L)``. Defaults to ``dict()`` (all defaults).
        audio_norm (tuple[float], optional): ``(mean, std)`` applied to the
            log-mel. Defaults to None.
        spec_augment (dict, optional): ``freq_mask`` (max width in mel bins),
            ``time_mask`` (max width in frames), ``num_masks`` (per axis).
            Each sample gets its own masks; masked cells are set to the clip's
            mean. Training only. Defaults to None.
        non_blocking (bool): Non-blocking host-to-device copies: with the
            loader's ``pin_memory=True`` the copies of a batch overlap the
            work already queued on the GPU. Safe from pageable memory too
            (the copy is then synchronous). Defaults to True (mmengine's
            ``BaseDataPreprocessor``: False).
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 video_aug: Optional[List[Dict]] = None,
                 video_aug_impl: str = 'kornia',
                 aug_views: Optional[Sequence[int]] = None,
                 audio_cfg: Optional[Dict] = dict(),
                 audio_norm: Optional[Tuple[float, float]] = None,
                 spec_augment: Optional[Dict] = None,
                 non_blocking: bool = True) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != len(std):
            raise ValueError(f'mean {tuple(mean)} and std {tuple(std)} need '
                             f'the same length')
        self.register_buffer(
            'mean', torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std', torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1),
            persistent=False)
        self.aug_views = None if aug_views is None else set(aug_views)
        if video_aug_impl not in ('kornia', 'batched'):
            raise ValueError(f'video_aug_impl must be "kornia" or '
                             f'"batched", got {video_aug_impl!r}')
        self.video_aug_impl = video_aug_impl
        self.video_aug = self._build_video_aug(video_aug, video_aug_impl)
        self.audio_cfg = self._audio_defaults(audio_cfg)
        self.audio_norm = audio_norm
        if spec_augment is not None:
            unknown = set(spec_augment) - {'freq_mask', 'time_mask',
                                           'num_masks'}
            if unknown:
                raise ValueError(f'spec_augment: unknown keys '
                                 f'{sorted(unknown)}; use freq_mask, '
                                 f'time_mask, num_masks')
        self.spec_augment = spec_augment
        # A plain dict keeps the mel transform's buffers out of state_dict,
        # so checkpoints do not change after the first audio batch.
        self._mel_cache: Dict[str, nn.Module] = {}

    # ----------------------------------------------------------------- build
    @staticmethod
    def _build_video_aug(cfgs: Optional[List[Dict]],
                         impl: str = 'kornia') -> Optional[nn.Module]:
        if not cfgs:
            return None
        if impl == 'batched':
            return BatchedVideoAug(cfgs)
        K = require('kornia.augmentation', 'augment',
                    'AVDataPreprocessor(video_aug=...)')
        augs = []
        for cfg in cfgs:
            cfg = dict(cfg)
            name = cfg.pop('type', None)
            if name is None or not hasattr(K, name):
                raise ValueError(f'video_aug: {name!r} is not a class of '
                                 f'kornia.augmentation')
            augs.append(getattr(K, name)(**cfg))
        return K.VideoSequential(
            *augs, data_format='BCTHW', same_on_frame=True)

    @staticmethod
    def _audio_defaults(cfg: Optional[Dict]) -> Optional[Dict]:
        if cfg is None:
            return None
        out = dict(sample_rate=16000, n_fft=1024, win_length=400,
                   hop_length=160, n_mels=128, f_min=0.0, f_max=None,
                   top_db=80.0, num_steps=None)
        unknown = set(cfg) - set(out)
        if unknown:
            raise ValueError(f'audio_cfg: unknown keys {sorted(unknown)}; '
                             f'known: {sorted(out)}')
        out.update(cfg)
        steps = out['num_steps']
        if steps is not None and (not isinstance(steps, int) or steps < 1):
            raise ValueError(f'audio_cfg: num_steps must be None or an int '
                             f'>= 1, got {steps!r}')
        return out

    def _mel_transform(self, device: torch.device) -> nn.Module:
        if 'mel' not in self._mel_cache:
            ta = require('torchaudio', 'audio',
                         'AVDataPreprocessor (log-mel spectrograms)')
            c = self.audio_cfg
            self._mel_cache['mel'] = ta.transforms.MelSpectrogram(
                sample_rate=c['sample_rate'],
                n_fft=c['n_fft'],
                win_length=c['win_length'],
                hop_length=c['hop_length'],
                f_min=c['f_min'],
                f_max=c['f_max'],
                n_mels=c['n_mels'],
                power=2.0)
        self._mel_cache['mel'] = self._mel_cache['mel'].to(device)
        return self._mel_cache['mel']

    # ------------------------------------------------------------- compute
    def log_mel(self, wav: Tensor,
                lengths: Optional[Tensor] = None,
                edges: Optional[List[Optional[Tensor]]] = None) -> Tensor:
        """Waveforms ``(B, L)`` -> per-clip clamped log-mel ``(B, 1, F, T)``
        in dB.

        Args:
            wav: ``(B, L)``, clip i's samples first, zeros after.
            lengths: LongTensor ``(B,)`` of each clip's own samples
                ``L_i <= L`` (None: all L). Used with ``num_steps``.
            edges: Per clip, None or ``(T_v + 1,)`` fractions of its span
                where its video frames start (``frame_edges``). Used with
                ``num_steps`` (see the class doc).

        Returns:
            ``(B, 1, F, T)``: T = ``num_steps`` when set (each clip's
            log-mel computed from its own ``L_i`` samples, cut to the
            ``ceil(L_i / hop)`` steps centred inside them and resized,
            nearest), else ``1 + L // hop``.
        """
        steps = self.audio_cfg['num_steps']
        if steps is None:
            return self._db(wav).unsqueeze(1)
        if lengths is None:
            lengths = torch.full((wav.shape[0], ), wav.shape[1])
        lengths = lengths.to(wav.device).clamp(1, wav.shape[1])
        hop = self.audio_cfg['hop_length']
        out = None
        # one transform per clip length (a batch holds a few: one per frame
        # rate), so no clip's steps see the zeros padding it to the batch
        for n in torch.unique(lengths).tolist():
            sel = lengths == n
            db = self._db(wav[sel, :n])[..., :max(1, -(-n // hop))]
            resized = F.interpolate(db, size=steps, mode='nearest')
            for k, b in enumerate(torch.nonzero(sel).flatten().tolist()):
                src = None if edges is None or edges[b] is None else \
                    frame_steps(edges[b], steps, db.shape[-1])
                if src is not None:
                    resized[k] = db[k][:, src.to(db.device)]
            db = resized
            if out is None:
                out = db.new_empty(wav.shape[0], db.shape[1], steps)
            out[sel] = db
        return out.unsqueeze(1)

    def _db(self, wav: Tensor) -> Tensor:
        """``(B, L)`` -> ``(B, F, 1 + L // hop)`` dB, floored per clip at
        its maximum - ``top_db``."""
        spec = self._mel_transform(wav.device)(wav.float())
        db = 10.0 * torch.log10(spec.clamp(min=1e-10))
        top_db = self.audio_cfg['top_db']
        if top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True) - top_db
            db = torch.maximum(db, floor)
        return db

    @staticmethod
    def _audio_metas(data_samples, index: int,
                     batch: int) -> Optional[List[dict]]:
        """Each clip's ``audio_meta[index]`` (``{}`` where a sample has
        none), or None when the data samples are not the batch's."""
        if not data_samples or len(data_samples) != batch:
            return None
        out = []
        for sample in data_samples:
            meta = sample.get('audio_meta', None) if hasattr(
                sample, 'get') else None
            out.append(meta[index] if meta and index < len(meta) else {})
        return out

    @classmethod
    def _audio_lengths(cls, data_samples, index: int, batch: int,
                       length: int) -> Optional[Tensor]:
        """Clip lengths ``(B,)`` of audio view ``index`` from the data
        samples' ``audio_meta[index]['num_samples']``; None when any is
        unknown (every clip then counts as ``length`` samples)."""
        metas = cls._audio_metas(data_samples, index, batch)
        if metas is None or any('num_samples' not in m for m in metas):
            return None
        return torch.tensor([min(int(m['num_samples']), length)
                             for m in metas], dtype=torch.long)

    @classmethod
    def _audio_edges(cls, data_samples, index: int,
                     batch: int) -> Optional[List[Optional[Tensor]]]:
        """Per clip of audio view ``index``, its ``frame_edges`` (from the
        data samples' ``audio_meta``) or None."""
        metas = cls._audio_metas(data_samples, index, batch)
        if metas is None:
            return None
        return [None if m.get('frame_edges') is None else torch.as_tensor(
            m['frame_edges'], dtype=torch.float64) for m in metas]

    @staticmethod
    def _band_masks(batch: int, size: int, max_width: int, num: int,
                    device: torch.device) -> Tensor:
        """``(B, size)`` bool: union of ``num`` random bands of width
        ``U{0..max_width}`` per sample."""
        max_width = min(max_width, size)
        width = torch.randint(0, max_width + 1, (batch, num), device=device)
        start = (torch.rand(batch, num, device=device) *
                 (size - width + 1)).floor().long()
        pos = torch.arange(size, device=device).view(1, 1, -1)
        inside = (pos >= start[..., None]) & (pos < (start + width)[..., None])
        return inside.any(dim=1)

    def _spec_augment(self, x: Tensor) -> Tensor:
        b, _, f, t = x.shape
        num = int(self.spec_augment.get('num_masks', 1))
        mask = torch.zeros(b, f, t, dtype=torch.bool, device=x.device)
        fw = int(self.spec_augment.get('freq_mask', 0))
        tw = int(self.spec_augment.get('time_mask', 0))
        if fw > 0:
            mask |= self._band_masks(b, f, fw, num, x.device)[:, :, None]
        if tw > 0:
            mask |= self._band_masks(b, t, tw, num, x.device)[:, None, :]
        fill = x.mean(dim=(1, 2, 3), keepdim=True).expand_as(x)
        return torch.where(mask[:, None], fill, x)

    def _video_view(self, x: Tensor, index: int, training: bool) -> Tensor:
        if x.dim() != 5 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f'inputs["video"][{index}] must be (B, '
                             f'{self.mean.shape[0]}, T, H, W) after '
                             f'stacking, got {tuple(x.shape)}')
        x = x.to(self.device, non_blocking=self._non_blocking).float()
        x = x / 255.0
        if training and self.video_aug is not None and \
                (self.aug_views is None or index in self.aug_views):
            if isinstance(self.video_aug, BatchedVideoAug):
                # x is this method's own tensor (x / 255 above)
                x = self.video_aug(x, inplace=True)
            else:
                x = self.video_aug(x)
        return (x * 255.0 - self.mean) / self.std

    def _audio_view(self, x: Tensor, index: int, training: bool,
                    data_samples=None) -> Tensor:
        x = x.to(self.device, non_blocking=self._non_blocking).float()
        if x.dim() == 2:            # (B, L) waveforms
            if self.audio_cfg is None:
                return x
            x = self.log_mel(
                x, self._audio_lengths(data_samples, index, x.shape[0],
                                       x.shape[1]),
                self._audio_edges(data_samples, index, x.shape[0]))
        elif x.dim() == 3:          # (B, F, T) precomputed features
            x = x.unsqueeze(1)
        elif x.dim() != 4:
            raise ValueError(f'inputs["audio"][{index}] must be waveforms '
                             f'(B, L), features (B, F, T) or (B, 1, F, T), '
                             f'got {tuple(x.shape)}')
        if self.audio_norm is not None:
            x = (x - self.audio_norm[0]) / self.audio_norm[1]
        if training and self.spec_augment is not None:
            x = self._spec_augment(x)
        return x

    def forward(self, data: dict, training: bool = False) -> dict:
        """
        Args:
            data (dict): ``{'inputs': ..., 'data_samples': ...}`` (above).
            training (bool): Apply the random augmentations.

        Returns:
            dict: ``{'inputs': {'video': [...], 'audio': [...]},
            'data_samples': ...}``.
        """
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError(f'AVDataPreprocessor expects a dict with '
                            f'"inputs", got {type(data).__name__}')
        inputs = data['inputs']
        if isinstance(inputs, Tensor) or (
                isinstance(inputs, (list, tuple)) and inputs
                and isinstance(inputs[0], Tensor)):
            inputs = {'video': [inputs]}
        if not isinstance(inputs, dict):
            raise TypeError(f'data["inputs"] must be a dict with "video" '
                            f'and/or "audio" view lists, got '
                            f'{type(inputs).__name__}')
        unknown = set(inputs) - {'video', 'audio'}
        if unknown:
            raise KeyError(f'data["inputs"] has unknown modalities '
                           f'{sorted(unknown)}; expected "video", "audio"')
        out = {}
        samples = data.get('data_samples', None)
        with torch.autocast(device_type=self.device.type, enabled=False):
            if 'video' in inputs:
                out['video'] = [
                    self._video_view(
                        stack_view(v, 'video', i, self.device,
                                   self._non_blocking), i, training)
                    for i, v in enumerate(inputs['video'])
                ]
            if 'audio' in inputs:
                out['audio'] = [
                    self._audio_view(
                        stack_audio(a, i, self.device, self._non_blocking),
                        i, training, samples)
                    for i, a in enumerate(inputs['audio'])
                ]
        data_samples = data.get('data_samples', None)
        if data_samples is not None:
            data_samples = self.cast_data(data_samples)
        return {'inputs': out, 'data_samples': data_samples}


def frame_steps(edges: Tensor, num_steps: int,
                num_source: int) -> Optional[Tensor]:
    """Source log-mel steps that put each frame's share of output steps on
    its own time on screen, or None where the frames are evenly spaced.

    Output step ``j`` of ``S = num_steps`` sits at video position ``x = j
    T / S`` (frame ``t = floor(x)``, ``k = x - t``), at fraction ``p =
    e[t] + k (e[t + 1] - e[t])`` of the span, and takes source step
    ``floor(p M)`` of ``M = num_source``: nearest resizing, as
    ``F.interpolate`` does it for evenly spaced frames (``p = j / S``).

    Args:
        edges: float ``(T + 1,)`` fractions of the span where the T frames
            start (the last 1).
        num_steps: ``S``.
        num_source: ``M``, log-mel steps of the clip.

    Returns:
        LongTensor ``(S,)``, or None when no edge is half a source step or
        more from ``t / T`` (the uniform resize then stands: a constant
        frame rate's timestamp rounding changes no step).
    """
    e = edges.to(torch.float64).reshape(-1)
    frames = e.numel() - 1
    if frames < 1:
        return None
    even = torch.arange(frames + 1, dtype=torch.float64) / frames
    if float((e - even).abs().max()) < 0.5 / num_source:
        return None
    x = torch.arange(num_steps, dtype=torch.float64) * frames / num_steps
    t = x.floor().long().clamp(max=frames - 1)
    p = e[t] + (x - t) * (e[t + 1] - e[t])
    return (p * num_source).floor().long().clamp(0, num_source - 1)


def build_data_preprocessor(cfg: Optional[Union[Dict, nn.Module]]
                            ) -> nn.Module:
    """The data preprocessor of every mmavcl model: ``AVDataPreprocessor``
    when ``cfg`` is None, a module as given, a dict built from mmavcl's
    registry (mmengine's ``BaseModel`` would look a dict up in its root
    registry, which has no ``AVDataPreprocessor``)."""
    if cfg is None:
        cfg = dict(type='AVDataPreprocessor')
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg
