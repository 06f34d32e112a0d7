"""Open media, and decode every view of a sample in one pass per stream."""
import logging
import os.path as osp
import warnings
from functools import partial
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dist import get_rank
from mmengine.logging import print_log

from mmavcl.registry import TRANSFORMS
from ..errors import MediaDecodeError, MissingAudioError
from ..media import (DecordVideoReader, PyAVVideoReader, build_video_reader,
                     decode_audio_spans, decode_with_fallback,
                     find_audio_start, open_media, play_at_speed,
                     probe_audio_timing, probe_frame_size,
                     resolve_video_backend, shared_decoder_threads)
from ..media.remote import fetch_media, needs_fetch, source_size
from ..media.sidecar import (AUDIO_START_TAG, RECORD_FORMATS,
                             UNTAGGED_SIDECAR_KEY)
from .spans import resolve_spans

#: results key of the PyAV container :class:`VideoInit` opened to read the
#: frame size, kept for :class:`DecodeAudioViews` (closed by it, or by
#: :class:`~.formatting.PackAVInputs` when no audio is decoded)
CONTAINER_KEY = 'pyav_container'


#: results key of the files held in memory for this sample, ``{name:
#: FetchedFile}``: remote files fetched once (video and audio from the same
#: URI share them), or members of a WebDataset shard put there by
#: :class:`~mmavcl.datasets.AVShardDataset`. Never packed.
FETCHED_KEY = 'fetched_media'


def media_source(results: Dict, filename: str,
                 backend_args: Optional[dict] = None,
                 stream: str = 'video') -> str:
    """What the readers open for ``filename``: the local path itself, or
    a :class:`~mmavcl.datasets.media.remote.FetchedFile` (fetched through
    mmengine's fileio with ``backend_args``, or ``results``'s
    ``backend_args`` when that is None; kept in ``results`` for the other
    streams of the same file).

    Raises:
        MediaDecodeError: the URI cannot be fetched (the error names it).
    """
    cache = results.get(FETCHED_KEY)
    if cache and filename in cache:
        return cache[filename]
    if backend_args is None:
        backend_args = results.get('backend_args')
    if not needs_fetch(filename, backend_args):
        return filename
    src = fetch_media(filename, backend_args, stream)
    results.setdefault(FETCHED_KEY, {})[filename] = src
    return src


def release_container(results: Dict, container) -> None:
    """Close ``container``, unless the PyAV video reader in ``results``
    lent it and has not decoded yet (a pipeline that decodes the audio
    first): that reader then takes it back and closes it itself."""
    reader = results.get('video_reader')
    if isinstance(reader, PyAVVideoReader) and reader.reclaim(container):
        return
    container.close()


def close_container(results: Dict) -> None:
    """Close (or give back) and remove the shared PyAV container, if any."""
    container = results.pop(CONTAINER_KEY, None)
    if container is not None:
        release_container(results, container)


def _audio_in(results: Dict, filename: str) -> bool:
    """Whether the sample's audio comes from the video file itself."""
    filename = str(filename)  # a FetchedFile compares as its URI
    return results.get('audio_filename', filename) == filename


def _reader_backend(reader) -> str:
    return 'decord' if isinstance(reader, DecordVideoReader) else 'pyav'


__all__ = [
    'VideoInit', 'AudioInit', 'DecodeVideoViews', 'DecodeAudioViews'
]


@TRANSFORMS.register_module()
class VideoInit(BaseTransform):
    """Open the video and read its frame count, rate and size.

    Required keys: ``filename``.

    Added keys: ``video_reader`` (a
    :class:`~mmavcl.datasets.media.BaseVideoReader`), ``total_frames``
    (int), ``fps`` (float), ``video_duration`` (s), ``source_shape``
    ``(H, W)`` of the frames the reader will return (set by
    :class:`DecodeVideoViews` when the backend cannot tell it before
    decoding), ``orig_shape`` (full size as displayed, when known: both
    sizes follow the file's display matrix, so a phone's portrait video is
    portrait), ``video_start_time`` (s: the first displayed frame's time in
    the file's clock, which the audio's timestamps share; views' time spans
    count from it. 0.0 when unknown: decord without the audio in the same
    file, where nothing reads it), ``pyav_container`` (when the audio is in
    the same file and PyAV opened it: to read the size or the start time,
    or as the video backend; see below).

    Args:
        backend: ``'decord'``, ``'pyav'`` or ``None`` (default: decord
            when it is installed, else PyAV; decord is the optional
            ``decord`` extra). An explicit ``'decord'`` without decord
            installed is read by PyAV, with one warning per process
            (:func:`~mmavcl.datasets.media.resolve_video_backend`), and so
            is a ``fallback_backend='decord'``. PyAV decodes fewer
            frames for sparse views (it drops unreferenced frames that are
            not returned) and was 1.13-1.44x faster on the shipped K400
            pipelines, which use it (``docs/benchmarks.md``, "PyAV
            reader").
        num_threads: decord's decoder threads (``None``: 1, one per
            DataLoader worker). Not PyAV's (``pyav_num_threads``): with
            ``backend='pyav'`` it only gives a warning.
        pyav_num_threads: FFmpeg decoder threads of every file PyAV reads
            (``backend='pyav'``, the files decord would misread, which
            the decord reader hands to PyAV, and the fallback). ``None``
            (default): the usable cores shared among the node's loader
            processes, 1 or 2
            (:func:`~mmavcl.datasets.media.shared_decoder_threads`: a
            second thread can shorten a sample only with a core idle, and
            costs 4-15 % more CPU time; ``docs/benchmarks.md``, "Decoder
            threads"); 0: FFmpeg's auto count (``min(cores + 1,
            16)`` per worker, too many with several workers per GPU). The
            pixels do not depend on it.
        decode_size: ``(W, H)`` resize-on-decode.
        decode_short_side: Resize-on-decode to this short side (keeps the
            aspect ratio). Crop boxes are then in the coordinates of the
            resized frames (``source_shape``).
        fault_tol: decord only, see
            :class:`~mmavcl.datasets.media.DecordVideoReader`.
        fallback_backend: Backend to try when ``backend`` fails to open the
            file (e.g. ``'pyav'`` for codecs decord lacks, such as AV1);
            ``None`` to raise. When both fail, the error gives both reasons.
        min_frames: Fewer frames is a :class:`MediaDecodeError` (e.g. the
            ``clip_len * frame_interval`` of the sampler, to refuse videos
            shorter than one clip instead of repeating their last frame).
        max_pixels: Refuse frames larger than this many pixels (H * W), read
            from the container header before any decoding, so one 4K or
            12-megapixel file cannot stall a worker or exhaust its memory.
        hwaccel: PyAV only: decode on this device type (``'cuda'``: the
            GPU's NVDEC engines, :func:`~mmavcl.datasets.media.hw_accel`;
            measured slower than the CPU decoder on an H200,
            docs/benchmarks.md). The
            loader's workers must then be spawned, not forked from a
            process that has started CUDA
            (``multiprocessing_context='spawn'`` in the dataloader config);
            a device that cannot be opened raises
            :class:`~mmavcl.datasets.HWAccelError`, which no
            ``bad_sample_policy`` skips.
        backend_args: mmengine fileio arguments for remote files (the
            MMAction2 convention; ``None``: the sample's own
            ``backend_args``, set by the dataset). A URI
            (``s3://``, ``http(s)://`` ...) is read into memory once and
            decoded from there (:func:`media_source`).

    Every refusal raises :class:`MediaDecodeError` naming the file, which the
    dataset's ``bad_sample_policy`` raises or skips. Added key ``vfr``:
    whether the frame rate varies (frames are then picked by time).

    The frame size that decord needs before it can resize on decode (and
    ``max_pixels``), and decord's start time when the audio is in the same
    file, are read with one cheap PyAV open
    (:func:`~mmavcl.datasets.media.open_media`: keyframes only while FFmpeg
    probes). When the sample's audio comes from
    the same file, that container is kept as ``results['pyav_container']``
    for :class:`DecodeAudioViews`, so the file is opened by PyAV once per
    sample, not twice. The PyAV backend takes that container over (with
    ``max_pixels``) or opens its own, and lends it the same way.
    """

    def __init__(self,
                 backend: Optional[str] = None,
                 num_threads: Optional[int] = None,
                 decode_size: Optional[Tuple[int, int]] = None,
                 decode_short_side: Optional[int] = None,
                 fault_tol: float = -1,
                 fallback_backend: Optional[str] = 'pyav',
                 min_frames: int = 1,
                 max_pixels: Optional[int] = None,
                 hwaccel: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 pyav_num_threads: Optional[int] = None) -> None:
        self.backend_args = backend_args
        if backend not in (None, 'decord', 'pyav'):
            raise ValueError(f'unknown backend {backend!r}')
        if hwaccel and backend is None:
            backend = 'pyav'
        if hwaccel and backend != 'pyav':
            raise ValueError(f"hwaccel={hwaccel!r} needs backend='pyav' "
                             f'(got {backend!r})')
        if backend == 'pyav' and num_threads is not None:
            # it used to set PyAV's threads too: say where they went
            warnings.warn(
                f"VideoInit(backend='pyav', num_threads={num_threads}): "
                "num_threads sets decord's threads and does not apply; "
                f'PyAV decodes with pyav_num_threads={pyav_num_threads} '
                '(None: the cores shared among the loader processes)',
                stacklevel=2)
        if pyav_num_threads is not None and int(pyav_num_threads) < 0:
            raise ValueError('pyav_num_threads must be >= 0 (0: FFmpeg '
                             f'auto), got {pyav_num_threads}')
        self.hwaccel = hwaccel
        backend = resolve_video_backend(backend)
        if fallback_backend is not None:
            fallback_backend = resolve_video_backend(fallback_backend)
        if min_frames < 1:
            raise ValueError(f'min_frames must be >= 1, got {min_frames}')
        self.min_frames = int(min_frames)
        self.max_pixels = max_pixels
        self.backend = backend
        self.num_threads = 1 if num_threads is None else num_threads
        self.pyav_num_threads = None if pyav_num_threads is None else \
            int(pyav_num_threads)
        self.decode_size = decode_size
        self.decode_short_side = decode_short_side
        self.fault_tol = fault_tol
        self.fallback_backend = fallback_backend

    def _open(self, filename: str, backend: str,
              frame_size: Optional[Tuple[int, int]] = None,
              container=None):
        pyav_threads = self.pyav_num_threads
        if pyav_threads is None:  # in the worker that decodes
            pyav_threads = shared_decoder_threads()
        kw = dict(
            num_threads=self.num_threads if backend == 'decord' else
            pyav_threads,
            decode_size=self.decode_size,
            decode_short_side=self.decode_short_side)
        if backend == 'decord':
            kw['pyav_num_threads'] = pyav_threads
            kw['fault_tol'] = self.fault_tol
            kw['frame_size'] = frame_size
            kw['container'] = container
        elif self.hwaccel:
            kw['hwaccel'] = self.hwaccel
        elif container is not None:
            kw['container'] = container
        return build_video_reader(filename, backend, **kw)

    def _probe(self, results: Dict, filename: str):
        """``(size, container)``: the displayed frame size when decord or
        ``max_pixels`` need it, and the PyAV container that read it. decord
        also gets one when the audio is in this file, for the video's start
        time (the audio decoder then uses the same container). A file PyAV
        cannot read gives ``(None, None)`` here: the readers then report it
        with their usual errors."""
        resize = self.decode_size is not None or \
            self.decode_short_side is not None
        need_size = self.max_pixels is not None or (
            resize and self.backend == 'decord')
        if not need_size and not (self.backend == 'decord'
                                  and _audio_in(results, filename)):
            return None, None
        try:
            container = open_media(filename)
        except MediaDecodeError:
            if self.max_pixels is not None:
                raise
            return None, None
        if not need_size:
            return None, container
        try:
            size = probe_frame_size(filename, container)
        except MediaDecodeError:
            container.close()
            if self.max_pixels is not None:
                raise
            return None, None
        return size, container

    def transform(self, results: Dict) -> Dict:
        name = results['filename']
        # the readers open ``filename`` (a path or the fetched bytes);
        # ``name`` is what the results dict calls it
        filename = media_source(results, name, self.backend_args)
        # checked before any decoder opens it (a FIFO would block that)
        size = source_size(filename)
        if size < 0:
            raise MediaDecodeError(filename, 'file does not exist')
        if size == 0:
            raise MediaDecodeError(filename, 'empty file (0 bytes)')
        frame_size, container = self._probe(results, filename)
        if self.max_pixels is not None:
            h, w = frame_size
            if h * w > self.max_pixels:
                container.close()
                raise MediaDecodeError(
                    filename, f'resolution {w}x{h} ({h * w} pixels) exceeds '
                    f'max_pixels={self.max_pixels}; re-encode it smaller '
                    '(tools/data/reencode_videos.py) or raise max_pixels')
        # the PyAV reader takes the probe's container over (one open per
        # file, also with max_pixels); decord reads the start time from it
        handed = self.backend == 'pyav' and not self.hwaccel
        try:
            reader = self._open(filename, self.backend, frame_size,
                                container)
        except MediaDecodeError as err:
            if not self.fallback_backend or \
                    self.fallback_backend == self.backend:
                if container is not None and not handed:
                    container.close()
                raise
            try:
                reader = self._open(filename, self.fallback_backend)
            except MediaDecodeError as err2:
                if container is not None and not handed:
                    container.close()
                raise MediaDecodeError(
                    filename, f'{err2.reason} ({self.fallback_backend}); '
                    f'{self.backend}: {err.reason}') from None
        own = None if handed else container
        if self.fallback_backend and self.fallback_backend != _reader_backend(
                reader):
            reader.fallback = (self.fallback_backend,
                               partial(self._open, filename,
                                       self.fallback_backend))
        if reader.num_frames < self.min_frames:
            reader.close()
            if own is not None:
                own.close()
            raise MediaDecodeError(
                filename, f'{reader.num_frames} frame(s), fewer than '
                f'min_frames={self.min_frames}')
        if own is not None:
            if _audio_in(results, filename):
                close_container(results)  # a stale one from a reused dict
                results[CONTAINER_KEY] = own
            else:
                own.close()
        if isinstance(reader, PyAVVideoReader) and \
                CONTAINER_KEY not in results and _audio_in(results, filename):
            # the audio decodes from the reader's container: one open
            results[CONTAINER_KEY] = reader.lend_container()
        # views count time from the first video frame, the audio's frames
        # carry the file's clock: DecodeAudioViews adds this to its spans
        known = isinstance(reader, PyAVVideoReader) or \
            reader.start_time_known
        results['video_start_time'] = float(reader.start_time) \
            if known else 0.0
        results['vfr'] = bool(reader.vfr)
        results['video_reader'] = reader
        results['total_frames'] = reader.num_frames
        results['fps'] = reader.fps
        results['video_duration'] = reader.num_frames / reader.fps
        if reader.shape is not None:
            results['source_shape'] = tuple(reader.shape)
            results['orig_shape'] = tuple(reader.orig_shape)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(backend={self.backend!r}, '
                f'num_threads={self.num_threads}, '
                f'pyav_num_threads={self.pyav_num_threads}, '
                f'decode_size={self.decode_size}, '
                f'decode_short_side={self.decode_short_side}, '
                f'min_frames={self.min_frames}, max_pixels={self.max_pixels}, '
                f'hwaccel={self.hwaccel!r})')


@TRANSFORMS.register_module()
class AudioInit(BaseTransform):
    """Read the duration of an audio-only sample.

    Required keys: ``audio_filename``.

    Added keys: ``audio_duration`` (s), ``audio_start_time`` (s: the
    stream's first timestamp, which :class:`DecodeAudioViews` takes as the
    views' time 0).

    Args:
        backend_args: mmengine fileio arguments for a remote file (see
            :class:`VideoInit`).
    """

    def __init__(self, backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args

    def transform(self, results: Dict) -> Dict:
        name = results['audio_filename']
        if not name:
            raise MissingAudioError(str(name), 'file does not exist')
        filename = media_source(results, name, self.backend_args, 'audio')
        if source_size(filename, 'audio') < 0:
            raise MissingAudioError(str(filename), 'file does not exist')
        results['audio_duration'], results['audio_start_time'] = \
            probe_audio_timing(filename)
        return results


@TRANSFORMS.register_module()
class DecodeVideoViews(BaseTransform):
    """Decode the frames of all views with ONE reader call, split per view.

    The sorted unique union of every view's ``frame_inds`` is decoded by a
    single ``get_batch`` (decord) or one sequential PyAV pass; each view then
    takes its frames from that buffer, in its own playback order (reversed
    views come out reversed). The reader is closed and removed.

    Required keys: ``video_reader``, ``video_views`` (list of dicts with
    ``frame_inds``: time indices, or display-order ones where the sampler
    set ``frames_by_order``, see
    :meth:`~mmavcl.datasets.media.BaseVideoReader.get_batch`).

    Added keys: ``video_imgs`` (list of uint8 ``(T_v, H, W, 3)`` arrays, one
    per view), ``source_shape`` ``(H, W)``; every view dict gains
    ``crop_box`` ``(0, 0, W, H)``, ``flip`` False, ``img_shape`` and
    ``frame_times`` (float64 ``(T_v,)``: each frame's presentation time in
    seconds from the first displayed frame, read from the file's
    timestamps by the reader, in the view's playback order).

    Then :func:`~.spans.resolve_spans` settles the spans: a view's
    ``time_span`` becomes ``[first frame, last frame + frame_period)``
    of those times (the sampler's stays as ``nominal_time_span``), every
    audio view that follows a video view takes its span, and the labels the
    sampler declared in ``span_relations`` (AVTSS's order labels) are
    recomputed from the final spans. In a constant-rate file this changes
    nothing but views clamped at the video's end; in a VFR file it moves
    spans to the frames actually shown.

    A view whose frames are a run of the decoded buffer that no other view
    shares is a slice of it, not a copy; transforms return new arrays and
    never write into a view's pixels.

    Removed keys: ``video_reader``, ``frames_by_order``.
    """

    def transform(self, results: Dict) -> Dict:
        reader = results.pop('video_reader')
        by_order = bool(results.pop('frames_by_order', False))
        views: List[dict] = results['video_views']
        try:
            all_inds = np.concatenate(
                [np.asarray(v['frame_inds'], np.int64) for v in views])
            union = np.unique(all_inds)
            frames, reader = decode_with_fallback(reader, union, by_order)
            times = reader.last_frame_times
        finally:
            reader.close()
        if times is None or len(times) != len(union):
            times = union.astype(np.float64) / float(reader.fps)
        h, w = frames.shape[1:3]
        results['source_shape'] = (int(h), int(w))
        results.setdefault('orig_shape', (int(h), int(w)))
        imgs = []
        for view, pos in zip(views, _view_positions(union, views)):
            imgs.append(frames[pos])
            view.setdefault('crop_box', (0.0, 0.0, float(w), float(h)))
            view.setdefault('flip', False)
            view['img_shape'] = (int(h), int(w))
            view['frame_times'] = times[np.searchsorted(
                union, np.asarray(view['frame_inds'], np.int64))]
        results['video_imgs'] = imgs
        results['num_decoded_frames'] = len(union)
        return resolve_spans(results)


def _view_positions(union: np.ndarray, views: List[dict]) -> list:
    """Where each view's frames sit in the decoded ``union``: a ``slice``
    (no copy) for a run of consecutive positions that no other view
    touches, else an index array (a copy). Disjoint slices keep one view's
    pixels from aliasing another's."""
    pos = [np.searchsorted(union, np.asarray(v['frame_inds'], np.int64))
           for v in views]
    spans = [(int(p.min()), int(p.max())) if len(p) else (0, -1)
             for p in pos]
    out = []
    for i, p in enumerate(pos):
        lo, hi = spans[i]
        run = len(p) > 0 and bool(np.all(np.diff(p) == 1))
        if run and not any(lo <= b and a <= hi for j, (a, b) in
                           enumerate(spans) if j != i):
            out.append(slice(lo, hi + 1))
        else:
            out.append(p)
    return out


def _audio_offset(results: Dict, filename: str,
                  source: str) -> Tuple[float, bool]:
    """Time (s) in the audio file's own clock of the views' time 0, and
    whether the audio is a video's sidecar without an alignment record.

    Views count seconds from the first video frame, while a container's
    audio frames carry the file's timestamps, which need not start at 0
    (streams cut from a broadcast start at 10 s; an MP3's first frame sits
    after the encoder delay). Audio from the video's own container is read
    at the view's time plus ``video_start_time`` (set by :class:`VideoInit`;
    absent: 0), so it stays aligned with the frames, also when the audio
    starts later than the video (the missing start is padded). A video's
    sidecar (``source``, opened from ``filename``) counts from its first
    sample, which ``tools/data/extract_audio.py`` records at
    :func:`~mmavcl.datasets.media.find_audio_start` s of the video's clock
    (0 without a record, then flagged): it is read at the view's time minus
    that, counted from its first sample (``from_first_sample`` of
    :func:`~mmavcl.datasets.media.decode_audio_spans`; an MP3's clock puts
    it after the encoder delay), which pads, flags and aligns exactly like
    the container's audio. Audio-only samples count from their stream's
    start: ``audio_start_time``, set by :class:`AudioInit` (a sidecar's
    record is about a video they do not have; for a sidecar it is the
    stream's own start, absent: 0), and are never flagged.
    """
    video = results.get('modality') != 'audio'
    if video and filename == results.get('filename'):
        return float(results.get('video_start_time') or 0.0), False
    if not video:
        return float(results.get('audio_start_time') or 0.0), False
    # a video's sidecar: its first sample is at the record
    start = find_audio_start(source)
    if start is None:
        return 0.0, True
    return -start, False


#: whether this process has warned of a sidecar without a record: once per
#: process (each DataLoader worker is one; non-persistent workers are new
#: processes every epoch, forked from a main process that has not warned)
_warned_untagged = False


def _warn_untagged_sidecar(filename: str) -> None:
    """Warn once per process that ``filename``, a video's sidecar, has no
    alignment record. Not per file: a dataset of old sidecars would log a
    line per sample; ``DataReportHook`` names every one read on any rank
    (:mod:`mmavcl.engine.hooks.data_report_hook`: mmengine's logger shows the
    other ranks' warnings nowhere), ``tools/data/check_dataset.py`` every
    one in the list."""
    global _warned_untagged
    if _warned_untagged:
        return
    _warned_untagged = True
    ext = osp.splitext(str(filename))[1].lower()
    if ext not in RECORD_FORMATS:  # cannot carry one: suggest a WAV
        ext = '.wav'
    print_log(
        f'(rank {get_rank()}) audio sidecar {filename} has no alignment '
        f'record ({AUDIO_START_TAG}): its views count from its first '
        'sample, off by the real gap (often 0.5 s) for videos whose audio '
        'does not start with the first frame. Re-extract the sidecars to '
        'record it: python tools/data/extract_audio.py --src VIDEO_ROOT --out '
        f'AUDIO_ROOT --ext {ext} --overwrite (tools/data/check_dataset.py '
        '--audio-source sidecar counts the sidecars without one; warned '
        'once per process; DataReportHook names every one read on any '
        'rank in the run\'s log)',
        logger='current', level=logging.WARNING)


def _merge_spans(spans: List[Tuple[float, float]],
                 gap: float) -> Tuple[List[Tuple[float, float]], List[int]]:
    """Merge spans closer than ``gap``; return the groups and each span's
    group index."""
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    groups: List[List[float]] = []
    of = [0] * len(spans)
    for i in order:
        t0, t1 = spans[i]
        if groups and t0 <= groups[-1][1] + gap:
            groups[-1][1] = max(groups[-1][1], t1)
        else:
            groups.append([t0, t1])
        of[i] = len(groups) - 1
    return [(a, b) for a, b in groups], of


@TRANSFORMS.register_module()
class DecodeAudioViews(BaseTransform):
    """Decode the audio of all audio views in one pass and cut each view.

    The file is opened once; the views' time spans are merged into groups
    (gaps below ``merge_gap``) and each group is decoded once after a seek
    and mixed to mono at the source rate.
    Each view ``(t0, t1)`` with ``speed`` s and ``reversed`` r yields
    ``L = round((t1 - t0) / s * sample_rate)`` samples: its span resampled
    from the source straight to ``sample_rate`` played s times faster
    (:func:`~mmavcl.datasets.media.play_at_speed`), then reversed when r.
    Only the views' spans are resampled, not the gaps of a group. Views
    that reach outside the available audio are zero padded and flagged
    ``padded=True``.

    Where a view's span comes from: an audio view that follows a video view
    (``video_view >= 0``) covers that view's real span, from its first
    frame to its last frame plus one frame step, in seconds from the
    file's timestamps, settled by :func:`~.spans.resolve_spans` after
    :class:`DecodeVideoViews` (so put that first; decoded before the video,
    the audio keeps the sampler's nominal span). So its length varies with
    the frame rate: 16 frames are 0.64 s at 25 fps and 0.53 s at 30 fps;
    ``AVDataPreprocessor(audio_cfg=dict(num_steps=...))`` brings every
    clip's log-mel to one length. Span-dependent labels are recomputed here
    too, from the spans actually decoded.

    ``fixed_duration`` D is an explicit option for audio without video
    views (the ESC-50 / VGG-Sound audio benchmarks' crops): each view's
    span is replaced by one of length ``D * speed`` placed at the view's
    start (``align='start'``) or centred on it (``align='center'``). With
    video views it cuts audio that is not the clip's (at 30 fps, 1.28 s
    for a 32-frame clip of 1.07 s): none of the pretraining configs uses
    it.

    Required keys: ``audio_filename`` (``None``: no audio; absent: use
    ``filename``), ``audio_views`` (list
    of dicts with ``time_span``, optional ``speed``/``reversed``).

    Optional keys: ``pyav_container`` (left by :class:`VideoInit`: read
    from it instead of opening the file again), ``video_start_time`` /
    ``audio_start_time`` (the file time of the views' time 0; see
    :func:`_audio_offset`).

    Added keys: ``audio_wavs`` (list of float32 ``(L,)`` arrays). Each audio
    view gains ``padded``, ``missing``, ``num_samples`` and
    ``sample_rate``; ``time_span`` is the span actually used.

    Removed keys: ``pyav_container`` (closed).

    Args:
        sample_rate: Output rate (Hz).
        on_missing_audio: ``'raise'`` a :class:`MissingAudioError` (a
            :class:`MediaDecodeError`) when the file has no audio stream or
            the sidecar is missing, or ``'silence'``: zeros recorded with
            ``missing=True`` (and ``padded=True``). Corrupt audio, and
            NaN/Inf samples in a decoded span, always raise.
        fixed_duration: Seconds of (uncompressed) audio per view, or
            ``None`` (default) to follow each view's span. See above.
        align: ``'start'`` or ``'center'`` for ``fixed_duration``.
        merge_gap: Views whose spans lie closer than this (s) are decoded in
            one pass; farther groups each get their own seek (one file
            open either way).
        max_pad_ratio: ``None``: pad and flag only. A float in [0, 1): a
            view whose padded fraction is larger (audio shorter than the
            clip) raises :class:`MediaDecodeError` (stream ``'audio'``), for
            the dataset's ``bad_sample_policy`` to raise or skip. ``0.5``
            refuses views that are more than half silence.
        backend_args: mmengine fileio arguments for a remote file (see
            :class:`VideoInit`).
    """

    def __init__(self,
                 sample_rate: int = 16000,
                 on_missing_audio: str = 'raise',
                 fixed_duration: Optional[float] = None,
                 align: str = 'start',
                 merge_gap: float = 1.0,
                 max_pad_ratio: Optional[float] = None,
                 backend_args: Optional[dict] = None) -> None:
        self.backend_args = backend_args
        if max_pad_ratio is not None and not 0 <= max_pad_ratio < 1:
            raise ValueError('max_pad_ratio must be None or in [0, 1), got '
                             f'{max_pad_ratio}')
        self.max_pad_ratio = max_pad_ratio
        if on_missing_audio not in ('raise', 'silence'):
            raise ValueError('on_missing_audio must be "raise" or "silence"')
        if align not in ('start', 'center'):
            raise ValueError('align must be "start" or "center"')
        self.sample_rate = sample_rate
        self.on_missing_audio = on_missing_audio
        self.fixed_duration = fixed_duration
        self.align = align
        self.merge_gap = merge_gap

    def _span(self, view: dict) -> Tuple[float, float]:
        t0, t1 = (float(t) for t in view['time_span'])
        if self.fixed_duration is None:
            return t0, t1
        d = self.fixed_duration * float(view.get('speed', 1))
        if self.align == 'center':
            c = 0.5 * (t0 + t1)
            return c - d / 2, c + d / 2
        return t0, t0 + d

    def spans_to_decode(self, views: List[dict]
                        ) -> Tuple[List[Tuple[float, float]], List[int]]:
        """The source spans (s) decoded for ``views`` (each after its own
        seek) and the index of the span each view is cut from."""
        return _merge_spans([self._span(v) for v in views], self.merge_gap)

    def transform(self, results: Dict) -> Dict:
        container = results.pop(CONTAINER_KEY, None)
        try:
            return self._transform(results, container)
        finally:
            if container is not None:
                release_container(results, container)

    def _transform(self, results: Dict, container) -> Dict:
        views: List[dict] = results.get('audio_views', [])
        if not views:
            results['audio_wavs'] = []
            return results
        sr = self.sample_rate
        # audio that follows a decoded video view covers its real span
        resolve_spans(results)
        spans = [self._span(v) for v in views]
        # absent key: the container itself; None: the dataset said no audio
        filename = results.get('audio_filename', results.get('filename'))
        missing, offset = False, 0.0
        try:
            if not filename:
                raise MissingAudioError(
                    str(results.get('filename')), 'no audio for this sample '
                    '(audio_source="none")')
            source = media_source(results, filename, self.backend_args,
                                  'audio')
            if source_size(source, 'audio') < 0:
                raise MissingAudioError(filename, 'file does not exist')
            groups, view_group = self.spans_to_decode(views)
            offset, untagged = _audio_offset(results, filename, source)
            groups = [(a + offset, b + offset) for a, b in groups]
            video_file = results.get('filename')
            # a video's sidecar counts from its first sample (the record's)
            sidecar = filename != video_file and \
                results.get('modality') != 'audio'
            if filename != video_file:
                container = None  # a sidecar: VideoInit opened the video
            elif container is None and results.get('modality') != 'audio':
                # the video container: probe its video stream cheaply
                container = open_media(source, 'audio')
            try:
                decoded = decode_audio_spans(
                    source, groups, container=container, fallback_rate=sr,
                    from_first_sample=sidecar)
            finally:
                if container is not None:
                    release_container(results, container)
            if untagged:  # decoded: a broken file's error says more
                results[UNTAGGED_SIDECAR_KEY] = str(filename)
                _warn_untagged_sidecar(filename)
        except MissingAudioError:
            if self.on_missing_audio != 'silence':
                raise
            missing = True
        wavs = []
        for i, (view, (t0, t1)) in enumerate(zip(views, spans)):
            speed = float(view.get('speed', 1))
            length = int(round((t1 - t0) / speed * sr))
            if missing:
                out = np.zeros(length, np.float32)
                padded = True
            else:
                wave, start, rate = decoded[view_group[i]]
                start -= offset  # the file's clock -> the views' clock
                i0 = int(round((t0 - start) * rate))
                n_src = int(round((t1 - t0) * rate))
                covered = max(min(i0 + n_src, len(wave)) - max(i0, 0), 0)
                padded = covered < n_src
                pad_ratio = 1.0 - covered / max(n_src, 1)
                if self.max_pad_ratio is not None and \
                        pad_ratio > self.max_pad_ratio:
                    raise MediaDecodeError(
                        filename, f'audio covers {1 - pad_ratio:.0%} of view '
                        f'{i} ({t0:.2f}-{t1:.2f} s); the audio ends at '
                        f'{start + len(wave) / rate:.2f} s (max_pad_ratio='
                        f'{self.max_pad_ratio})', 'audio')
                out = play_at_speed(wave, rate, i0, speed, sr, length)
            if view.get('reversed', False):
                out = out[::-1].copy()
            view.update(
                time_span=(t0, t1),
                padded=bool(padded),
                missing=missing,
                num_samples=length,
                sample_rate=sr)
            view.setdefault('speed', 1)
            view.setdefault('reversed', False)
            if self.fixed_duration is not None:  # not the frames' span
                view.pop('frame_edges', None)
            wavs.append(out)
        results['audio_wavs'] = wavs
        # labels from the spans just decoded (fixed_duration changes them)
        return resolve_spans(results)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(sample_rate={self.sample_rate}, '
                f'on_missing_audio={self.on_missing_audio!r}, '
                f'fixed_duration={self.fixed_duration}, align={self.align!r}, '
                f'merge_gap={self.merge_gap}, '
                f'max_pad_ratio={self.max_pad_ratio})')
