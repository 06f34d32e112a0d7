"""View samplers: decide every view of a sample without decoding anything.

A sampler reads ``total_frames`` and ``fps`` (from :class:`VideoInit`) and
writes

* ``video_views``: list of dicts, one per video view, each with
  ``frame_inds`` (int64 ``(T,)``, source frame indices in the view's
  playback order), ``time_span`` ``(t0, t1)`` seconds of source covered,
  ``speed`` (frame-skip factor, 1 = normal), ``reversed`` (bool) and
  ``view_type`` (``'clip'``, ``'global'``, ``'local'``, ``'segment'`` or
  ``'frame'``), plus sampler-specific keys documented per class;
* ``audio_views``: list of dicts with ``time_span``, ``speed``,
  ``reversed``, ``view_type`` and ``video_view`` (index of the video view it
  follows, or -1);
* ``pretext_labels``: dict of int labels.

Time spans are nominal: a view starting at frame ``s`` with ``T`` frames
``d`` apart covers ``[s / fps, (s + T * d) / fps)``, even when the video is
too short and the indices were clamped (``out_of_bound``), so that its audio
has the same length for every sample; the audio decoder pads and flags the
part past the end.

Randomness comes from NumPy's global generator, which mmengine seeds per
dataloader worker.
"""
import itertools
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmavcl.registry import TRANSFORMS

__all__ = [
    'BaseViewSampler', 'SampleClips', 'SampleSegments', 'SampleGlobalLocal',
    'SampleTemporalPairs', 'SampleAudioClips', 'temporal_relation',
    'ORDER_BEFORE', 'ORDER_AFTER', 'ORDER_OVERLAP'
]

ORDER_BEFORE, ORDER_AFTER, ORDER_OVERLAP = 0, 1, 2


def temporal_relation(a: Tuple[float, float], b: Tuple[float, float]) -> int:
    """Order label of span ``a`` relative to span ``b``.

    Returns ``ORDER_BEFORE`` (0) when ``a`` ends no later than ``b`` starts,
    ``ORDER_AFTER`` (1) when ``b`` ends no later than ``a`` starts, else
    ``ORDER_OVERLAP`` (2).
    """
    if a[1] <= b[0] + 1e-9:
        return ORDER_BEFORE
    if b[1] <= a[0] + 1e-9:
        return ORDER_AFTER
    return ORDER_OVERLAP


class BaseViewSampler(BaseTransform):
    """Shared helpers of the view samplers.

    Args:
        audio: Which video views get an aligned audio view: ``False`` (none),
            ``True`` (all), or a list of video-view indices.
        out_of_bound: Indices past the last frame: ``'repeat_last'`` (clamp)
            or ``'loop'`` (wrap around, like MMAction2's default).
    """

    def __init__(self,
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        if out_of_bound not in ('repeat_last', 'loop'):
            raise ValueError("out_of_bound must be 'repeat_last' or 'loop'")
        self.audio = audio
        self.out_of_bound = out_of_bound

    def _inds(self, start: int, clip_len: int, step: int,
              total: int) -> np.ndarray:
        inds = start + np.arange(clip_len, dtype=np.int64) * step
        if self.out_of_bound == 'loop':
            return inds % total
        return np.clip(inds, 0, total - 1)

    def _clip_view(self,
                   start: int,
                   clip_len: int,
                   step: int,
                   total: int,
                   fps: float,
                   view_type: str = 'clip',
                   speed: int = 1,
                   reverse: bool = False,
                   **extra) -> dict:
        """A view of ``clip_len`` frames ``step`` apart from ``start``."""
        inds = self._inds(start, clip_len, step, total)
        if reverse:
            inds = inds[::-1].copy()
        view = dict(
            frame_inds=inds,
            time_span=(start / fps, (start + clip_len * step) / fps),
            speed=int(speed),
            reversed=bool(reverse),
            view_type=view_type)
        view.update(extra)
        return view

    def _audio_views(self, video_views: List[dict]) -> List[dict]:
        if self.audio is False or self.audio is None:
            return []
        idx = range(len(video_views)) if self.audio is True else self.audio
        return [
            dict(
                time_span=tuple(video_views[i]['time_span']),
                speed=video_views[i].get('speed', 1),
                reversed=video_views[i].get('reversed', False),
                view_type=video_views[i]['view_type'],
                video_view=int(i)) for i in idx
        ]

    @staticmethod
    def _meta(results: Dict) -> Tuple[int, float]:
        total = int(results['total_frames'])
        fps = float(results['fps'])
        if total <= 0 or fps <= 0:
            raise ValueError(f'{results.get("filename")}: total_frames='
                             f'{total}, fps={fps}')
        return total, fps

    def _write(self, results: Dict, views: List[dict],
               labels: Optional[Dict[str, int]] = None,
               audio_views: Optional[List[dict]] = None) -> Dict:
        results['video_views'] = views
        results['audio_views'] = (
            self._audio_views(views) if audio_views is None else audio_views)
        pretext = dict(results.get('pretext_labels', {}))
        pretext.update(labels or {})
        results['pretext_labels'] = pretext
        return results


@TRANSFORMS.register_module()
class SampleClips(BaseViewSampler):
    """``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart.

    Modes (where each clip starts, ``span = clip_len * frame_interval``):

    * ``'random'``: independently uniform in ``[0, total - span]`` (MoCo /
      SimCLR-style positive pairs, linear-probe training).
    * ``'uniform'``: MMAction2's test sampling: the video is cut into
      ``num_clips`` equal parts and each clip is centred in its part.
    * ``'linspace'``: starts at ``linspace(0, total - span, num_clips)``
      (clip centres at ``linspace(span/2, total - span/2)``: the Xu et al.
      retrieval protocol with 10 x 16 frames).
    * ``'fixed'``: every clip starts at ``start_frame`` (GLCL's demo).

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views`` (``view_type`` from the argument, plus
    ``clip_index``), ``audio_views``, ``pretext_labels``.

    Args:
        clip_len: Frames per clip T.
        frame_interval: Source frames between consecutive sampled frames.
        num_clips: Number of clips (views).
        mode: ``'random'``, ``'uniform'``, ``'linspace'`` or ``'fixed'``.
        start_frame: Start for ``mode='fixed'``.
        view_type: Recorded in each view.
        audio: See :class:`BaseViewSampler`.
        out_of_bound: See :class:`BaseViewSampler`.
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 num_clips: int = 1,
                 mode: str = 'random',
                 start_frame: int = 0,
                 view_type: str = 'clip',
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(audio, out_of_bound)
        if mode not in ('random', 'uniform', 'linspace', 'fixed'):
            raise ValueError(f'unknown mode {mode!r}')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.mode = mode
        self.start_frame = start_frame
        self.view_type = view_type

    def _starts(self, total: int) -> np.ndarray:
        span = self.clip_len * self.frame_interval
        room = max(total - span, 0)
        n = self.num_clips
        if self.mode == 'random':
            return np.random.randint(0, room + 1, size=n)
        if self.mode == 'uniform':
            avg = (total - span + 1) / n
            if avg <= 0:
                return np.zeros(n, np.int64)
            return (np.arange(n) * avg + avg / 2.0).astype(np.int64)
        if self.mode == 'linspace':
            return np.round(np.linspace(0, room, n)).astype(np.int64)
        return np.full(n, min(self.start_frame, max(total - 1, 0)))

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        views = [
            self._clip_view(
                int(s),
                self.clip_len,
                self.frame_interval,
                total,
                fps,
                self.view_type,
                clip_index=i) for i, s in enumerate(self._starts(total))
        ]
        return self._write(results, views)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'num_clips={self.num_clips}, mode={self.mode!r})')


def _shuffle_perm(k: int) -> np.ndarray:
    """A random permutation of ``range(k)`` that is neither the identity nor
    the reversal (VCLR's order-shuffle)."""
    if k < 3:
        raise ValueError('an order shuffle that is neither identity nor '
                         f'reversal needs >= 3 segments, got {k}')
    ident = np.arange(k)
    while True:
        perm = np.random.permutation(k)
        if not (np.array_equal(perm, ident)
                or np.array_equal(perm, ident[::-1])):
            return perm


@TRANSFORMS.register_module()
class SampleSegments(BaseViewSampler):
    """VCLR segment sampling: a query and a key tuple, one item per segment.

    The first ``num_frames`` frames (default: all; VCLR forces 300, with
    shorter videos repeating their last frame) are split into ``K =
    num_segments`` equal chunks, the last taking the remainder. In each chunk
    two distinct starts are drawn; the first feeds the key tuple ``T_k``, the
    second the query tuple ``T_q``. An item is one frame (``clip_len=1``,
    VCLR's code) or a short clip.

    Order labels: ``s_q, s_k ~ Bernoulli(shuffle_prob)``; a set flag permutes
    that tuple with a random permutation that is neither identity nor
    reversal. ``order = s_q + 2 * s_k`` (4 classes).

    Views, in this order:

    1. with ``anchor_views=True`` (SeCo/VCLR intra/inter terms), ``r`` in
       {first, last segment} uniformly: ``anchor`` = ``T_q[r]``,
       ``anchor_pos`` = the same frames again (a fresh augmentation), then
       ``intra_pos`` = the other ``K - 1`` items of ``T_q`` in time order;
    2. ``T_q`` (``role='query'``), in the possibly shuffled order;
    3. ``T_k`` (``role='key'``), likewise.

    So ``2 + (K - 1) + 2K`` views with anchors (10 for K = 3), else ``2K``.
    The union of their frames is only ``2K`` items, decoded once.

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views`` (each with ``role`` and ``segment``),
    ``audio_views``, ``pretext_labels``: ``order`` (0-3), ``order_q``,
    ``order_k``, ``anchor_segment``.

    Args:
        num_segments: K (>= 3 for the order shuffle).
        clip_len: Frames per item (1 = frames).
        frame_interval: Frame step inside an item.
        num_frames: Treat the video as this many frames (truncate / repeat
            last), or ``None``.
        shuffle_prob: Probability of shuffling each tuple.
        anchor_views: Emit the anchor / anchor_pos / intra_pos views.
        audio: See :class:`BaseViewSampler`.
    """

    def __init__(self,
                 num_segments: int = 3,
                 clip_len: int = 1,
                 frame_interval: int = 1,
                 num_frames: Optional[int] = None,
                 shuffle_prob: float = 0.5,
                 anchor_views: bool = True,
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(audio, out_of_bound)
        if num_segments < 3 and shuffle_prob > 0:
            raise ValueError('order shuffling needs num_segments >= 3')
        self.num_segments = num_segments
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_frames = num_frames
        self.shuffle_prob = shuffle_prob
        self.anchor_views = anchor_views

    def _two_starts(self, lo: int, hi: int) -> Tuple[int, int]:
        span = self.clip_len * self.frame_interval
        room = max(hi - span, lo)  # last valid start inside the segment
        choices = np.arange(lo, room + 1)
        if len(choices) >= 2:
            a, b = np.random.choice(choices, 2, replace=False)
        else:
            a = b = lo
        return int(a), int(b)

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        n = self.num_frames or total
        k = self.num_segments
        size = n // k
        if size < 1:
            size = 1
        bounds = [(i * size, (i + 1) * size if i < k - 1 else max(n, k))
                  for i in range(k)]
        vtype = 'frame' if self.clip_len == 1 else 'segment'
        # a frame index >= the real count repeats the last frame (VCLR's
        # padding of short videos); truncation is implied by n < total
        eff_total = min(total, n) if self.num_frames else total

        def item(start: int, seg: int, role: str) -> dict:
            return self._clip_view(
                start,
                self.clip_len,
                self.frame_interval,
                eff_total,
                fps,
                vtype,
                role=role,
                segment=seg)

        key_starts, query_starts = zip(*(self._two_starts(lo, hi)
                                         for lo, hi in bounds))
        s_q = int(np.random.rand() < self.shuffle_prob)
        s_k = int(np.random.rand() < self.shuffle_prob)
        perm_q = _shuffle_perm(k) if s_q else np.arange(k)
        perm_k = _shuffle_perm(k) if s_k else np.arange(k)
        r = int(np.random.choice([0, k - 1]))
        views = []
        if self.anchor_views:
            views.append(item(query_starts[r], r, 'anchor'))
            views.append(item(query_starts[r], r, 'anchor_pos'))
            views += [
                item(query_starts[i], i, 'intra_pos') for i in range(k)
                if i != r
            ]
        views += [item(query_starts[i], int(i), 'query') for i in perm_q]
        views += [item(key_starts[i], int(i), 'key') for i in perm_k]
        labels = dict(
            order=s_q + 2 * s_k, order_q=s_q, order_k=s_k, anchor_segment=r)
        return self._write(results, views, labels)


@TRANSFORMS.register_module()
class SampleGlobalLocal(BaseViewSampler):
    """A global view of the video and local clips with controlled overlap.

    Global view: ``global_len`` frames spread over a window covering a
    fraction ``global_span`` (drawn from the given range) of the video at a
    random position (1.0 = the whole video): one frame per equal part, at the
    part's centre (``global_mode='uniform'``) or at a random position in it
    (``'random'``).

    Local clips: ``num_local`` clips of ``local_len`` consecutive frames with
    an interval drawn from ``local_interval``, inside the global window when
    ``local_in_global``. Placement: independent uniform positions (sorted by
    time) when ``local_overlap`` is ``None``; otherwise chained: the
    overlap of clip ``i + 1`` with clip ``i`` is drawn from ``local_overlap
    = (lo, hi)`` as a fraction of a clip's span (negative = a gap of that
    fraction), and the chain is placed uniformly in the window.

    Views: the global view first (``view_type='global'``), then the local
    clips (``view_type='local'``, ``local_index`` = rank in time). With
    ``shuffle_local`` the local clips are emitted in a random order and
    ``lg_order`` is that permutation's index in
    ``itertools.permutations(range(num_local))`` (``num_local!`` classes).
    ``lg_bin`` is the part of the global window (out of ``num_bins``) that
    holds the centre of the first local clip in time.

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views``, ``audio_views``, ``pretext_labels``
    (``lg_bin``, and ``lg_order`` when ``shuffle_local``).
    """

    def __init__(self,
                 global_len: int = 16,
                 global_mode: str = 'uniform',
                 global_span: Union[float, Tuple[float, float]] = 1.0,
                 num_local: int = 1,
                 local_len: int = 16,
                 local_interval: Union[int, Sequence[int]] = 1,
                 local_overlap: Optional[Tuple[float, float]] = None,
                 local_in_global: bool = True,
                 shuffle_local: bool = False,
                 num_bins: int = 4,
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(audio, out_of_bound)
        if global_mode not in ('uniform', 'random'):
            raise ValueError(f'unknown global_mode {global_mode!r}')
        if local_overlap is not None:
            lo, hi = local_overlap
            if not -1 <= lo <= hi < 1:
                raise ValueError('local_overlap must satisfy -1 <= lo <= hi '
                                 f'< 1, got {local_overlap}')
        self.global_len = global_len
        self.global_mode = global_mode
        self.global_span = (global_span, global_span) if isinstance(
            global_span, (int, float)) else tuple(global_span)
        self.num_local = num_local
        self.local_len = local_len
        self.local_interval = [local_interval] if isinstance(
            local_interval, int) else list(local_interval)
        self.local_overlap = local_overlap
        self.local_in_global = local_in_global
        self.shuffle_local = shuffle_local
        self.num_bins = num_bins
        self._perms = list(itertools.permutations(range(num_local)))

    def _local_starts(self, w0: int, w1: int, span: int) -> np.ndarray:
        n = self.num_local
        if self.local_overlap is None:
            room = max(w1 - span, w0)
            return np.sort(np.random.randint(w0, room + 1, size=n))
        ov = np.random.uniform(*self.local_overlap, size=n - 1)
        steps = np.maximum(np.round(span * (1 - ov)).astype(np.int64), 1)
        offsets = np.concatenate([[0], np.cumsum(steps)])
        room = max(w1 - (offsets[-1] + span), w0)
        return np.random.randint(w0, room + 1) + offsets

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        frac = np.random.uniform(*self.global_span)
        glen = max(int(round(frac * total)), 1)
        w0 = int(np.random.randint(0, total - glen + 1))
        w1 = w0 + glen
        edges = np.linspace(w0, w1, self.global_len + 1)
        if self.global_mode == 'uniform':
            g = np.floor((edges[:-1] + edges[1:]) / 2)
        else:
            g = np.floor(edges[:-1] + np.random.rand(self.global_len) *
                         (edges[1:] - edges[:-1]))
        g = np.clip(g.astype(np.int64), 0, total - 1)
        views = [
            dict(
                frame_inds=g,
                time_span=(w0 / fps, w1 / fps),
                speed=1,
                reversed=False,
                view_type='global')
        ]
        interval = int(np.random.choice(self.local_interval))
        span = self.local_len * interval
        lo, hi = (w0, w1) if self.local_in_global else (0, total)
        starts = self._local_starts(lo, hi, span)
        local = [
            self._clip_view(
                int(s),
                self.local_len,
                interval,
                total,
                fps,
                'local',
                local_index=i) for i, s in enumerate(starts)
        ]
        labels = {}
        centre = starts[0] + span / 2.0
        labels['lg_bin'] = int(
            np.clip((centre - w0) / glen * self.num_bins, 0,
                    self.num_bins - 1))
        if self.shuffle_local and self.num_local > 1:
            p = int(np.random.randint(len(self._perms)))
            local = [local[i] for i in self._perms[p]]
            labels['lg_order'] = p
        return self._write(results, views + local, labels)


@TRANSFORMS.register_module()
class SampleTemporalPairs(BaseViewSampler):
    """Clips with random playback speed and direction, and their order.

    Each of ``num_clips`` clips draws a speed ``s`` from ``speeds`` (frame
    skipping: ``clip_len`` frames ``frame_interval * s`` apart, covering
    ``clip_len * frame_interval * s`` source frames) and is reversed with
    probability ``reverse_prob``. For two clips a relation (before / after
    / overlapping) is drawn from ``relation_probs`` and the clips are placed
    to satisfy it when the video is long enough; labels are always computed
    from the final spans (:func:`temporal_relation`).

    Audio views (``audio=True``): one per clip, starting with it.
    ``audio_transform='same'``: the clip's speed and direction;
    ``'independent'``: fresh draws (span ``clip_len * frame_interval *
    s_a / fps``); ``'none'``: speed 1, forward. The decoder time-compresses
    audio by its speed and reverses it.

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views``, ``audio_views``, ``pretext_labels``:
    ``speed_v{i}`` (index into ``speeds``), ``direction_v{i}`` (1 =
    reversed), with audio ``speed_a{i}``, ``direction_a{i}``; for two
    clips ``order_vv`` (v0 vs v1), and with audio ``order_aa`` (a0 vs a1),
    ``order_va`` (v0 vs a1), ``order_av`` (a0 vs v1). Order classes: 0 =
    first before second, 1 = first after second, 2 = overlapping.
    """

    def __init__(self,
                 clip_len: int = 16,
                 frame_interval: int = 1,
                 num_clips: int = 2,
                 speeds: Sequence[int] = (1, 2, 4, 8),
                 speed_probs: Optional[Sequence[float]] = None,
                 reverse_prob: float = 0.5,
                 relation_probs: Optional[Sequence[float]] = (1 / 3, 1 / 3,
                                                              1 / 3),
                 audio: bool = True,
                 audio_transform: str = 'same',
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(False, out_of_bound)
        if audio_transform not in ('same', 'independent', 'none'):
            raise ValueError(f'unknown audio_transform {audio_transform!r}')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.speeds = [int(s) for s in speeds]
        self.speed_probs = speed_probs
        self.reverse_prob = reverse_prob
        self.relation_probs = relation_probs
        self.with_audio = audio
        self.audio_transform = audio_transform

    def _draw(self) -> Tuple[int, bool]:
        k = int(np.random.choice(len(self.speeds), p=self.speed_probs))
        return k, bool(np.random.rand() < self.reverse_prob)

    def _place(self, spans: List[int], total: int) -> List[int]:
        def rand(hi: int) -> int:
            return int(np.random.randint(0, max(hi, 0) + 1))

        if self.num_clips != 2 or self.relation_probs is None:
            return [rand(total - s) for s in spans]
        a, b = spans
        rel = int(np.random.choice(3, p=self.relation_probs))
        if rel in (ORDER_BEFORE, ORDER_AFTER) and a + b <= total:
            first, second = (a, b) if rel == ORDER_BEFORE else (b, a)
            s1 = rand(total - first - second)
            s2 = s1 + first + rand(total - second - s1 - first)
            return [s1, s2] if rel == ORDER_BEFORE else [s2, s1]
        if rel == ORDER_OVERLAP or a + b > total:
            s0 = rand(total - a)
            lo = max(0, s0 - b + 1)
            hi = min(max(total - b, 0), s0 + a - 1)
            if hi >= lo:
                return [s0, int(np.random.randint(lo, hi + 1))]
        return [rand(total - s) for s in spans]

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        draws = [self._draw() for _ in range(self.num_clips)]
        step = [self.frame_interval * self.speeds[k] for k, _ in draws]
        spans = [self.clip_len * d for d in step]
        starts = self._place(spans, total)
        views, labels = [], {}
        for i, ((k, rev), d, s) in enumerate(zip(draws, step, starts)):
            views.append(
                self._clip_view(
                    s,
                    self.clip_len,
                    d,
                    total,
                    fps,
                    'clip',
                    speed=self.speeds[k],
                    reverse=rev,
                    clip_index=i))
            labels[f'speed_v{i}'] = k
            labels[f'direction_v{i}'] = int(rev)
        audio_views = []
        if self.with_audio:
            for i, (s, v) in enumerate(zip(starts, views)):
                if self.audio_transform == 'same':
                    k, rev = draws[i]
                elif self.audio_transform == 'independent':
                    k, rev = self._draw()
                else:  # plain audio: normal speed, forward
                    k = self.speeds.index(1) if 1 in self.speeds else -1
                    rev = False
                speed = self.speeds[k] if k >= 0 else 1
                span = self.clip_len * self.frame_interval * speed
                audio_views.append(
                    dict(
                        time_span=(s / fps, (s + span) / fps),
                        speed=speed,
                        reversed=rev,
                        view_type='clip',
                        video_view=i))
                labels[f'speed_a{i}'] = k
                labels[f'direction_a{i}'] = int(rev)
        if self.num_clips == 2:
            v0, v1 = (v['time_span'] for v in views)
            labels['order_vv'] = temporal_relation(v0, v1)
            if audio_views:
                a0, a1 = (a['time_span'] for a in audio_views)
                labels['order_aa'] = temporal_relation(a0, a1)
                labels['order_va'] = temporal_relation(v0, a1)
                labels['order_av'] = temporal_relation(a0, v1)
        return self._write(results, views, labels, audio_views)


@TRANSFORMS.register_module()
class SampleAudioClips(BaseTransform):
    """Audio-only views: ``num_clips`` windows of ``clip_duration`` seconds.

    Modes as in :class:`SampleClips` (``'random'``, ``'uniform'``,
    ``'linspace'``, ``'fixed'`` at ``start``), on a time axis. A window
    longer than the audio starts at 0 and is padded by the decoder.

    Required keys: ``audio_duration`` (from :class:`AudioInit`).
    Added keys: ``audio_views`` (``time_span``, ``speed`` 1, ``reversed``
    False, ``view_type='clip'``, ``video_view`` -1), ``video_views`` (empty),
    ``pretext_labels``.
    """

    def __init__(self,
                 clip_duration: float,
                 num_clips: int = 1,
                 mode: str = 'random',
                 start: float = 0.0) -> None:
        if mode not in ('random', 'uniform', 'linspace', 'fixed'):
            raise ValueError(f'unknown mode {mode!r}')
        self.clip_duration = clip_duration
        self.num_clips = num_clips
        self.mode = mode
        self.start = start

    def transform(self, results: Dict) -> Dict:
        dur = float(results['audio_duration'])
        room = max(dur - self.clip_duration, 0.0)
        n = self.num_clips
        if self.mode == 'random':
            starts = np.random.uniform(0, room, size=n)
        elif self.mode == 'uniform':
            part = room / n
            starts = np.arange(n) * part + part / 2
        elif self.mode == 'linspace':
            starts = np.linspace(0, room, n)
        else:
            starts = np.full(n, min(self.start, room))
        results['audio_views'] = [
            dict(
                time_span=(float(s), float(s) + self.clip_duration),
                speed=1,
                reversed=False,
                view_type='clip',
                video_view=-1) for s in starts
        ]
        results.setdefault('video_views', [])
        results.setdefault('pretext_labels', {})
        return results
