"""Frame-accurate video readers (decord, PyAV) behind one interface.

Every failure to open or decode raises :class:`MediaDecodeError` naming the
file; nothing here returns zeros for frames it could not read.
"""
import bisect
import warnings
from typing import (Callable, Generator, Iterator, List, Optional,
                    Sequence, Tuple)

import numpy as np

from ..errors import MediaDecodeError
from .hwaccel import hw_accel
from .decord_checks import decord_misreads
from .mpeg4 import NotCodedVops
from .orientation import (display_orientation, is_iso_bmff,
                          matrix_rotation, quarter_turns)
from .probe import (is_avi, open_media, probe_frame_size,
                    raw_video_format, scan_video, video_start_time,
                    file_start_time)
from .reason import short_reason
from .threads import shared_decoder_threads
from .remote import open_source

__all__ = [
    'VIDEO_EXTS', 'BaseVideoReader', 'DecordVideoReader', 'PyAVVideoReader',
    'build_video_reader', 'decode_with_fallback', 'decord_available',
    'resolve_video_backend'
]

#: extensions of the video files the data tools collect from a folder
#: (``extract_audio.py``, ``build_file_list.py``, ``reencode_videos.py``)
#: and that a shard's video member may have (``make_shards.py``,
#: :class:`~mmavcl.datasets.AVShardDataset`), any case: ISO BMFF (MP4 and
#: its M4V, QuickTime and 3GPP phone variants), Matroska/WebM, AVI, FLV,
#: MPEG-TS (``.ts`` broadcast recordings and HLS segments, ``.m2ts`` and
#: ``.mts`` from AVCHD cameras and Blu-ray), ASF (``.wmv``) and MPEG-PS
#: (``.mpg``, ``.mpeg``, DVD ``.vob``). Each is read frame-accurately by
#: both readers (MPEG-TS, MPEG-PS and ASF by PyAV, see
#: :func:`~.decord_checks.decord_misreads`; MPEG-PS decoded from its top
#: for every sample, see :data:`_TOP_ONLY_FORMATS`).
VIDEO_EXTS = ('.mp4', '.m4v', '.mov', '.3gp', '.mkv', '.webm', '.avi',
              '.flv', '.ts', '.m2ts', '.mts', '.wmv', '.mpg', '.mpeg',
              '.vob')

# decord is an optional extra (`pip install mmavcl[decord]`): it has no
# wheels for aarch64 Linux or macOS arm64, and PyAV reads everything the
# configs need. Whether it imports is asked once per process.
_DECORD: Optional[bool] = None
# one warning per process when a config's explicit backend='decord' is
# served by PyAV (every VideoInit of every pipeline would repeat it)
_DECORD_FALLBACK_WARNED = False


def decord_available() -> bool:
    """Whether ``import decord`` works in this process (cached)."""
    global _DECORD
    if _DECORD is None:
        try:
            import decord  # noqa: F401
            _DECORD = True
        except ImportError:
            _DECORD = False
    return _DECORD


def resolve_video_backend(backend: Optional[str]) -> str:
    """The reader that serves ``backend``: ``None`` picks decord when it is
    installed and PyAV otherwise; ``'decord'`` without decord installed
    becomes ``'pyav'`` with one warning per process; ``'pyav'`` stays."""
    global _DECORD_FALLBACK_WARNED
    if backend not in (None, 'decord', 'pyav'):
        raise ValueError(f'unknown video backend {backend!r}')
    if backend == 'pyav':
        return backend
    if decord_available():
        return 'decord'
    if backend == 'decord' and not _DECORD_FALLBACK_WARNED:
        _DECORD_FALLBACK_WARNED = True
        warnings.warn(
            "backend='decord' was asked for but decord is not installed "
            "(`pip install decord`, or `pip install -e '.[decord]'`); "
            'PyAV reads the videos instead (frame-accurate as well).',
            stacklevel=3)
    return 'pyav'


class BaseVideoReader:
    """A video file opened for random access by frame index.

    Attributes:
        filename: The file.
        num_frames: Number of frames T of the (first) video stream.
        fps: Average frame rate.
        shape: ``(H, W)`` of the frames :meth:`get_batch` returns (after
            resize-on-decode, if any); ``None`` until the first decode when
            the backend cannot tell it cheaply.
        orig_shape: ``(H, W)`` of the file's frames as displayed (turned by
            its display matrix), before any resize (same caveat).
        start_time: Time (s) of the first displayed frame in the file's
            clock, which the audio's timestamps share (0 for most files; a
            cut broadcast may start at 10 s).
        file_start_time: Time (s) in the same clock where the file starts:
            the earliest start of its streams (FFmpeg's container
            ``start_time``), before ``start_time`` where the audio starts
            first.
        num_decode_calls: How many times :meth:`get_batch` ran (used by tests
            and benchmarks to prove one decode per sample).
        last_frame_times: float64 ``(len(inds),)``: the presentation time
            (s, counted from the first displayed frame) of each frame the
            last :meth:`get_batch` returned, from the file's timestamps
            (``i / fps`` where a file has none, e.g. AVI); ``None`` before
            the first call. The views' time spans (and so their audio) are
            cut from these
            (:func:`~mmavcl.datasets.transforms.resolve_spans`).

    Frames are addressed by time index: index ``i`` is the first frame
    shown at or after ``(i - 1/2) / fps``, which in a variable-frame-rate
    file can skip frames (two 20 ms frames in one ``1 / fps``) and repeat
    others. ``get_batch(inds, by_order=True)`` addresses them by display
    order instead: index ``k`` is the ``k``-th frame the file shows, the
    row ``k`` of :meth:`frame_times`, so a caller that picks frames by
    their real times (:class:`~mmavcl.datasets.transforms.SampleSegments`'
    30 fps grid on a VFR file) gets exactly those.
    """

    filename: str
    num_frames: int
    fps: float
    shape: Optional[Tuple[int, int]]
    orig_shape: Optional[Tuple[int, int]]

    #: True when the frame rate varies (frames are then picked by time)
    vfr: bool = False
    #: the codec of a raw video stream without a container (``'H.264'``:
    #: :data:`~.probe.RAW_VIDEO_FORMATS`), whose frames are counted at the
    #: rate its headers state; None for a file in a container
    raw_stream: Optional[str] = None
    #: ``(backend name, zero-argument opener)`` tried when decoding fails
    fallback: Optional[Tuple[str, Callable[[], 'BaseVideoReader']]] = None

    def __init__(self) -> None:
        self.num_decode_calls = 0
        self.last_frame_times: Optional[np.ndarray] = None

    def get_batch(self, inds: Sequence[int],
                  by_order: bool = False) -> np.ndarray:
        """Decode frames ``inds`` (any order, repeats allowed): time
        indices, or with ``by_order`` display-order indices into
        :meth:`frame_times`.

        Returns:
            uint8 ``(len(inds), H, W, 3)`` RGB.
        """
        raise NotImplementedError

    def frame_times(self) -> np.ndarray:
        """The file's timetable: float64 ``(N,)`` presentation time (s from
        the first displayed frame) of every frame it shows, in display
        order (``i / fps`` where the file stores none: AVI, raw streams).
        Row ``k`` is frame ``k`` of ``get_batch(..., by_order=True)``."""
        return np.arange(self.num_frames, dtype=np.float64) / self.fps

    @property
    def start_lead(self) -> float:
        """Seconds from the file's start to its first displayed frame,
        ``start_time - file_start_time`` (>= 0): where the ``ffmpeg`` CLI,
        which counts time from the file's start, shows frame 0 (e.g. an
        MP4 whose audio starts 50 ms before its video: 0.05)."""
        return max(0.0, float(self.start_time) - float(self.file_start_time))

    def close(self) -> None:
        pass

    def _check(self, inds: np.ndarray, count: Optional[int] = None) -> None:
        """Refuse indices outside ``[0, count)`` (default: num_frames)."""
        count = self.num_frames if count is None else count
        if len(inds) and (inds.min() < 0 or inds.max() >= count):
            raise MediaDecodeError(
                self.filename, f'frame index {int(inds.max())} out of range '
                f'[0, {count})')


def _varying_rate(starts: np.ndarray, fps: float) -> bool:
    """Whether frames starting at ``starts`` (s from the first) leave the
    ``1 / fps`` grid more than once: a single irregular step is no
    variable rate (see :meth:`DecordVideoReader._vfr_map`)."""
    idx = np.round(np.asarray(starts) * fps).astype(np.int64)
    return np.count_nonzero(np.diff(idx) != 1) > 1


def _target_size(orig_hw: Tuple[int, int],
                 decode_size: Optional[Tuple[int, int]],
                 decode_short_side: Optional[int]) -> Optional[Tuple[int,
                                                                     int]]:
    """(H, W) to decode to, or None to keep the stored size."""
    h, w = orig_hw
    if decode_size is not None:
        dw, dh = decode_size
        return (int(dh), int(dw))
    if decode_short_side is not None:
        s = float(decode_short_side)
        if h <= w:
            return (int(s), int(round(w * s / h)))
        return (int(round(h * s / w)), int(s))
    return None


class DecordVideoReader(BaseVideoReader):
    """decord 0.6 ``VideoReader`` (``get_batch`` is frame-accurate).

    Frames come out as displayed, like :class:`PyAVVideoReader`'s: decord
    turns MP4/MOV frames by their display matrix's rotation itself, but
    ignores its flips and Matroska's matrix, which are applied here
    (``np.rot90``, mirror; :func:`~.orientation.display_orientation`).
    decord's resize-on-decode is wrong on a rotated file (it squashed the
    turned frame into the stored frame's shape), so a rotated file is
    decoded at full size and resized here with swscale.

    decord returns wrong frames (with the right count) for containers
    without a frame index (MPEG-TS, MPEG-PS, ASF), B-frames in AVI,
    H.264/HEVC open GOPs and MPEG-4 Part 2 B-VOPs and not-coded VOPs, and
    refuses raw video streams: such a file is read by a
    :class:`PyAVVideoReader` instead, decided before decord would open it
    (:func:`~.decord_checks.decord_misreads`); ``misread_reason`` says
    why (None: decord reads the file).

    Args:
        filename: Video file.
        num_threads: decord's decoder threads (0 = decord's default,
            auto).
        pyav_num_threads: FFmpeg decoder threads of the PyAV reader that
            serves a file decord misreads (0 = FFmpeg's auto count; None:
            :func:`~.threads.shared_decoder_threads`, the node's cores
            shared among the loader processes). Not ``num_threads``,
            which was chosen for decord.
        decode_size: ``(W, H)`` to resize to while decoding.
        decode_short_side: Resize so the short side has this length (keeps
            the aspect ratio; the size is read from the header with PyAV).
        fault_tol: decord's tolerance of corrupt frames, which it otherwise
            silently replaces by copies of their neighbours: ``-1`` never
            complain, ``0 < x < 1`` a fraction of the video, ``x >= 1`` a
            count. Exceeding it raises :class:`MediaDecodeError`.
        frame_size: ``(H, W)`` as displayed when the caller already read it
            (:func:`probe_frame_size`); skips the header probe.
        container: A PyAV container of ``filename`` (:func:`open_media`)
            to read ``start_time`` from; the caller keeps it.

    ``start_time``: the first displayed frame's time (s) in the file's
    clock (decord's own timestamps count from it), and ``file_start_time``,
    read from ``container`` or, on first use of either, from a PyAV open of
    the file.
    """

    def __init__(self,
                 filename: str,
                 num_threads: int = 1,
                 decode_size: Optional[Tuple[int, int]] = None,
                 decode_short_side: Optional[int] = None,
                 fault_tol: float = -1,
                 frame_size: Optional[Tuple[int, int]] = None,
                 container=None,
                 pyav_num_threads: Optional[int] = None) -> None:
        super().__init__()
        try:
            import decord
        except ImportError as err:  # pragma: no cover
            raise ImportError('backend="decord" needs `pip install decord`; '
                              'or use backend="pyav"') from err
        self.filename = filename
        self._start_time = None if container is None else \
            video_start_time(container)
        self._file_start = None if container is None else \
            file_start_time(container)
        #: why decord would return wrong frames for this file, which PyAV
        #: then reads (:func:`~.decord_checks.decord_misreads`); decided
        #: before decord's open, which costs more than the check
        self.misread_reason = decord_misreads(filename, container)
        self._pyav: Optional['PyAVVideoReader'] = None
        self._vr = None
        if self.misread_reason is not None:
            self._read_with_pyav(pyav_num_threads, decode_size,
                                 decode_short_side)
            return
        degrees, self._mirror = display_orientation(filename)
        # decord's FFmpeg turns MP4/MOV frames by the matrix's rotation,
        # flips ignored (a left-right mirror reads as a half turn), and
        # reads nothing from Matroska: the rest of the turn is made here
        applied = quarter_turns(matrix_rotation(filename)) if \
            is_iso_bmff(filename) else 0
        self._turn = (quarter_turns(degrees) - applied) % 4
        quarter = quarter_turns(degrees) or applied
        self._resize_to = None
        try:
            kw = dict(num_threads=num_threads, fault_tol=str(fault_tol))
            target = None
            if decode_size is not None or decode_short_side is not None:
                # decord tells the size only by decoding; the header is
                # enough for PyAV
                self.orig_shape = (tuple(int(x) for x in frame_size)
                                   if frame_size else
                                   probe_frame_size(filename))
                target = _target_size(self.orig_shape, decode_size,
                                      decode_short_side)
                if quarter:
                    self._resize_to = target
                else:
                    kw.update(width=target[1], height=target[0])
            vr = decord.VideoReader(open_source(filename), **kw)
            self.num_frames = len(vr)
            self.fps = float(vr.get_avg_fps())
        except MediaDecodeError:
            raise
        except Exception as err:  # decord raises DECORDError/RuntimeError
            raise MediaDecodeError(filename, short_reason(err)) from err
        if self.num_frames <= 0:
            raise MediaDecodeError(filename, 'no video frames')
        # without resize the size is learnt from the first decoded batch
        self.shape = target
        if target is None:
            self.orig_shape = None
        self._vr = vr
        #: every frame's time from frame 0's; None for AVI (see _vfr_map)
        #: and where decord cannot tell them
        self._stamps = None if is_avi(filename) else self._timestamps(vr)
        self._time_map = None if self._stamps is None else \
            self._vfr_map(self._stamps)
        self.vfr = self._time_map is not None

    def _read_with_pyav(self, num_threads: Optional[int],
                        decode_size: Optional[Tuple[int, int]],
                        decode_short_side: Optional[int]) -> None:
        """Serve this reader from a :class:`PyAVVideoReader` of the file
        (decord never opens it): its count, rate, sizes and start time."""
        if num_threads is None:
            num_threads = shared_decoder_threads()
        self._pyav = PyAVVideoReader(self.filename, num_threads=num_threads,
                                     decode_size=decode_size,
                                     decode_short_side=decode_short_side)
        self.num_frames, self.fps = self._pyav.num_frames, self._pyav.fps
        self.shape, self.orig_shape = self._pyav.shape, self._pyav.orig_shape
        self.vfr, self._time_map = self._pyav.vfr, None
        self._stamps = None
        self._start_time = self._pyav.start_time
        self._file_start = self._pyav.file_start_time
        self.raw_stream = self._pyav.raw_stream

    @property
    def start_time_known(self) -> bool:
        """Whether :attr:`start_time` is read already (no PyAV open)."""
        return self._start_time is not None

    def _read_starts(self) -> None:
        container = open_media(self.filename)
        try:
            self._start_time = video_start_time(container)
            self._file_start = file_start_time(container)
        finally:
            container.close()

    @property
    def start_time(self) -> float:
        if self._start_time is None:
            self._read_starts()
        return self._start_time

    @property
    def file_start_time(self) -> float:
        if self._file_start is None:
            self._read_starts()
        return self._file_start

    def _timestamps(self, vr) -> Optional[np.ndarray]:
        """float64 ``(T,)`` start of each of decord's frames (s from frame
        0's), from its index (0.2 ms for a 10 s 30 fps MP4); None where it
        has none."""
        try:
            starts = np.asarray(vr.get_frame_timestamp(
                np.arange(self.num_frames)), dtype=np.float64)[:, 0]
        except Exception:  # no index: keep decord's own numbering
            return None
        return starts - starts[0]

    def _vfr_map(self, starts: np.ndarray) -> Optional[np.ndarray]:
        """Index -> frame map for variable-frame-rate files, else None.

        decord numbers frames by count, which puts frame ``i`` of a VFR file
        far from ``i / fps`` seconds (the time spans views and their audio
        are cut by). Index ``i`` is mapped to the first frame whose time
        rounds to ``i / fps`` or later (at or after ``(i - 1/2) / fps``),
        the rule of :class:`PyAVVideoReader`, so both backends return the
        same frames and video stays aligned with audio.

        Only a rate that varies more than once counts: a single irregular
        step (decord timed the first frame of an MPEG-4 + MP3 AVI two
        frames before the second) would shift every later index by its
        size, while counting, which decord does, was exact. AVI files are
        never remapped (see ``__init__``): they store no presentation
        times, and :class:`PyAVVideoReader` counts their frames too.
        """
        if not _varying_rate(starts, self.fps):
            return None  # constant frame rate, or one gap
        idx = np.maximum.accumulate(
            np.round(starts * self.fps).astype(np.int64))
        frame_of = np.searchsorted(idx, np.arange(self.num_frames), 'left')
        return np.minimum(frame_of, self.num_frames - 1)

    def frame_times(self) -> np.ndarray:
        if self._pyav is not None:
            return self._pyav.frame_times()
        if self._stamps is None:
            return super().frame_times()
        return self._stamps

    def get_batch(self, inds: Sequence[int],
                  by_order: bool = False) -> np.ndarray:
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        self._check(inds)
        self.num_decode_calls += 1
        if self._pyav is not None:
            frames = self._pyav.get_batch(inds, by_order)
            self.last_frame_times = self._pyav.last_frame_times
            return frames
        # decord numbers frames in display order already
        if self._time_map is not None and not by_order:
            inds = self._time_map[inds]
        try:
            frames = self._vr.get_batch(inds.tolist()).asnumpy()
        except Exception as err:
            raise MediaDecodeError(self.filename, short_reason(err)) from err
        self.last_frame_times = self._frame_times(inds)
        if self._turn:
            frames = np.rot90(frames, self._turn, axes=(1, 2))
        if self._mirror:
            frames = frames[:, :, ::-1]
        if self._turn or self._mirror:
            frames = np.ascontiguousarray(frames)
        if self._resize_to is not None:
            frames = _resize_rgb(frames, self._resize_to)
        if self.shape is None:
            self.shape = self.orig_shape = tuple(frames.shape[1:3])
        return frames

    def _frame_times(self, frames: np.ndarray) -> np.ndarray:
        """Presentation times (s from frame 0) of decord's frames
        ``frames`` (its own numbering, after the VFR remap). AVI stores no
        presentation times (see ``__init__``): ``i / fps`` there, and
        wherever decord cannot tell them."""
        if self._stamps is not None:
            return self._stamps[frames]
        return frames.astype(np.float64) / self.fps

    def close(self) -> None:
        self._vr = None
        if self._pyav is not None:
            self._pyav.close()


def _resize_rgb(frames: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` resized to ``size`` ``(H, W)`` with swscale
    (the PyAV reader's resize, there from the decoder's YUV)."""
    import av
    h, w = size
    if frames.shape[1:3] == (h, w):
        return frames
    reformatter = av.video.reformatter.VideoReformatter()
    return np.stack([
        reformatter.reformat(
            av.VideoFrame.from_ndarray(f, format='rgb24'), width=w, height=h,
            format='rgb24').to_ndarray() for f in frames
    ])


#: Decoders whose ``skip_frame='NONREF'`` drops only frames that no other
#: frame refers to, so skipping those shown before a wanted frame changes
#: nothing that is returned: checked index by index against a sequential
#: decode in ``tests/datasets/test_container_matrix.py``. Not AV1: with
#: libdav1d it dropped frames that are shown later (hidden alt-refs) and
#: index i came back as frame i + 1 for about half the indices; other
#: codecs are not checked, so they decode every frame.
_SKIP_NONREF_CODECS = frozenset({'h264', 'hevc'})

#: ``(frame, index, pts, duration)`` of a picture shown: a decoded
#: ``av.VideoFrame``, its frame index, and its timestamp and duration (in
#: the stream's time base; None where the file has none)
_Shown = Tuple[object, int, Optional[int], Optional[int]]

#: FFmpeg demuxers whose frame timestamps are only right when the file is
#: read from its top: MPEG-PS (``.mpg``, ``.mpeg``, ``.vob``; the
#: ``mpeg`` demuxer) stamps a frame only where a PES packet begins with it,
#: and FFmpeg fills in the others from the frames before. After a seek it
#: filled them in from a state the seek reset, half a frame or more away
#: from the sequential read's (MPEG-1 and MPEG-2, B-frames or none), so the
#: PyAV reader returned a neighbouring frame for up to 26 of the 60
#: indices of a file (frame 28 for 29), and the wrong picture's packet
#: raised errors. The reader decodes these files from the top for
#: every batch: exact, at the cost of decoding up to the last index asked.
#: Also the raw streams (:func:`~.probe.raw_video_format`).
_TOP_ONLY_FORMATS = frozenset({'mpeg'})

# Raw video streams (:data:`~.probe.RAW_VIDEO_FORMATS`: H.264, HEVC,
# MPEG-4 Part 2, MPEG-1/2 video without a container) have no timestamps:
# FFmpeg makes them up at 25 fps whatever the stream's rate, a seek by
# time failed (H.264, HEVC: ``Operation not permitted``) or moved them by
# a frame (MPEG-2), so their frames are counted from the top, as in AVI,
# at the rate their headers state (the H.264/HEVC VUI timing, the VOL, the
# sequence header: the decoder's ``framerate``). A stream that states none
# is refused: nothing in the file gives its frames a time.

#: an MPEG-PS longer than this (s) is worth re-encoding: a clip at its end
#: decodes the whole file (MPEG-2 720x576: about 2 ms a frame here)
_FROM_TOP_WARN_S = 60.0
_FROM_TOP_WARNED = False


def _warn_slow_from_top(filename: str, duration: float) -> None:
    """Warn once per process about the first file read from its top
    (:data:`_TOP_ONLY_FORMATS`, raw streams) longer than
    :data:`_FROM_TOP_WARN_S`."""
    global _FROM_TOP_WARNED
    if _FROM_TOP_WARNED or duration <= _FROM_TOP_WARN_S:
        return
    _FROM_TOP_WARNED = True
    warnings.warn(
        f'{filename} ({duration:.0f} s) is decoded from its top for every '
        'sample (MPEG-PS timestamps are only exact read in order; a raw '
        'video stream has none), so a clip near its end decodes the '
        'whole file; re-encode such '
        'files to MP4 with tools/data/reencode_videos.py for training. '
        'Said once per process.', stacklevel=3)


#: container format -> seconds before a wanted frame that the last seek
#: had to go back to in this process, for streams without a seek index
#: (MPEG-TS: its seeks landed 1-2 s late), so later files start there
#: instead of repeating the same retries; indexed containers start at 0
_SEEK_BACK: dict = {}


class PyAVVideoReader(BaseVideoReader):
    """PyAV reader: the same interface as decord's, and files decord cannot
    read.

    Frames are located by presentation time: frame ``i`` is the first one
    whose timestamp rounds to ``i / fps`` or later after the first displayed
    frame (``start_time``; taken from the first packets' timestamps, as the
    header's stream start can be another stream's, e.g. late audio in MKV).
    Indices are decoded in sorted order with a seek whenever a keyframe of
    the container's index lies between the last decoded frame and the next
    wanted one (decoding restarts there), or that one lies more than
    ``seek_gap`` frames ahead. A seek must land at or before its frame:
    when the first frame decoded after it is later (MPEG-TS has no index
    and its seeks land up to seconds late; a keyframe found by its decode
    time can be shown after the wanted frame), the seek is repeated
    earlier, 4x further back each time down to the file's start; for a
    stream without an index the distance is kept for the next seeks (of
    every reader of that format in the process). After a seek, packets
    before the first keyframe are not decoded. A frame is only returned
    for an index it does not match exactly (VFR, a frame missing from the
    file) when no packet of the indices between was demuxed; a packet the
    decoder returned nothing for raises :class:`MediaDecodeError` instead.
    AVI files carry no presentation times, so there frames are counted from
    the start, as in raw video streams (``.h264``, ``.hevc``, a raw
    ``.m4v``, ``.m2v``: :data:`~.probe.RAW_VIDEO_FORMATS`; ``raw_stream``
    names the codec, None in a container), at the rate their headers
    state. MPEG-PS timestamps are exact only read in
    order: each batch is decoded from the file's top
    (:data:`_TOP_ONLY_FORMATS`). When the header gives no frame count
    (MKV/WebM) or an unreliable one (AVI), the packets are counted once at
    open (demux only, no decoding); those packets' timestamps are then the
    timetable (:meth:`frame_times`), which elsewhere is demuxed when first
    asked for. ``vfr`` is set where the mean rate is away from the
    stream's base rate or, where the packets were counted, where their
    timestamps leave the ``1 / fps`` grid more than once (the rates of a
    variable-rate MKV or MPEG-TS file do not tell).

    Frames come out as displayed: a display matrix (a phone's portrait
    video stored as landscape frames) is applied (``np.rot90``, and a
    mirror where the matrix flips, as FFmpeg's players show it), and
    ``shape``/``orig_shape`` are the displayed sizes, read from the header
    (:func:`~.orientation.display_orientation`); where the header has no
    matrix, a decoded frame's ``rotation`` (e.g. from an H.264 SEI) still
    applies.

    Args:
        filename: Video file.
        num_threads: FFmpeg decoder threads (0 = FFmpeg's auto count,
            ``min(cores + 1, 16)``); the data pipeline's PyAV reads share
            the node's cores among its loader processes
            (:func:`~.threads.shared_decoder_threads`,
            ``VideoInit(pyav_num_threads=)``).
            :attr:`decoder_threads` reads back what FFmpeg runs.
        decode_size: ``(W, H)`` to resize to (swscale, bilinear-area), of
            the displayed frame.
        decode_short_side: Resize so the short side has this length.
        seek_gap: Seek instead of decoding through gaps larger than this
            (when the container has no keyframe index).
        skip_nonref: Let the decoder drop the frames no other frame refers
            to (FFmpeg's ``skip_frame='NONREF'``) among those shown before
            the next wanted frame: the run-up from the keyframe and the gaps
            between wanted frames. What is returned does not change; with
            x264's defaults, 20-35 % of the frames decoded for a two-clip
            sample were dropped (keyframe interval 30-250; see
            ``docs/benchmarks.md``). Applied to H.264 and HEVC only
            (``_SKIP_NONREF_CODECS``); the attribute says whether it is in
            effect.
        hwaccel: Decode on this FFmpeg device type (``'cuda'``: NVDEC;
            :func:`hw_accel`); frames still come back as host arrays.
            ``num_threads`` then does not apply.
        container: A container of ``filename`` from :func:`open_media`
            (e.g. the one :class:`~mmavcl.datasets.transforms.VideoInit`
            opened to check ``max_pixels``), so the file is not opened
            twice; the reader owns it from then on.
        thread_type: FFmpeg's kind of threads (PyAV's ``thread_type``):
            ``'AUTO'`` (frame threads where the codec has them, else slice
            threads), ``'FRAME'`` or ``'SLICE'``. The pixels do not depend
            on it, nor on ``num_threads``.

    ``start_time`` is the first displayed frame's time (s) in the file's
    clock (0 when the stream starts at 0; audio timestamps share that
    clock), ``file_start_time`` the file's start in it (FFmpeg's container
    start: the earliest stream's). ``num_frames_decoded`` counts the frames
    the decoder has returned, ``num_seeks`` the seeks made;
    ``frame_format`` is the pixel
    format of the first one returned (frames copied back from NVDEC are
    ``'nv12'`` where FFmpeg's H.264 decoder gives ``'yuv420p'``: a hardware
    decoder that failed to start and left the stream to software shows
    here).
    """

    def __init__(self,
                 filename: str,
                 num_threads: int = 0,
                 decode_size: Optional[Tuple[int, int]] = None,
                 decode_short_side: Optional[int] = None,
                 seek_gap: int = 64,
                 skip_nonref: bool = True,
                 hwaccel: Optional[str] = None,
                 container=None,
                 thread_type: str = 'AUTO') -> None:
        super().__init__()
        import av
        # outside the try below: a missing device is not this file's fault
        accel = hw_accel(hwaccel) if hwaccel else None
        self.filename = filename
        self.seek_gap = seek_gap
        self.num_frames_decoded = 0
        self.num_seeks = 0
        self.frame_format: Optional[str] = None
        self._reformatter = av.video.reformatter.VideoReformatter()
        self._keys: Optional[np.ndarray] = None
        self._key_ticks: Optional[np.ndarray] = None
        #: sorted pts of every frame shown (frame_times), read on demand
        self._shown_pts: Optional[np.ndarray] = None
        #: _shown_pts while a display-order batch decodes: indices are
        #: then ranks in it (None: time indices)
        self._order: Optional[np.ndarray] = None
        self._owns_container = True
        self._container = container
        self._resize = (decode_size, decode_short_side)
        self.num_threads = num_threads
        try:
            if self._container is None:
                self._container = open_media(filename, hwaccel=accel)
            if not self._container.streams.video:
                raise MediaDecodeError(filename, 'no video stream')
            stream = self._container.streams.video[0]
            if stream.codec_context is None:
                raise MediaDecodeError(
                    filename, 'unsupported video codec: the file has a video '
                    'stream but this FFmpeg build has no decoder for it')
            if not (stream.codec_context.width and
                    stream.codec_context.height):
                # the cheap probe left the size unknown (MPEG-4 Part 2 in
                # MP4): the full probe decodes until it knows
                self._container.close()
                self._container = av.open(open_source(filename),
                                              hwaccel=accel)
                stream = self._container.streams.video[0]
            if accel is None:
                stream.thread_type = thread_type
                if num_threads:
                    stream.thread_count = num_threads
            else:
                stream.thread_count = 1  # the device decodes
            demuxers = set(self._container.format.name.split(','))
            self.raw_stream = raw_video_format(self._container)
            raw = self.raw_stream is not None
            # a raw stream's mean rate is FFmpeg's from made-up timestamps
            # (25 for a 24 fps stream); the decoder's is its headers'
            rate = stream.codec_context.framerate if raw else (
                stream.average_rate or stream.guessed_rate)
            if raw and not rate:
                raise MediaDecodeError(
                    filename, f'raw {self.raw_stream} stream without a '
                    'frame rate in its headers (and no container to time '
                    'its frames): mux it at its rate, e.g. ffmpeg '
                    '-framerate 30 -i FILE -c copy OUT.mp4')
            if not rate:
                raise MediaDecodeError(filename, 'unknown frame rate')
            self.fps = float(rate)
            # frames are found by time anyway; the flag tells samplers to
            # read the timetable (SampleSegments' grid). A mean rate away
            # from the stream's base rate means VFR; where the packets are
            # counted (MKV, MPEG-TS), their timestamps tell (below)
            base = stream.base_rate
            self.vfr = not raw and bool(
                base and abs(float(rate) / float(base) - 1) > 0.01)
            self._tb = float(stream.time_base)
            self.skip_nonref = bool(
                skip_nonref
                and stream.codec_context.name in _SKIP_NONREF_CODECS)
            # AVI stores no presentation times (B-frames make them jump),
            # a raw stream none: frames are found by counting there, by
            # timestamp elsewhere
            self._by_count = 'avi' in self._container.format.name or raw
            #: MPEG-PS gives exact timestamps only read from the top: every
            #: sample is decoded from there (:data:`_TOP_ONLY_FORMATS`)
            self._from_top = raw or bool(_TOP_ONLY_FORMATS & demuxers)
            n = stream.frames
            # headers lie or stay silent (MKV, AVI): count the packets,
            # which costs a demux but no decoding
            count = not n or self._by_count
            pts: Optional[list] = [] if count and not self._by_count \
                else None
            counted, start, lowest, leading = scan_video(
                self._container, stream, count=count, shown_pts=pts)
            #: packets before the first keyframe, which decode to no
            #: picture (H.264) or a wrong one (MPEG-4 Part 2 P-VOPs without
            #: their reference): not counted as frames
            self._leading = leading
            if count:
                n = counted
            self.num_frames = int(n)
            self._start = start if start is not None else (
                stream.start_time or 0)
            if pts:
                # demuxed anyway: the timetable, and whether the rate
                # varies, which MKV's and MPEG-TS's rates do not tell
                self._shown_pts = self._sorted_shown(pts)
                self.vfr = self.vfr or _varying_rate(
                    self.frame_times(), self.fps)
            #: the earliest timestamp seen: a seek well before it goes to
            #: the top of the file in every demuxer
            self._lowest = lowest if lowest is not None else self._start
            self.start_time = float(self._start * self._tb)
            self.file_start_time = file_start_time(self._container)
            #: seconds before a wanted frame to seek to (see _SEEK_BACK)
            self._format = self._container.format.name
            self._indexed = len(stream.index_entries) > 0
            self._seek_back = 0.0 if self._indexed else _SEEK_BACK.get(
                self._format, 0.0)
            h, w = stream.codec_context.height, stream.codec_context.width
            #: tells MPEG-4 Part 2's not-coded VOPs (None: another codec)
            self._not_coded = NotCodedVops(stream) if \
                stream.codec_context.name == 'mpeg4' else None
        except MediaDecodeError:
            self.close()
            raise
        except Exception as err:  # av.error.FFmpegError and friends
            self.close()
            raise MediaDecodeError(filename, short_reason(err)) from err
        if self.num_frames <= 0 or not h or not w:
            self.close()
            raise MediaDecodeError(filename, 'no video frames')
        if self._from_top:
            _warn_slow_from_top(filename, self.num_frames / self.fps)
        self._stream = stream
        self._coded = (int(h), int(w))
        #: from the header; frames opened with open_media's probe options
        #: carry no display matrix of the stream's (``rotation`` reads 0),
        #: so theirs is only used where the header tells nothing
        degrees, self._mirror = display_orientation(filename)
        self._header_quarter = quarter_turns(degrees)
        #: whether the header has a matrix (a frame's ``rotation`` reads a
        #: left-right mirror as a half turn: the header's reading wins)
        self._header_known = bool(degrees or self._mirror)
        self._set_rotation(self._header_quarter)

    @property
    def decoder_threads(self) -> int:
        """The threads FFmpeg's decoder runs, read back from the codec
        context: after the first decode FFmpeg has resolved auto (0: its
        own count for this machine) and left 1 where the codec lacks the
        asked ``thread_type`` (MPEG-4 Part 2 has no slice threads, MPEG-2
        no frame threads)."""
        return int(self._stream.codec_context.thread_count)

    def _set_rotation(self, quarter: int) -> None:
        """Display the frames turned ``quarter`` x 90 degrees
        counter-clockwise: the sizes this reader reports and resizes to."""
        self._quarter = quarter
        h, w = self._coded
        shown = (w, h) if quarter % 2 else (h, w)
        self.orig_shape = shown
        self.shape = _target_size(shown, *self._resize) or shown
        th, tw = self.shape
        # swscale resizes the stored frame, which is then turned
        self._stored_size = (tw, th) if quarter % 2 else (th, tw)

    def _index(self, frame) -> int:
        return self._pts_index(frame.pts if frame.pts is not None else 0)

    def _pts_index(self, pts: int) -> int:
        if self._order is not None:
            return int(np.searchsorted(self._order, pts, 'left'))
        return int(round((pts - self._start) * self._tb * self.fps))

    def _index_time(self, idx: int) -> float:
        """Time (s from the first displayed frame) of index ``idx``."""
        if self._order is not None:
            return float((self._order[idx] - self._start) * self._tb)
        return idx / self.fps

    def frame_times(self) -> np.ndarray:
        """See :meth:`BaseVideoReader.frame_times`. Read once, from the
        packets' timestamps, sorted (B-frames are stored before the frames
        they are shown after): a demux of the whole stream, no decoding
        (0.9 ms for a 10 s, 30 fps, 340x256 H.264 MP4). AVI and raw
        streams count frames (:attr:`_by_count`): ``i / fps``."""
        if self._by_count:
            return super().frame_times()
        if self._shown_pts is None:
            try:
                self._shown_pts = self._read_shown_pts()
            except MediaDecodeError:
                raise
            except Exception as err:
                raise MediaDecodeError(self.filename,
                                       short_reason(err)) from err
        return (self._shown_pts - self._start) * self._tb

    def _read_shown_pts(self) -> np.ndarray:
        """Sorted pts of the packets shown: with a size and a timestamp,
        not discarded (before an MP4 edit list's start), not before the
        first displayed frame (:meth:`_sorted_shown`)."""
        self._rewind()
        pts: list = []
        scan_video(self._container, self._stream, count=True, shown_pts=pts)
        return self._sorted_shown(pts)

    def _sorted_shown(self, pts: list) -> np.ndarray:
        """Packet timestamps ``pts`` sorted, from the first displayed
        frame's on."""
        shown = np.unique(np.asarray(pts, dtype=np.int64))
        shown = shown[shown >= self._start]
        if not len(shown):
            raise MediaDecodeError(self.filename, 'no video frame has a '
                                   'timestamp')
        return shown

    def _keyframes(self) -> np.ndarray:
        """Display indices of the keyframes in the container's index (MP4
        ``stss``, MKV cues once read); empty when it has none. The index
        holds decode times: counted from the first keyframe's they are
        display indices when every keyframe has the same decode delay
        (x264's), and off by a frame or two otherwise, which only moves a
        seek decision."""
        if self._keys is None or not len(self._keys):
            stamps = np.asarray([e.timestamp for e in
                                 self._stream.index_entries
                                 if e.is_keyframe], np.int64)
            self._key_ticks = stamps - (stamps[0] if len(stamps) else 0)
            self._keys = np.round(self._key_ticks * self._tb *
                                  self.fps).astype(np.int64)
        if self._order is not None:  # the same, as display-order ranks
            return np.searchsorted(self._order - self._order[0],
                                   self._key_ticks, 'left')
        return self._keys

    def _seek_pays(self, idx: int, target: int) -> bool:
        """Seek rather than decode on from frame ``idx`` to ``target``."""
        if self._from_top:
            return False  # a seek would go back to the top
        if target - idx > self.seek_gap:
            return True
        keys = self._keyframes()
        k = int(np.searchsorted(keys, target, side='right'))
        # a seek restarts at keys[k - 1], the last keyframe <= target
        return k > 0 and keys[k - 1] > idx + 1

    def _seek(self, target: int, back: float) -> bool:
        """Seek to ``back`` seconds before frame ``target``; True when that
        is before the first frame, and the seek went to the file's top
        (always for a file read from its top)."""
        if self._from_top:
            self._rewind()
            return True
        self.num_seeks += 1
        t = self._index_time(target) - back
        if t < 0:
            # an hour before the earliest timestamp: demuxers that search
            # by timestamp (MPEG-TS: by PCR, which runs ahead of the
            # frames) then start at the first packet
            ts = self._lowest - int(round(3600 / self._tb))
        else:
            ts = self._start + int(round(t / self._tb))
        self._container.seek(ts, stream=self._stream, backward=True)
        return t < 0

    def _rewind(self) -> None:
        """Seek to the first packet; by byte where the file is read from
        its top (a raw MPEG-1 video stream refused a seek by time)."""
        self.num_seeks += 1
        if self._from_top:
            self._container.seek(0, unsupported_byte_offset=True)
        else:
            self._container.seek(0, stream=self._stream)

    def _frames(self, next_wanted: Callable[[], int], demuxed: List[int],
                from_key: bool = True) -> Iterator[_Shown]:
        """``(frame, index, pts, duration)`` of every picture shown from
        the current position, in display order; the frame index of every
        packet demuxed is added to the sorted ``demuxed``. A packet shown
        before ``next_wanted()`` cannot be returned (frames are returned
        from the wanted index on, and that index only grows), so a
        non-reference one need not be decoded at all.

        An MPEG-4 Part 2 not-coded VOP (:class:`~.mpeg4.NotCodedVops`)
        shows the previous picture again: it comes out as that ``frame``
        with the VOP's own index and timestamp, as a player keeps it on
        screen for it (the decoder returns nothing for it).

        With ``from_key``, packets before the first keyframe are dropped: a
        seek without an index (MPEG-TS) can land on any packet, and
        decoding from a P-frame gave grey frames (MPEG-4 Part 2) or lost
        the B-frames that refer past it (H.264), each with a valid
        timestamp."""
        ctx = self._stream.codec_context
        skip = self.skip_nonref
        #: index -> (pts, duration) of the not-coded VOPs demuxed
        repeats: dict = {}
        shown = previous = None
        for packet in self._container.demux(self._stream):
            if from_key:
                if not packet.is_keyframe:
                    continue
                from_key = False
            if packet.pts is not None:
                index = self._pts_index(packet.pts)
                bisect.insort(demuxed, index)
                if self._not_coded and packet.size and self._not_coded(
                        packet, previous):
                    repeats[index] = (packet.pts, packet.duration)
                if skip:
                    ctx.skip_frame = 'NONREF' if index < next_wanted() \
                        else 'DEFAULT'
            elif skip:
                ctx.skip_frame = 'DEFAULT'
            if packet.size:
                previous = packet
            for frame in packet.decode():
                self.num_frames_decoded += 1
                idx = self._index(frame)
                if repeats and shown is not None:
                    yield from self._repeat(shown, repeats, idx)
                shown = frame
                yield frame, idx, frame.pts, frame.duration
        if repeats and shown is not None:  # after the last picture
            yield from self._repeat(shown, repeats, None)

    @staticmethod
    def _repeat(frame, repeats: dict, before: Optional[int]) -> Iterator:
        """``frame`` again for each not-coded VOP in ``repeats`` shown
        before index ``before`` (None: all), taken out of ``repeats``."""
        for k in sorted(k for k in repeats if before is None or k < before):
            pts, duration = repeats.pop(k)
            yield frame, k, pts, duration

    def _to_array(self, frame) -> np.ndarray:
        # one reformatter (swscale context) for every frame: each frame's
        # own would build a new context per call, which cost 3-4x the
        # conversion itself at 340x256 -> 170x128 (0.6 vs 0.15 ms here)
        quarter = self._header_quarter if self._header_known else \
            quarter_turns(frame.rotation)
        if quarter != self._quarter:  # a rotation the header did not tell
            self._set_rotation(quarter)
        h, w = self._stored_size
        if self.frame_format is None:
            self.frame_format = frame.format.name
        out = self._reformatter.reformat(
            frame, width=w, height=h, format='rgb24').to_ndarray()
        if quarter:
            out = np.rot90(out, quarter)
        return out[:, ::-1] if self._mirror else out

    def get_batch(self, inds: Sequence[int],
                  by_order: bool = False) -> np.ndarray:
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        # counted frames (AVI, raw streams) are numbered in display order
        by_order = by_order and not self._by_count
        if by_order:
            self._check(inds, len(self.frame_times()))
        else:
            self._check(inds)
        self.num_decode_calls += 1
        got, times = {}, {}
        self._order = self._shown_pts if by_order else None
        try:
            for i, arr, when in self._decode_sorted(np.unique(inds)):
                got[i], times[i] = arr, when
        finally:
            self._order = None
        self.last_frame_times = np.array([times[int(i)] for i in inds],
                                         dtype=np.float64)
        return np.stack([got[int(i)] for i in inds])

    def iter_frames(self, inds: Optional[Sequence[int]] = None
                    ) -> Iterator[Tuple[int, np.ndarray, float]]:
        """Decode frames ``inds`` (default: every frame, ``0 .. T - 1``)
        one at a time, in increasing index order, through the path of
        :meth:`get_batch` (the same frame for each index, the same errors:
        a packet the decoder returned no picture for, a stream that ends
        before the header's frame count), holding one frame at a time: a
        whole file is checked in the memory of a frame.

        Yields:
            ``(index, frame, time)``: the index, uint8 ``(H, W, 3)`` RGB as
            displayed, and its presentation time (s from the first
            displayed frame; ``index / fps`` for AVI).
        """
        want = np.arange(self.num_frames) if inds is None else np.unique(
            np.asarray(inds, dtype=np.int64).reshape(-1))
        self._check(want)
        self.num_decode_calls += 1
        yield from self._decode_sorted(want)

    def _decode_sorted(self, want: np.ndarray
                       ) -> Iterator[Tuple[int, np.ndarray, float]]:
        """``(index, frame, time)`` of each index of the sorted, unique
        ``want``, in order; any decoder failure a :class:`MediaDecodeError`
        naming the file."""
        try:
            if self._by_count:
                for i, arr in self._get_by_count(want):
                    yield i, arr, i / self.fps
                return
            pos = 0
            while pos < len(want):
                pos = yield from self._decode_run(want, pos)
        except MediaDecodeError:
            raise
        except Exception as err:
            raise MediaDecodeError(self.filename, short_reason(err)) from err

    def _time(self, idx: int, pts: Optional[int]) -> float:
        """Presentation time (s) from the first displayed frame of the
        picture shown at ``idx``; its nominal time where it has no
        timestamp."""
        if pts is None:
            return idx / self.fps
        return float((pts - self._start) * self._tb)

    def _decode_run(self, want: np.ndarray, pos: int
                    ) -> Generator[Tuple[int, np.ndarray, float], None, int]:
        """Seek before ``want[pos]`` and decode on, yielding ``(index,
        frame, time)`` for every wanted index met, until another seek pays
        or ``want`` is done. Returns the position in ``want`` reached."""
        target = int(want[pos])
        back = self._seek_back
        while True:
            from_start = self._seek(target, back)
            first = last = None
            demuxed: List[int] = []
            for shown in self._frames(lambda: target, demuxed,
                                      from_key=not from_start):
                frame, idx, pts, _ = shown
                if first is None:
                    first = idx
                    if idx > target and not from_start:
                        break  # landed past the wanted frame: seek earlier
                if idx < target:
                    continue
                if idx > target and idx > first:
                    self._check_gap(demuxed, max(target, first + 1), idx)
                last = shown
                # a frame covers every wanted index up to its own (VFR, or
                # frames missing from the file): the first frame shown at
                # or after the index's time
                arr, when = self._to_array(frame), self._time(idx, pts)
                while pos < len(want) and want[pos] <= idx:
                    yield int(want[pos]), arr, when
                    pos += 1
                if pos >= len(want) or self._seek_pays(idx,
                                                       int(want[pos])):
                    return pos
                target = int(want[pos])
            else:
                if first is not None or from_start:
                    return (yield from self._stream_end(want, pos, last,
                                                        demuxed, first))
                # nothing after the seek: it landed past the last frame
            back = max(4 * back, 2 / self.fps)
            if not self._indexed:
                self._seek_back = _SEEK_BACK[self._format] = back

    def _check_gap(self, demuxed: List[int], lo: int, hi: int) -> None:
        """Raise if a packet of a frame index in ``[lo, hi)`` was demuxed:
        the decoder returned no picture for it (and it was no not-coded
        VOP), and the next frame would stand in for a frame the file has."""
        k = bisect.bisect_left(demuxed, lo)
        if k < len(demuxed) and demuxed[k] < hi:
            raise MediaDecodeError(
                self.filename, f'frame {demuxed[k]}: the decoder returned '
                'no picture for its packet (corrupt or undecodable data)')

    def _stream_end(self, want: np.ndarray, pos: int,
                    last: Optional[_Shown], demuxed: List[int],
                    first: Optional[int]
                    ) -> Generator[Tuple[int, np.ndarray, float], None, int]:
        """The stream ended before ``want[pos:]``: repeat the last picture
        (``last``: ``(frame, index, pts, duration)``) while it is still on
        screen (its duration; at least one frame), never for a stream cut
        short."""
        if pos >= len(want):
            return pos
        if first is not None:
            self._check_gap(demuxed, max(int(want[pos]), first + 1),
                            np.iinfo(np.int64).max)
        if last is not None:
            frame, idx, pts, duration = last
            # each index on its own: one still on screen is not a licence
            # for every later one (a file cut after frame 40 gave frame 40
            # for 41 and for 71 alike when both were asked at once)
            on_screen = idx if self._order is not None else idx + max(
                1, round((duration or 0) * self._tb * self.fps))
            if want[pos] <= on_screen:
                arr, when = self._to_array(frame), self._time(idx, pts)
                while pos < len(want) and want[pos] <= on_screen:
                    yield int(want[pos]), arr, when
                    pos += 1
                if pos >= len(want):
                    return pos
        raise MediaDecodeError(
            self.filename, f'stream ended before frame {int(want[pos])} '
            f'of {self.num_frames}')

    def _get_by_count(self, want: np.ndarray
                      ) -> Iterator[Tuple[int, np.ndarray]]:
        """Frames by count from the top (AVI, raw streams): index ``i`` is
        the ``i``-th non-empty packet's picture from the first keyframe on
        (a stream cut mid-GOP starts with packets that decode to nothing
        right); a not-coded VOP's is the
        picture shown before it, which is what the decoder returned last
        (it returns nothing for that packet). Yields ``(index, frame)``
        for each of the sorted ``want``."""
        wanted = set(int(i) for i in want)
        last = int(want[-1])
        leading = self._leading
        #: packet numbers of the not-coded VOPs demuxed
        repeats = set()
        i = packets = 0
        shown = previous = None
        self._rewind()
        for packet in self._container.demux(self._stream):
            if leading and packet.size:  # before the first keyframe
                leading -= 1
                continue
            if packet.size:
                if self._not_coded and self._not_coded(packet, previous):
                    repeats.add(packets)
                packets += 1
                previous = packet
            for frame in packet.decode():
                self.num_frames_decoded += 1
                i = yield from self._count_repeats(i, repeats, shown, wanted)
                if i in wanted:
                    yield i, self._to_array(frame)
                shown = frame
                i += 1
            if i > last:
                break
        i = yield from self._count_repeats(i, repeats, shown, wanted)
        # every wanted index below i was given
        k = int(np.searchsorted(want, i))
        if k < len(want):
            raise MediaDecodeError(
                self.filename, f'stream ended before frame {int(want[k])} '
                f'of {self.num_frames}')

    def _count_repeats(self, i: int, repeats: set, shown, wanted: set
                       ) -> Generator[Tuple[int, np.ndarray], None, int]:
        """Give the wanted not-coded indices from ``i`` on the picture
        ``shown`` before them; returns the next index to number."""
        while i in repeats and shown is not None:
            if i in wanted:
                yield i, self._to_array(shown)
            i += 1
        return i

    def lend_container(self):
        """The open container, for the audio of the same file; whoever
        takes it closes it (:meth:`close` then leaves it open), or gives it
        back with :meth:`reclaim`."""
        self._owns_container = False
        return self._container

    def reclaim(self, container) -> bool:
        """Take back a lent ``container`` (:meth:`close` closes it again);
        False when it is not this reader's open container."""
        if self._container is None or container is not self._container:
            return False
        self._owns_container = True
        return True

    def close(self) -> None:
        if getattr(self, '_container', None) is not None:
            if self._owns_container:
                self._container.close()
            self._container = None


def decode_with_fallback(reader: BaseVideoReader, inds: Sequence[int],
                         by_order: bool = False
                         ) -> Tuple[np.ndarray, BaseVideoReader]:
    """``reader.get_batch(inds, by_order)``; when that fails and the reader
    has a ``fallback``, reopen the file with the fallback backend and try
    again (decord 0.6 fails on some files it opened fine, e.g. a 48x32
    H.264). Display-order indices stay valid: both backends number the
    frames the file shows alike.

    Returns:
        ``(frames, reader)``: the reader that succeeded (the caller closes
        it; a failed primary reader is closed here).

    Raises:
        MediaDecodeError: both failed; the message gives both reasons.
    """
    try:
        return reader.get_batch(inds, by_order), reader
    except MediaDecodeError as err:
        if reader.fallback is None:
            raise
        name, reopen = reader.fallback
        reader.close()
        try:
            other = reopen()
            return other.get_batch(inds, by_order), other
        except MediaDecodeError as err2:
            raise MediaDecodeError(
                reader.filename, f'{err2.reason} ({name}); primary '
                f'backend: {err.reason}') from None


def build_video_reader(filename: str, backend: str = 'decord',
                       **kwargs) -> BaseVideoReader:
    """Open ``filename`` with ``backend`` (``'decord'`` or ``'pyav'``)."""
    if backend == 'decord':
        return DecordVideoReader(filename, **kwargs)
    if backend == 'pyav':
        return PyAVVideoReader(filename, **kwargs)
    raise ValueError(f'unknown video backend {backend!r}')
