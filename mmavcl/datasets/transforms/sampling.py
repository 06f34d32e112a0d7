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

Time spans written here are nominal: a view starting at frame ``s`` with
``T`` frames ``d`` apart covers ``[s / fps, (s + T * d) / fps)``, and
records ``frame_period = d / fps``. They are settled after decoding by
:func:`~.spans.resolve_spans` (called by :class:`~.decoding.DecodeVideoViews`
and :class:`~.decoding.DecodeAudioViews`): from the first frame the file
shows for the view to its last one plus ``frame_period``, in seconds from
the file's timestamps; every audio view that follows a video view takes
that span, and the labels named in ``results['span_relations']`` are
recomputed from the final spans. So the audio is cut from where the frames
really are (a variable-frame-rate file, a view clamped at the video's end),
in one place for every sampler.

Randomness comes from NumPy's global generator, which mmengine seeds per
dataloader worker.
"""
import itertools
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmavcl.registry import TRANSFORMS
from .spans import (ORDER_AFTER, ORDER_BEFORE, ORDER_IGNORE, ORDER_OVERLAP,
                    temporal_relation)

__all__ = [
    'BaseViewSampler', 'SampleClips', 'SampleSegments', 'SampleGlobalLocal',
    'SampleTemporalPairs', 'SampleAudioClips', 'SampleEventSegments',
    'temporal_relation',
    'ORDER_BEFORE', 'ORDER_AFTER', 'ORDER_OVERLAP', 'ORDER_IGNORE'
]


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
            # one frame's share of the span: resolve_spans ends the real
            # span this long after the last frame shown
            frame_period=step / fps,
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
               audio_views: Optional[List[dict]] = None,
               relations: Optional[Dict[str, tuple]] = None) -> Dict:
        """Store the views and labels; ``relations`` (label name ->
        ``((modality, index), (modality, index))``) names the labels that
        :func:`~.spans.resolve_spans` recomputes from the decoded spans."""
        results['video_views'] = views
        results['audio_views'] = (
            self._audio_views(views) if audio_views is None else audio_views)
        pretext = dict(results.get('pretext_labels', {}))
        pretext.update(labels or {})
        results['pretext_labels'] = pretext
        results['span_relations'] = dict(relations or {})
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


@TRANSFORMS.register_module()
class SampleSnippets(SampleClips):
    """Every snippet of a video at a fixed stride, for per-snippet features
    (temporal action localization).

    Snippet ``i`` is ``clip_len`` frames ``frame_interval`` apart from frame
    ``i * stride``, for every start with the snippet inside the video
    (``start + span <= total``, ``span = clip_len * frame_interval``): ``N =
    (total - span) // stride + 1`` snippets, and one (frames past the end
    repeating the last) when the video is shorter than a snippet. Their
    number varies per video, so a loader of these views runs with batch
    size 1; memory grows with the video (``N x clip_len`` frames held at
    once: decode at a reduced size, ``VideoInit(decode_short_side=...)``,
    for long videos).

    Each view records ``clip_index`` (= ``i``) and ``snippet_start`` (its
    first frame).

    Args:
        clip_len: Frames per snippet.
        frame_interval: Source frames between a snippet's frames.
        stride: Source frames between snippet starts.
        max_snippets: Refuse (``ValueError`` naming the file) a video that
            would give more snippets; ``None``: no limit.
        view_type: Recorded in each view.
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 stride: int = 16,
                 max_snippets: Optional[int] = None,
                 view_type: str = 'clip') -> None:
        super().__init__(clip_len, frame_interval, num_clips=1,
                         mode='fixed', view_type=view_type)
        if stride < 1:
            raise ValueError(f'stride must be >= 1, got {stride}')
        self.stride = int(stride)
        self.max_snippets = max_snippets

    def _starts(self, total: int) -> np.ndarray:
        span = self.clip_len * self.frame_interval
        return np.arange(0, max(total - span, 0) + 1, self.stride)

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        starts = self._starts(total)
        if self.max_snippets is not None and len(starts) > self.max_snippets:
            raise ValueError(
                f'{results.get("filename")}: {len(starts)} snippets of '
                f'{total} frames at stride {self.stride}, more than '
                f'max_snippets={self.max_snippets}')
        views = [
            self._clip_view(int(s), self.clip_len, self.frame_interval,
                            total, fps, self.view_type, clip_index=i,
                            snippet_start=int(s))
            for i, s in enumerate(starts)
        ]
        return self._write(results, views)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'stride={self.stride})')


#: slots of float error allowed where a frame sits on a slot's half-point
_HALF_TOL = 1e-6


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

    **Timeline.** By default the sampler works on the source's own frame
    indices: the first ``num_frames`` frames (default: all), with indices
    past the last frame repeating it. With ``grid_fps`` (VCLR's paper
    configs: 30) it works instead on the frames VCLR's data preparation
    writes ([CODE tools/data/k400/extract_frames.py]: ``ffmpeg -filter:v
    fps=fps=30``, then exactly 300 frames per video): a grid of
    ``num_frames`` slots ``1 / grid_fps`` s apart. Slot ``j`` shows the
    frame FFmpeg's ``fps`` filter puts there (timestamps rounded to the
    nearest slot, its default): the last source frame whose time ``i / fps``
    is before ``(j + 1/2) / grid_fps`` (:meth:`grid_to_source`). Time counts
    from the file's start, as in the ``ffmpeg`` CLI, which subtracts the
    earliest stream's start from every timestamp and starts its output
    there: a video that starts ``reader.start_lead`` s after its audio has
    its frames that much later on the grid, the slots before it showing its
    first frame (``docs/data_preparation.md``). In a
    variable-frame-rate file (``results['vfr']``) the same rule runs on
    the frames' real presentation times, read from the reader
    (:meth:`grid_to_shown`,
    :meth:`~mmavcl.datasets.media.BaseVideoReader.frame_times`), and the
    views' ``frame_inds`` count the frames the file shows in display order
    (``results['frames_by_order']``, which
    :class:`~.decoding.DecodeVideoViews` passes on to the reader): every
    slot shows the frame FFmpeg's filter puts there, also where two frames
    fall within one ``1 / fps`` of the mean rate. Slots past the video's
    end repeat its last frame, VCLR's padding of short videos.
    So 300 slots are the first 10 s at any source rate, a 60 fps video is
    not cut to 5 s, and a 25 fps video does not clamp half of its third
    segment to the last frame. ``clip_len`` and ``frame_interval`` then
    count grid slots.

    The ``n`` timeline positions are split into ``K = num_segments`` equal
    chunks, the last taking the remainder. In each chunk two distinct starts
    are drawn; the first feeds the key tuple ``T_k``, the second the query
    tuple ``T_q``. An item is one frame (``clip_len=1``, VCLR's code) or a
    short clip.

    Order labels: ``s_q, s_k ~ Bernoulli(shuffle_prob)``; a set flag permutes
    that tuple with a random permutation that is neither identity nor
    reversal. ``order = s_q + 2 * s_k`` (4 classes).

    Views, in this order:

    1. with ``anchor_views=True`` (SeCo/VCLR intra/inter terms), ``r`` in
       {first, last segment} uniformly; the anchor ``a`` is ``T_q[r]``,
       ``a+`` the same frames with a fresh augmentation, ``p_2..p_K`` the
       other items of ``T_q`` in time order:

       * ``reuse_query=False``: ``anchor`` (a), ``anchor_pos`` (a+), then
         ``intra_pos`` (p_2..p_K): ``K + 1`` views augmented independently
         of the query tuple's;
       * ``reuse_query=True`` (VCLR's code, where a, p_2, p_3 *are* tensors
         of the augmented query tuple): only ``anchor_pos`` (a+); the
         algorithm takes a and p_2..p_K from ``T_q``, at the positions in
         the labels ``query_index_anchor`` and ``query_index_p2`` ..
         ``query_index_p{K}`` (indices into the possibly shuffled ``T_q``);
    2. ``T_q`` (``role='query'``), in the possibly shuffled order;
    3. ``T_k`` (``role='key'``), likewise.

    So ``2 + (K - 1) + 2K`` views (10 for K = 3), ``1 + 2K`` with
    ``reuse_query`` (7), or ``2K`` without anchors. The union of their
    frames is only ``2K`` items, decoded once.

    Required keys: ``total_frames``, ``fps``; with ``grid_fps`` on a VFR
    file (``vfr``) also ``video_reader`` (wherever present it gives the
    grid its lead; without one the grid starts at the first frame).
    Added keys: ``frames_by_order`` (True: see above), ``video_views``
    (each with ``role``, ``segment``, and with
    ``grid_fps`` also ``grid_slots``: int64 ``(clip_len,)`` slot indices),
    ``audio_views``, ``pretext_labels``: ``order`` (0-3), ``order_q``,
    ``order_k``, ``anchor_segment`` and, with ``reuse_query``,
    ``query_index_anchor``, ``query_index_p2`` .. ``query_index_p{K}``.
    View ``time_span`` is nominal on the timeline (slot / ``grid_fps``).

    Args:
        num_segments: K (>= 3 for the order shuffle).
        clip_len: Frames per item (1 = frames).
        frame_interval: Step between an item's frames (frames or slots).
        num_frames: Length of the timeline: frames (truncate / repeat the
            last), or grid slots with ``grid_fps`` (default there: the
            file's start to the video's end on the grid). ``None`` = all
            frames.
        grid_fps: Sample on a grid of this rate (VCLR: 30), see above;
            ``None`` samples native frame indices.
        shuffle_prob: Probability of shuffling each tuple.
        anchor_views: Emit the anchor views.
        reuse_query: Let ``a`` and ``p_2..p_K`` be the query tuple's views
            (needs ``anchor_views``); the algorithm must expect it
            (``VCLR(reuse_query_views=True)``).
        audio: See :class:`BaseViewSampler`.
        out_of_bound: See :class:`BaseViewSampler`; with ``grid_fps`` it
            applies to slots, and slots past the video's end always repeat
            its last frame.
    """

    def __init__(self,
                 num_segments: int = 3,
                 clip_len: int = 1,
                 frame_interval: int = 1,
                 num_frames: Optional[int] = None,
                 grid_fps: Optional[float] = None,
                 shuffle_prob: float = 0.5,
                 anchor_views: bool = True,
                 reuse_query: bool = False,
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(audio, out_of_bound)
        if num_segments < 3 and shuffle_prob > 0:
            raise ValueError('order shuffling needs num_segments >= 3')
        if grid_fps is not None and not grid_fps > 0:
            raise ValueError(f'grid_fps must be > 0 or None, got {grid_fps}')
        if reuse_query and not anchor_views:
            raise ValueError('reuse_query=True takes the anchor views from '
                             'the query tuple: it needs anchor_views=True')
        self.num_segments = num_segments
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_frames = num_frames
        self.grid_fps = grid_fps
        self.shuffle_prob = shuffle_prob
        self.anchor_views = anchor_views
        self.reuse_query = reuse_query

    @staticmethod
    def grid_to_source(slots: np.ndarray, fps: float, grid_fps: float,
                       total: int, lead: float = 0.0) -> np.ndarray:
        """Source frame shown at each slot of a ``grid_fps`` grid.

        FFmpeg's ``fps`` filter (``round=near``, the default) gives source
        frame ``i`` (time ``lead + i / fps``) the slot ``round((lead + i /
        fps) * grid_fps)``, halves rounding up, and fills slot ``j`` with
        the last frame whose slot is ``<= j``: the last ``i`` with
        ``lead * grid_fps + i * grid_fps / fps < j + 1/2``, i.e.
        ``ceil((j + 1/2 - lead * grid_fps) * fps / grid_fps) - 1``. The
        ``ffmpeg`` CLI's output starts at the file's start: slots before
        frame 0's show the filter's first frame, the one of frame 0's slot
        (a later frame where two share it, e.g. at 60 fps). Slots past the
        last frame get the last frame.

        Args:
            slots: int ``(T,)`` slot indices (>= 0).
            fps: Source frame rate.
            grid_fps: Grid rate.
            total: Number of source frames.
            lead: Time (s) of frame 0 on the grid's clock: the file's
                start is slot 0's time (``reader.start_lead``).

        Returns:
            int64 ``(T,)`` source frame indices in ``[0, total - 1]``.
        """
        first = np.floor(lead * grid_fps + 0.5 + _HALF_TOL)
        x = (np.maximum(np.asarray(slots, np.float64), first) + 0.5 -
             lead * grid_fps) * (float(fps) / grid_fps)
        # x is an integer when a frame sits exactly on a slot's half-point
        # (60 -> 30 fps): that frame rounds to the next slot, so ceil - 1;
        # the tolerance keeps float error from moving such exact points
        inds = np.ceil(x - _HALF_TOL).astype(np.int64) - 1
        return np.clip(inds, 0, total - 1)

    @staticmethod
    def grid_to_shown(slots: np.ndarray, times: np.ndarray,
                      grid_fps: float, lead: float = 0.0) -> np.ndarray:
        """:meth:`grid_to_source` from the frames' real times (a
        variable-frame-rate file): FFmpeg's ``fps`` filter gives the frame
        shown at ``lead + t`` s the slot ``round((lead + t) * grid_fps)``
        (halves up) and fills slot ``j`` with the last frame whose slot is
        ``<= j`` (slots before the first frame's: that slot's frame). On
        ``times = i / fps`` this is :meth:`grid_to_source`.

        Args:
            slots: int ``(T,)`` slot indices (>= 0).
            times: float64 ``(N,)`` the file's timetable, s from its first
                frame, increasing
                (:meth:`~mmavcl.datasets.media.BaseVideoReader.frame_times`).
            grid_fps: Grid rate.
            lead: Time (s) of the first frame on the grid's clock, as in
                :meth:`grid_to_source`.

        Returns:
            int64 ``(T,)`` display-order frame indices in ``[0, N - 1]``
            (read with ``get_batch(..., by_order=True)``).
        """
        times = np.asarray(times, np.float64)
        # decord's times are float32 (1 us steps at 10 s): a frame within
        # one such step of a slot's half-point is taken to sit on it
        tol = _HALF_TOL + grid_fps * np.spacing(times.astype(np.float32))
        frame_slots = np.floor((times + lead) * grid_fps + 0.5 + tol)
        slots = np.maximum(np.asarray(slots), frame_slots[0])
        inds = np.searchsorted(frame_slots, slots, 'right') - 1
        return np.clip(inds, 0, len(frame_slots) - 1).astype(np.int64)

    def _two_starts(self, lo: int, hi: int) -> Tuple[int, int]:
        span = self.clip_len * self.frame_interval
        room = max(hi - span, lo)  # last valid start inside the segment
        choices = np.arange(lo, room + 1)
        if len(choices) >= 2:
            a, b = np.random.choice(choices, 2, replace=False)
        else:
            a = b = lo
        return int(a), int(b)

    def grid_frames(self, results: Dict, slots: np.ndarray) -> np.ndarray:
        """The frames the ``grid_fps`` grid shows at ``slots`` of the
        video in ``results``: time indices (:meth:`grid_to_source`), or
        display-order indices into the reader's timetable on a
        variable-frame-rate file (:meth:`grid_to_shown`), with slot 0 at
        the file's start (``video_reader.start_lead``; 0 without a
        reader).

        Args:
            results: After :class:`~.decoding.VideoInit`: ``total_frames``,
                ``fps``, ``vfr``, ``video_reader``.
            slots: int ``(T,)`` slot indices (>= 0).

        Returns:
            int64 ``(T,)`` frame indices.
        """
        return self._grid_map(results)(slots)

    def _grid_map(self, results: Dict
                  ) -> Callable[[np.ndarray], np.ndarray]:
        """:meth:`grid_frames` for ``results``' video, its timetable and
        lead read once."""
        if not self.grid_fps:
            raise ValueError('grid_frames needs grid_fps')
        total, fps = self._meta(results)
        reader = results.get('video_reader')
        if results.get('vfr') and reader is None:
            raise KeyError(
                f'{results.get("filename")}: SampleSegments(grid_fps='
                f'{self.grid_fps}) on a variable-frame-rate file reads the '
                "frames' times from results['video_reader'] "
                '(VideoInit before the sampler)')
        # the ffmpeg CLI counts time from the file's start, not from the
        # first frame: a video after its audio starts later on the grid
        lead = 0.0 if reader is None else reader.start_lead
        rate = float(self.grid_fps)
        if results.get('vfr'):
            times = reader.frame_times()
            return partial(self.grid_to_shown, times=times, grid_fps=rate,
                           lead=lead)
        return partial(self.grid_to_source, fps=fps, grid_fps=rate,
                       total=total, lead=lead)

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        grid = self.grid_fps
        # a VFR file's grid is laid on its real frame times, whose frames
        # the reader then returns by display order
        by_order = bool(grid and results.get('vfr'))
        results.pop('frames_by_order', None)
        if grid:
            rate = float(grid)
            to_frames = self._grid_map(results)
            reader = results.get('video_reader')
            lead = 0.0 if reader is None else reader.start_lead
            # the grid runs from the file's start to the video's end
            n = self.num_frames or max(
                1, int(round((lead + total / fps) * rate)))
            # slots are clamped to the grid, then mapped to source frames
            timeline = n
        else:
            rate = fps
            n = self.num_frames or total
            # a frame index >= the real count repeats the last frame
            # (VCLR's padding of short videos); truncation is implied by
            # n < total
            timeline = min(total, n) if self.num_frames else total
        k = self.num_segments
        size = n // k
        if size < 1:
            size = 1
        bounds = [(i * size, (i + 1) * size if i < k - 1 else max(n, k))
                  for i in range(k)]
        vtype = 'frame' if self.clip_len == 1 else 'segment'

        def item(start: int, seg: int, role: str) -> dict:
            view = self._clip_view(
                start,
                self.clip_len,
                self.frame_interval,
                timeline,
                rate,
                vtype,
                role=role,
                segment=seg)
            if grid:
                view['grid_slots'] = view['frame_inds']
                view['frame_inds'] = to_frames(view['frame_inds'])
            return view

        key_starts, query_starts = zip(*(self._two_starts(lo, hi)
                                         for lo, hi in bounds))
        s_q = int(np.random.rand() < self.shuffle_prob)
        s_k = int(np.random.rand() < self.shuffle_prob)
        perm_q = _shuffle_perm(k) if s_q else np.arange(k)
        perm_k = _shuffle_perm(k) if s_k else np.arange(k)
        r = int(np.random.choice([0, k - 1]))
        others = [i for i in range(k) if i != r]
        labels = dict(
            order=s_q + 2 * s_k, order_q=s_q, order_k=s_k, anchor_segment=r)
        views = []
        if self.anchor_views and self.reuse_query:
            views.append(item(query_starts[r], r, 'anchor_pos'))
            where = {int(seg): pos for pos, seg in enumerate(perm_q)}
            labels['query_index_anchor'] = where[r]
            for j, seg in enumerate(others):
                labels[f'query_index_p{j + 2}'] = where[seg]
        elif self.anchor_views:
            views.append(item(query_starts[r], r, 'anchor'))
            views.append(item(query_starts[r], r, 'anchor_pos'))
            views += [item(query_starts[i], i, 'intra_pos') for i in others]
        views += [item(query_starts[i], int(i), 'query') for i in perm_q]
        views += [item(key_starts[i], int(i), 'key') for i in perm_k]
        if by_order:
            results['frames_by_order'] = True
        return self._write(results, views, labels)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_segments={self.num_segments}, '
                f'clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'num_frames={self.num_frames}, grid_fps={self.grid_fps}, '
                f'reuse_query={self.reuse_query})')


@TRANSFORMS.register_module()
class SampleGlobalLocal(BaseViewSampler):
    """A global view of the video and local clips with controlled overlap.

    Global view: ``global_len`` frames spread over a window covering a
    fraction ``global_span`` (drawn from the given range) of the video at a
    random position (1.0 = the whole video): one frame per equal part, at the
    part's centre (``global_mode='uniform'``) or a random frame of it
    (``'random'``), so distinct frames in time order wherever the window
    holds at least ``global_len`` frames.

    Local clips: ``num_local`` clips of ``local_len`` consecutive frames with
    an interval drawn from ``local_interval``, inside the global window when
    ``local_in_global``. Placement: independent uniform positions (sorted by
    time), distinct wherever the window leaves room for them (two clips of
    the same frames have no order to label), when ``local_overlap`` is
    ``None``; otherwise chained: the
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
            starts = np.random.randint(w0, room + 1, size=n)
            # two clips from one start are the same frames, whose order the
            # order label would state at random: redraw while the window
            # has room for distinct starts (uniform over distinct sets)
            while len(np.unique(starts)) < n <= room - w0 + 1:
                starts = np.random.randint(w0, room + 1, size=n)
            return np.sort(starts)
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
            g = np.floor((edges[:-1] + edges[1:]) / 2).astype(np.int64)
        else:
            # a frame of each part [a, b): one of the frames ceil(a) ..
            # ceil(b) - 1. (Flooring a random point of it took frame
            # floor(a) < a for a fractional a, the previous part's frame:
            # the same frame twice in 0.8 % of 300-frame videos.)
            lo = np.ceil(edges[:-1] - 1e-9).astype(np.int64)
            hi = np.maximum(np.ceil(edges[1:] - 1e-9).astype(np.int64),
                            lo + 1)
            g = lo + np.floor(np.random.rand(self.global_len) *
                              (hi - lo)).astype(np.int64)
        g = np.clip(g, 0, total - 1)
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


_INF = float('inf')


def _shortest_paths(num_vars: int,
                    cons: List[Tuple[int, int, float]]) -> Optional[list]:
    """Floyd-Warshall over the difference constraints ``x_i - x_j <= c``
    (``(i, j, c)``; node ``num_vars`` is the constant 0). Returns the
    distance matrix ``d`` (``x_i - x_j <= d[j][i]`` is implied), or
    ``None`` when the constraints contradict (a negative cycle)."""
    n = num_vars + 1
    d = [[0.0 if i == j else _INF for j in range(n)] for i in range(n)]
    for i, j, c in cons:
        d[j][i] = min(d[j][i], c)  # edge j -> i of weight c
    for k in range(n):
        dk = d[k]
        for i in range(n):
            dik = d[i][k]
            if dik == _INF:
                continue
            di = d[i]
            for j in range(n):
                if dik + dk[j] < di[j]:
                    di[j] = dik + dk[j]
    if any(d[i][i] < 0 for i in range(n)):
        return None
    return d


def _relation_cons(rel: int, x: int, lx: int, y: int,
                   ly: int) -> List[Tuple[int, int, float]]:
    """Constraints on the integer starts ``x``, ``y`` of intervals
    ``[x, x + lx)`` and ``[y, y + ly)`` (frames) for order label ``rel``
    (:func:`~.spans.temporal_relation`: touching is 'before')."""
    if rel == ORDER_BEFORE:
        return [(x, y, -lx)]
    if rel == ORDER_AFTER:
        return [(y, x, -ly)]
    return [(x, y, ly - 1), (y, x, lx - 1)]  # share at least one frame


class _Placement:
    """Start frames for intervals that must satisfy chosen order labels.

    Intervals are ``(var, length)``; several may share a start variable (an
    audio view that starts with its clip). ``pairs`` are ``(a, b)``
    interval indices whose relation is drawn. Every start keeps its
    intervals inside ``[0, total)``.
    """

    def __init__(self, intervals: List[Tuple[int, int]],
                 pairs: List[Tuple[int, int]], total: int) -> None:
        self.intervals, self.pairs, self.total = intervals, pairs, total
        self.num_vars = 1 + max(v for v, _ in intervals)
        longest = [0] * self.num_vars
        for v, n in intervals:
            longest[v] = max(longest[v], n)
        self.longest = longest

    def _cons(self, rels: Sequence[int], total: int) -> list:
        z = self.num_vars
        cons = []
        for v in range(self.num_vars):
            cons += [(v, z, total - self.longest[v]), (z, v, 0)]
        for rel, (a, b) in zip(rels, self.pairs):
            (x, lx), (y, ly) = self.intervals[a], self.intervals[b]
            cons += _relation_cons(rel, x, lx, y, ly)
        return cons

    def feasible(self, rels: Sequence[int], total: int) -> bool:
        return _shortest_paths(self.num_vars, self._cons(rels, total)) \
            is not None

    def combos(self) -> Tuple[list, list]:
        """``(possible, fitting)``: the label combinations that intervals
        of these lengths can show at all (in ample room) and those that
        fit in ``total`` frames."""
        ample = sum(n for _, n in self.intervals) * 2 + 1
        every = list(itertools.product(range(3), repeat=len(self.pairs)))
        possible = [r for r in every if self.feasible(r, ample)]
        fitting = [r for r in possible if self.feasible(r, self.total)]
        return possible, fitting

    def place(self, rels: Sequence[int]) -> List[int]:
        """Random starts satisfying ``rels`` (which must be feasible): each
        start uniform over what the constraints left it, in turn; any
        value in that range extends to a full solution, as the projection
        of a difference-constraint system on one variable is an
        interval."""
        z = self.num_vars
        cons = self._cons(rels, self.total)
        starts = []
        for v in range(self.num_vars):
            d = _shortest_paths(self.num_vars, cons)
            lo, hi = int(-d[v][z]), int(d[z][v])
            s = int(np.random.randint(lo, hi + 1))
            cons += [(v, z, s), (z, v, -s)]
            starts.append(s)
        return starts


@TRANSFORMS.register_module()
class SampleTemporalPairs(BaseViewSampler):
    """Clips with random playback speed and direction, and their order.

    Each of ``num_clips`` clips draws a speed ``s`` from ``speeds`` (frame
    skipping: ``clip_len`` frames ``frame_interval * s`` apart, covering
    ``clip_len * frame_interval * s`` source frames) and is reversed with
    probability ``reverse_prob``.

    **Audio views** (``audio=True``), one per clip. ``audio_transform``:
    ``'same'`` plays audio view i at clip i's speed and direction,
    ``'independent'`` draws them afresh, ``'none'`` plays it at speed 1,
    forward. Their time spans:

    * audio 0 follows clip 0 (``video_view=0``): it covers clip 0's real
      span (:func:`~.spans.resolve_spans`; scaled from its start by the
      speed ratio when the audio's speed was drawn apart). It is the
      temporally corresponding audio of AVTSS's video<->audio contrast.
    * with two clips, audio 1 is a clip of its own (``video_view=-1``),
      placed in the video like a third clip, so that the inter-modal order
      ``order_va`` (clip 1 vs audio 1) is its own random variable. Had it
      followed clip 1, ``order_vv``, ``order_aa`` and ``order_va`` would
      be one label three times.
    * with another number of clips every audio view follows its clip.

    **Order labels** (two clips; 0 = first before second, 1 = first after
    second, 2 = overlapping; :func:`~.spans.temporal_relation`):
    ``order_vv`` (clip 0 vs clip 1), and with audio ``order_aa`` (audio 0
    vs audio 1), ``order_va`` (clip 1 vs audio 1: the inter-modal pair),
    ``order_av`` (audio 0 vs clip 1; equal to ``order_vv`` under
    ``'same'``). They are declared in ``span_relations`` and recomputed
    from the decoded spans by :func:`~.spans.resolve_spans`.

    **Placement.** With ``relation_probs`` the drawn labels
    (``order_vv``, and with audio ``order_aa`` and ``order_va``) are drawn
    jointly: a combination the spans can show at all (19 of the 27 for
    three intervals; e.g. clip 0 before clip 1 before audio 1 rules out
    audio 1 before clip 0) is chosen with probability proportional to the
    product of its labels' ``relation_probs``, and the clips are placed
    uniformly among the positions that show it. When the video is too
    short for some possible combination (two 8x clips of 16 frames cannot
    be disjoint in 250 frames), that combination never occurs for these
    speeds, so the labels would tell the speeds: every order label of the
    sample is then :data:`~.spans.ORDER_IGNORE` (-1, left out of the loss)
    and the clips are placed uniformly at random. ``relation_probs=None``
    places every clip uniformly at random and never masks (the labels then
    depend on the speeds).

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views``, ``audio_views``, ``pretext_labels``:
    ``speed_v{i}`` (index into ``speeds``), ``direction_v{i}`` (1 =
    reversed), with audio ``speed_a{i}``, ``direction_a{i}``; the order
    labels above; ``span_relations``.
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
        if relation_probs is not None and (
                len(relation_probs) != 3 or min(relation_probs) < 0
                or sum(relation_probs) <= 0):
            raise ValueError('relation_probs must be None or 3 weights '
                             '(before, after, overlap) >= 0, got '
                             f'{relation_probs}')
        if clip_len < 2 and relation_probs is not None:
            raise ValueError('overlapping placements need clip_len >= 2')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.speeds = [int(s) for s in speeds]
        self.speed_probs = speed_probs
        self.reverse_prob = reverse_prob
        self.relation_probs = relation_probs
        self.with_audio = audio
        self.audio_transform = audio_transform
        self._combos: Dict[tuple, Tuple[list, list]] = {}

    def _draw(self) -> Tuple[int, bool]:
        k = int(np.random.choice(len(self.speeds), p=self.speed_probs))
        return k, bool(np.random.rand() < self.reverse_prob)

    def _audio_draw(self, clip_draw: Tuple[int, bool]) -> Tuple[int, bool]:
        if self.audio_transform == 'same':
            return clip_draw
        if self.audio_transform == 'independent':
            return self._draw()
        # plain audio: normal speed, forward
        return (self.speeds.index(1) if 1 in self.speeds else -1), False

    def _lengths_combos(self, intervals, pairs, total):
        key = (tuple(intervals), total)
        if key not in self._combos:
            if len(self._combos) >= 4096:  # one entry per length set
                self._combos.clear()
            self._combos[key] = _Placement(intervals, pairs,
                                           total).combos()
        return self._combos[key]

    def _place(self, intervals: List[Tuple[int, int]],
               pairs: List[Tuple[int, int]],
               total: int) -> Tuple[List[int], bool]:
        """Starts of the start variables, and whether the drawn labels are
        valid (False: masked, see the class doc)."""
        num_vars = 1 + max(v for v, _ in intervals)
        longest = [0] * num_vars
        for v, n in intervals:
            longest[v] = max(longest[v], n)
        if self.relation_probs is None or not pairs or \
                max(longest) > total:
            starts = [int(np.random.randint(0, max(total - n, 0) + 1))
                      for n in longest]
            return starts, self.relation_probs is None
        possible, fitting = self._lengths_combos(intervals, pairs, total)
        if len(fitting) < len(possible):
            starts = [int(np.random.randint(0, total - n + 1))
                      for n in longest]
            return starts, False
        p = np.asarray(self.relation_probs, np.float64)
        w = np.array([np.prod(p[list(r)]) for r in fitting])
        if w.sum() <= 0:
            w = np.ones(len(fitting))
        rels = fitting[int(np.random.choice(len(fitting), p=w / w.sum()))]
        return _Placement(intervals, pairs, total).place(rels), True

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        n, fi, cl = self.num_clips, self.frame_interval, self.clip_len
        draws = [self._draw() for _ in range(n)]
        step = [fi * self.speeds[k] for k, _ in draws]
        lengths = [cl * d for d in step]
        audio_draws = [self._audio_draw(d) for d in draws] \
            if self.with_audio else []
        a_speed = [self.speeds[k] if k >= 0 else 1 for k, _ in audio_draws]
        a_len = [cl * fi * s for s in a_speed]
        # start variables: clip i -> i; audio 0 starts with clip 0 (var 0)
        # and audio 1 of a pair is placed on its own (var 2)
        intervals = [(i, lengths[i]) for i in range(n)]
        pairs: List[Tuple[int, int]] = []
        relations: Dict[str, tuple] = {}
        if n == 2:
            pairs.append((0, 1))
            relations['order_vv'] = (('video', 0), ('video', 1))
            if self.with_audio:
                intervals += [(0, a_len[0]), (2, a_len[1])]  # audio 0, 1
                pairs += [(2, 3), (1, 3)]
                relations.update(
                    order_aa=(('audio', 0), ('audio', 1)),
                    order_va=(('video', 1), ('audio', 1)),
                    order_av=(('audio', 0), ('video', 1)))
        starts, valid = self._place(intervals, pairs, total)
        views, labels = [], {}
        for i, ((k, rev), d) in enumerate(zip(draws, step)):
            views.append(
                self._clip_view(
                    starts[i],
                    cl,
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
        for i, (k, rev) in enumerate(audio_draws):
            own = n == 2 and i == 1
            s = starts[2] if own else starts[i]
            audio_views.append(
                dict(
                    time_span=(s / fps, (s + a_len[i]) / fps),
                    speed=a_speed[i],
                    reversed=rev,
                    view_type='clip',
                    video_view=-1 if own else i))
            labels[f'speed_a{i}'] = k
            labels[f'direction_a{i}'] = int(rev)
        spans = dict(video=[v['time_span'] for v in views],
                     audio=[a['time_span'] for a in audio_views])
        for name, ((ma, ia), (mb, ib)) in relations.items():
            labels[name] = temporal_relation(spans[ma][ia], spans[mb][ib]) \
                if valid else ORDER_IGNORE
        return self._write(results, views, labels, audio_views, relations)


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


@TRANSFORMS.register_module()
class SampleEventSegments(SampleClips):
    """One clip centred in each fixed-length time segment of a video, for
    audio-visual event localization (AVE: ten segments of one second).

    Clip ``i`` is ``clip_len`` frames ``frame_interval`` apart, centred on
    ``(i + 0.5) * segment_duration`` seconds (at the stream's fps; moved
    inside the video where it would cross an end); with ``audio=True`` each
    clip gets an audio view of its span. The views are in segment order,
    so the model's ``S`` views of a sample are its ``S`` segments.

    Required keys: ``total_frames``, ``fps``.
    Added keys: ``video_views`` (``view_type='segment'``, ``clip_index`` =
    the segment), ``audio_views``, ``pretext_labels``.

    Args:
        clip_len: Frames per clip.
        frame_interval: Source frames between sampled frames (choose
            ``clip_len * frame_interval`` about one segment of frames).
        num_segments: Segments per video ``S``.
        segment_duration: Seconds per segment.
        audio: See :class:`BaseViewSampler`.
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 num_segments: int = 10,
                 segment_duration: float = 1.0,
                 audio: Union[bool, Sequence[int]] = False,
                 out_of_bound: str = 'repeat_last') -> None:
        super().__init__(clip_len, frame_interval, num_segments, 'fixed',
                         view_type='segment', audio=audio,
                         out_of_bound=out_of_bound)
        self.segment_duration = float(segment_duration)

    def _segment_starts(self, total: int, fps: float) -> np.ndarray:
        span = self.clip_len * self.frame_interval
        centres = (np.arange(self.num_clips) + 0.5) * self.segment_duration
        starts = np.round(centres * fps - span / 2).astype(np.int64)
        return np.clip(starts, 0, max(total - span, 0))

    def transform(self, results: Dict) -> Dict:
        total, fps = self._meta(results)
        views = [
            self._clip_view(int(s), self.clip_len, self.frame_interval,
                            total, fps, self.view_type, clip_index=i)
            for i, s in enumerate(self._segment_starts(total, fps))
        ]
        return self._write(results, views)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'num_segments={self.num_clips}, '
                f'segment_duration={self.segment_duration})')
