"""Frame-accurate video readers (decord, PyAV) behind one interface, and a
PyAV audio reader that decodes only a time span.

Every failure to open or decode raises :class:`MediaDecodeError` naming the
file; nothing here returns zeros for frames or samples it could not read.
"""
import bisect
import contextlib
import math
import os
import wave
from collections import OrderedDict
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import HWAccelError, MediaDecodeError, MissingAudioError
from .orientation import display_rotation, is_iso_bmff, quarter_turns
from .wav_reader import (is_wav_name, open_pcm_wav, read_wav_spans,
                         wav_duration)

__all__ = [
    'BaseVideoReader', 'DecordVideoReader', 'PyAVVideoReader',
    'build_video_reader', 'read_audio_span', 'read_audio_spans',
    'decode_audio_spans',
    'probe_audio_duration', 'probe_audio_timing', 'COMMON_SAMPLE_RATES',
    'probe_media', 'decode_with_fallback',
    'open_media', 'probe_frame_size', 'resample', 'sinc_resample_kernel',
    'hw_accel'
]


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
        num_decode_calls: How many times :meth:`get_batch` ran (used by tests
            and benchmarks to prove one decode per sample).
        last_frame_times: float64 ``(len(inds),)``: the presentation time
            (s, counted from the first displayed frame) of each frame the
            last :meth:`get_batch` returned, from the file's timestamps
            (``i / fps`` where a file has none, e.g. AVI); ``None`` before
            the first call. The views' time spans (and so their audio) are
            cut from these (:func:`~.spans.resolve_spans`).
    """

    filename: str
    num_frames: int
    fps: float
    shape: Optional[Tuple[int, int]]
    orig_shape: Optional[Tuple[int, int]]

    #: True when the frame rate varies (frames are then picked by time)
    vfr: bool = False
    #: ``(backend name, zero-argument opener)`` tried when decoding fails
    fallback: Optional[Tuple[str, Callable[[], 'BaseVideoReader']]] = None

    def __init__(self) -> None:
        self.num_decode_calls = 0
        self.last_frame_times: Optional[np.ndarray] = None

    def get_batch(self, inds: Sequence[int]) -> np.ndarray:
        """Decode frames ``inds`` (any order, repeats allowed).

        Returns:
            uint8 ``(len(inds), H, W, 3)`` RGB.
        """
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _check(self, inds: np.ndarray) -> None:
        if len(inds) and (inds.min() < 0 or inds.max() >= self.num_frames):
            raise MediaDecodeError(
                self.filename, f'frame index {int(inds.max())} out of range '
                f'[0, {self.num_frames})')


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
    applies an MP4/MOV display matrix itself but not Matroska's, which is
    applied here (``np.rot90``). decord's resize-on-decode is wrong on a
    rotated file (it squashed the turned frame into the stored frame's
    shape), so a rotated file is decoded at full size and resized here
    with swscale.

    Args:
        filename: Video file.
        num_threads: Decoder threads (0 = decord's default, auto).
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
    clock (decord's own timestamps count from it), read from ``container``
    or, on first use, from a PyAV open of the file.
    """

    def __init__(self,
                 filename: str,
                 num_threads: int = 1,
                 decode_size: Optional[Tuple[int, int]] = None,
                 decode_short_side: Optional[int] = None,
                 fault_tol: float = -1,
                 frame_size: Optional[Tuple[int, int]] = None,
                 container=None) -> None:
        super().__init__()
        try:
            import decord
        except ImportError as err:  # pragma: no cover
            raise ImportError('backend="decord" needs `pip install decord`; '
                              'or use backend="pyav"') from err
        self.filename = filename
        self._start_time = None if container is None else \
            video_start_time(container)
        quarter = quarter_turns(display_rotation(filename))
        # decord's FFmpeg reads the rotation of MP4/MOV only
        self._turn = 0 if is_iso_bmff(filename) else quarter
        self._resize_to = None
        try:
            kw = dict(num_threads=num_threads, fault_tol=str(fault_tol))
            target = None
            if decode_size is not None or decode_short_side is not None:
                # decord tells the size only by decoding; the header is
                # enough for PyAV
                self.orig_shape = (tuple(int(x) for x in frame_size)
                                   if frame_size else _probe_size(filename))
                target = _target_size(self.orig_shape, decode_size,
                                      decode_short_side)
                if quarter:
                    self._resize_to = target
                else:
                    kw.update(width=target[1], height=target[0])
            vr = decord.VideoReader(filename, **kw)
            self.num_frames = len(vr)
            self.fps = float(vr.get_avg_fps())
        except MediaDecodeError:
            raise
        except Exception as err:  # decord raises DECORDError/RuntimeError
            raise MediaDecodeError(filename, _short(err)) from err
        if self.num_frames <= 0:
            raise MediaDecodeError(filename, 'no video frames')
        # without resize the size is learnt from the first decoded batch
        self.shape = target
        if target is None:
            self.orig_shape = None
        self._vr = vr
        self._time_map = None if _is_avi(filename) else self._vfr_map(vr)
        self.vfr = self._time_map is not None

    @property
    def start_time_known(self) -> bool:
        """Whether :attr:`start_time` is read already (no PyAV open)."""
        return self._start_time is not None

    @property
    def start_time(self) -> float:
        if self._start_time is None:
            container = open_media(self.filename)
            try:
                self._start_time = video_start_time(container)
            finally:
                container.close()
        return self._start_time

    def _vfr_map(self, vr) -> Optional[np.ndarray]:
        """Index -> frame map for variable-frame-rate files, else None.

        decord numbers frames by count, which puts frame ``i`` of a VFR file
        far from ``i / fps`` seconds (the time spans views and their audio
        are cut by). Index ``i`` is mapped to the first frame shown at or
        after ``i / fps``, the rule of :class:`PyAVVideoReader`, so both
        backends return the same frames and video stays aligned with audio.

        Only a rate that varies more than once counts: a single irregular
        step (decord timed the first frame of an MPEG-4 + MP3 AVI two
        frames before the second) would shift every later index by its
        size, while counting, which decord does, was exact. AVI files are
        never remapped (see ``__init__``): they store no presentation
        times, and :class:`PyAVVideoReader` counts their frames too.
        """
        try:
            starts = np.asarray(
                vr.get_frame_timestamp(np.arange(self.num_frames)))[:, 0]
        except Exception:  # no index: keep decord's own numbering
            return None
        idx = np.round((starts - starts[0]) * self.fps).astype(np.int64)
        if np.count_nonzero(np.diff(idx) != 1) <= 1:
            return None  # constant frame rate, or one gap
        idx = np.maximum.accumulate(idx)
        frame_of = np.searchsorted(idx, np.arange(self.num_frames), 'left')
        return np.minimum(frame_of, self.num_frames - 1)

    def get_batch(self, inds: Sequence[int]) -> np.ndarray:
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        self._check(inds)
        self.num_decode_calls += 1
        if self._time_map is not None:
            inds = self._time_map[inds]
        try:
            frames = self._vr.get_batch(inds.tolist()).asnumpy()
        except Exception as err:
            raise MediaDecodeError(self.filename, _short(err)) from err
        self.last_frame_times = self._frame_times(inds)
        if self._turn:
            frames = np.ascontiguousarray(np.rot90(frames, self._turn,
                                                   axes=(1, 2)))
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
        if not _is_avi(self.filename):
            try:
                stamps = np.asarray(self._vr.get_frame_timestamp(
                    np.concatenate([[0], frames]).tolist()),
                    dtype=np.float64)[:, 0]
                return stamps[1:] - stamps[0]
            except Exception:  # no index: nominal times below
                pass
        return frames.astype(np.float64) / self.fps

    def close(self) -> None:
        self._vr = None


def _is_avi(filename: str) -> bool:
    """Whether ``filename`` is a RIFF AVI (by its first 12 bytes)."""
    try:
        with open(filename, 'rb') as f:
            head = f.read(12)
    except OSError:
        return False
    return head[:4] == b'RIFF' and head[8:12] == b'AVI '


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


#: (pid, device type, device) -> (template, one live device context); the
#: pid because a forked child inherits the dict but not a usable device
_HW_ACCELS: dict = {}


def hw_accel(device_type: str, device: Optional[str] = None):
    """The ``av.codec.hwaccel.HWAccel`` that makes PyAV decode video on
    ``device_type`` (``'cuda'``: NVDEC), created once per process.

    The frames still come back in host memory (NV12, copied from the
    device), so the rest of the pipeline is unchanged; what moves to the
    GPU is the decoding itself. PyAV gives each file it opens an FFmpeg
    device of its own (``HWAccel.create``); with ``primary_ctx`` they all
    sit on the GPU's one primary CUDA context, which the device kept alive
    here holds open between files. A stream the hardware cannot decode (a
    codec or profile NVDEC lacks) decodes in software, as FFmpeg's
    ``hwaccel`` does. Measured on an H200 (docs/benchmarks.md, "On a
    GPU"), 8 NVDEC workers were 7.7x slower than 8 CPU-decoding ones.

    Args:
        device_type: An FFmpeg device type (``'cuda'``).
        device: Device index; default ``LOCAL_RANK`` (the GPU of this
            process's rank under ``torchrun``) modulo the number of
            ``CUDA_VISIBLE_DEVICES`` (one GPU per task under SLURM, as
            mmengine's ``init_dist`` does), else FFmpeg's default (device 0).

    Raises:
        HWAccelError: the device cannot be opened here.
    """
    if device is None:
        device = _rank_device()
    key = (os.getpid(), device_type, device)
    if key not in _HW_ACCELS:
        import av
        from av.codec.hwaccel import HWAccel, hwdevices_available
        if device_type not in hwdevices_available():
            raise HWAccelError(
                f'hwaccel={device_type!r}: this FFmpeg build (PyAV '
                f'{av.__version__}) has no such device type; it has '
                f'{hwdevices_available()}')
        options = {'primary_ctx': '1'} if device_type == 'cuda' else {}
        template = HWAccel(device_type, device=device,
                           allow_software_fallback=True, options=options)
        try:
            live = template.create(av.codec.Codec('h264', 'r'))
        except Exception as err:
            hint = ''
            if device_type == 'cuda':
                hint = ('; NVDEC needs an NVIDIA GPU visible to this process '
                        'and the driver\'s libcuda and libnvcuvid')
                if _forked_after_cuda() or any(
                        k[0] != key[0] for k in _HW_ACCELS):
                    hint = ('; this is a DataLoader worker forked after CUDA '
                            'started in its parent: set '
                            "multiprocessing_context='spawn' in the "
                            'dataloader config')
            raise HWAccelError(
                f'hwaccel={device_type!r} (device {device or 0}): FFmpeg '
                f'could not open the device: {_short(err)}{hint}') from err
        _HW_ACCELS[key] = (template, live)
    return _HW_ACCELS[key][0]


def _rank_device() -> Optional[str]:
    rank = os.environ.get('LOCAL_RANK')
    visible = [d for d in os.environ.get('CUDA_VISIBLE_DEVICES', '').split(
        ',') if d.strip()]
    if rank is None or not visible:
        return rank
    return str(int(rank) % len(visible))


def _forked_after_cuda() -> bool:
    """torch started CUDA in the process this one was forked from."""
    try:
        import torch
        return bool(torch.cuda._is_in_bad_fork())
    except Exception:
        return False


#: Codec options of stream 0 while :func:`open_media` probes the streams.
#: ``avformat_find_stream_info`` decodes H.264 frames until it has guessed
#: the decoder delay (~7 frames, 3-5 ms at 340x256); skipping non-key frames
#: still decodes the first keyframe, so the size comes from the bitstream
#: exactly as with a full probe, at ~1/3 of the cost (docs/benchmarks.md).
_CHEAP_PROBE = {'skip_frame': 'nonkey', 'threads': '1'}


def _audio_params_known(container) -> bool:
    if not container.streams.audio:
        return True  # nothing to decode: nothing missing
    cc = container.streams.audio[0].codec_context
    return cc is None or (cc.channels > 0 and cc.format is not None
                          and container.streams.audio[0].rate > 0)


def open_media(filename: str, stream: str = 'video', hwaccel=None):
    """Open ``filename`` with PyAV for its header and its audio, cheaply.

    The options reach only stream 0 (``stream_options``), which is the video
    stream in nearly every file: its keyframes alone are decoded while
    FFmpeg probes. When stream 0 is the audio (its parameters then stay
    unknown), or the format exposes no streams before probing (MPEG-TS),
    the file is opened again without options, so the returned container
    always decodes audio exactly like ``av.open(filename)``.

    Args:
        filename: Media file.
        stream: Named in the error (``'video'`` or ``'audio'``).
        hwaccel: An ``av.codec.hwaccel.HWAccel`` (:func:`hw_accel`) for the
            video decoder, or None.

    Raises:
        MediaDecodeError: the file cannot be opened.
    """
    import av
    try:
        try:
            container = av.open(filename, stream_options=[dict(_CHEAP_PROBE)],
                                hwaccel=hwaccel)
        except ValueError:  # no streams before probing: options refused
            return av.open(filename, hwaccel=hwaccel)
        if not _audio_params_known(container):
            container.close()
            container = av.open(filename, hwaccel=hwaccel)
        return container
    except Exception as err:
        raise MediaDecodeError(filename, _short(err), stream) from err


#: FFmpeg's default open of a 16-bit PCM WAV reads through its samples
#: although the header gives every parameter (ad-hoc timings here: opening
#: 10 s of 44.1 kHz mono took 14.7 ms, 0.4 ms with this probe; duration +
#: one 2 s span of a 4-channel file 192 ms, 12 ms with it). WAVs that the
#: standard library does not read go through PyAV with it
#: (:func:`_audio_params_known` checks the result)
_WAV_PROBE = {'probesize': '32', 'analyzeduration': '0'}


def _open_audio_file(av, filename: str):
    """``av.open(filename)``, with a minimal probe for ``.wav`` names."""
    if is_wav_name(filename):
        container = av.open(filename, options=dict(_WAV_PROBE))
        if _audio_params_known(container) and container.streams.audio:
            return container
        container.close()
    return av.open(filename)


def probe_frame_size(filename: str,
                     container=None) -> Tuple[int, int]:
    """(H, W) of the first video stream of ``filename`` as displayed
    (turned by the header's display matrix, as the readers return frames).

    Args:
        filename: For error messages, and to open when ``container`` is
            None.
        container: An open PyAV container of ``filename``
            (:func:`open_media`); a size it cannot tell (0) falls back to
            the full probe of :func:`probe_media`.

    Raises:
        MediaDecodeError: no video stream, no decoder for it, or an
            unreadable file.
    """
    if container is not None:
        if not container.streams.video:
            raise MediaDecodeError(filename, 'no video stream')
        cc = container.streams.video[0].codec_context
        if cc is None:
            raise MediaDecodeError(
                filename, 'unsupported video codec: the file has a video '
                'stream but this FFmpeg build has no decoder for it')
        if cc.width and cc.height:
            return _displayed(filename, int(cc.height), int(cc.width))
    return _probe_size(filename)


def _displayed(filename: str, h: int, w: int) -> Tuple[int, int]:
    """``(h, w)`` stored in ``filename`` -> as displayed."""
    if quarter_turns(display_rotation(filename)) % 2:
        return w, h
    return h, w


def _probe_size(filename: str) -> Tuple[int, int]:
    """(H, W) of the first video stream as displayed, from the header
    only."""
    info = probe_media(filename)
    if not info['has_video']:
        raise MediaDecodeError(filename, 'no video stream')
    if not info['video_codec']:
        raise MediaDecodeError(
            filename, 'unsupported video codec: the file has a video stream '
            'but this FFmpeg build has no decoder for it')
    return info['height'], info['width']


def probe_media(filename: str) -> dict:
    """Read what the container header says, without decoding anything.

    Returns:
        dict with ``has_video``, ``video_codec`` (decoder name, ``None`` if
        FFmpeg has none), ``width``, ``height`` (as displayed: turned by
        the display matrix), ``rotation`` (degrees counter-clockwise the
        display matrix turns the stored frames: 0, 90, 180, 270), ``fps``,
        ``num_frames`` (header count, 0 if unknown), ``duration`` (s,
        container), ``has_audio``, ``audio_codec``, ``audio_duration`` (s,
        0 if unknown), ``size_bytes``.

    Raises:
        MediaDecodeError: the container cannot be opened (empty, garbage,
            truncated before the index).
    """
    import os

    import av
    size = os.path.getsize(filename) if os.path.exists(filename) else -1
    if size < 0:
        raise MediaDecodeError(filename, 'file does not exist')
    if size == 0:
        raise MediaDecodeError(filename, 'empty file (0 bytes)')
    info = dict(has_video=False, video_codec=None, width=0, height=0,
                rotation=0, fps=0.0, num_frames=0, duration=0.0,
                has_audio=False, audio_codec=None, audio_duration=0.0,
                size_bytes=size)
    try:
        with av.open(filename) as c:
            info['duration'] = (c.duration or 0) / 1e6
            if c.streams.video:
                s = c.streams.video[0]
                info['has_video'] = True
                cc = s.codec_context
                if cc is not None:
                    rotation = display_rotation(filename)
                    h, w = int(cc.height), int(cc.width)
                    if rotation % 180:
                        h, w = w, h
                    info.update(video_codec=cc.name, width=w, height=h,
                                rotation=rotation)
                rate = s.average_rate or s.guessed_rate
                info['fps'] = float(rate) if rate else 0.0
                info['num_frames'] = int(s.frames or 0)
            if c.streams.audio:
                a = c.streams.audio[0]
                info['has_audio'] = True
                cc = a.codec_context
                info['audio_codec'] = cc.name if cc is not None else None
                if a.duration:
                    info['audio_duration'] = float(a.duration * a.time_base)
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, _short(err)) from err
    return info


def _short(err: BaseException, limit: int = 300) -> str:
    msg = str(err).strip().splitlines()
    text = msg[0] if msg else type(err).__name__
    return f'{type(err).__name__}: {text[:limit]}'


#: Decoders whose ``skip_frame='NONREF'`` drops only frames that no other
#: frame refers to, so skipping those shown before a wanted frame changes
#: nothing that is returned: checked index by index against a sequential
#: decode in ``tests/datasets/test_container_matrix.py``. Not AV1: with
#: libdav1d it dropped frames that are shown later (hidden alt-refs) and
#: index i came back as frame i + 1 for about half the indices; other
#: codecs are not checked, so they decode every frame.
_SKIP_NONREF_CODECS = frozenset({'h264', 'hevc'})

#: container format -> seconds before a wanted frame that the last seek
#: had to go back to in this process, for streams without a seek index
#: (MPEG-TS: its seeks landed 1-2 s late), so later files start there
#: instead of repeating the same retries; indexed containers start at 0
_SEEK_BACK: dict = {}

#: Video packets demuxed at open to find the first displayed frame (the
#: smallest presentation time among them: B-frames put it after the first
#: packet in decode order, by at most the reorder delay, a few frames)
_START_PACKETS = 16


def _scan_video(container, stream, count: bool = False):
    """Demux the first packets of ``stream`` (all of them when ``count``;
    nobody relies on the position afterwards: every decode seeks first).

    The header's stream start is no substitute: with the cheap probe of
    :func:`open_media`, an MKV whose audio starts 0.5 s after the video
    gave the video the audio's start.

    Returns:
        ``(packets, start, lowest)``: the number of non-empty packets (when
        counting), the smallest pts among the first :data:`_START_PACKETS`
        from the first keyframe on (earlier ones cannot be decoded), and
        the smallest pts or dts among them; ``None`` where unknown.
    """
    n, start, lowest, keyed, looked = 0, None, None, False, 0
    for packet in container.demux(stream):
        if not packet.size:
            continue  # the demuxer's final flush packet
        n += 1
        if looked < _START_PACKETS:
            looked += 1
            for t in (packet.pts, packet.dts):
                if t is not None and (lowest is None or t < lowest):
                    lowest = t
            keyed = keyed or packet.is_keyframe
            pts = packet.pts
            # a discarded packet (before an MP4 edit list's start) is
            # decoded but not shown
            if keyed and pts is not None and not packet.is_discard and \
                    (start is None or pts < start):
                start = pts
        elif not count:
            break
    return n, start, lowest


def video_start_time(container) -> float:
    """Time (s, in the file's clock) of the first displayed frame of the
    first video stream of an open PyAV ``container``; 0.0 when unknown."""
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    try:
        start = _scan_video(container, stream)[1]
    except Exception:  # the video reader reports unreadable files
        start = None
    if start is None:
        start = stream.start_time
    return float(start * stream.time_base) if start is not None else 0.0


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
    the start. When the header gives no frame count (MKV/WebM) or an
    unreliable one (AVI), the packets are counted once at open (demux only,
    no decoding).

    Frames come out as displayed: a display matrix (a phone's portrait
    video stored as landscape frames) is applied (``np.rot90``), and
    ``shape``/``orig_shape`` are the displayed sizes, read from the header
    (:func:`~.orientation.display_rotation`); where the header tells no
    rotation, a decoded frame's ``rotation`` (e.g. from an H.264 SEI)
    still applies.

    Args:
        filename: Video file.
        num_threads: Decoder threads (0 = FFmpeg's choice); frame threading
            (``thread_type='AUTO'``) roughly doubles speed.
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
            (e.g. the one :class:`~.decoding.VideoInit` opened to check
            ``max_pixels``), so the file is not opened twice; the reader
            owns it from then on.

    ``start_time`` is the first displayed frame's time (s) in the file's
    clock (0 when the stream starts at 0; audio timestamps share that
    clock). ``num_frames_decoded`` counts the frames the decoder has
    returned, ``num_seeks`` the seeks made; ``frame_format`` is the pixel
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
                 container=None) -> None:
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
                self._container = av.open(filename, hwaccel=accel)
                stream = self._container.streams.video[0]
            if accel is None:
                stream.thread_type = 'AUTO'
                if num_threads:
                    stream.thread_count = num_threads
            else:
                stream.thread_count = 1  # the device decodes
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                raise MediaDecodeError(filename, 'unknown frame rate')
            self.fps = float(rate)
            # frames are found by time anyway; the flag is informative. A
            # mean rate away from the stream's base rate means VFR.
            base = stream.base_rate
            self.vfr = bool(base and abs(float(rate) / float(base) - 1) > 0.01)
            self._tb = float(stream.time_base)
            self.skip_nonref = bool(
                skip_nonref
                and stream.codec_context.name in _SKIP_NONREF_CODECS)
            # AVI stores no presentation times (B-frames make them jump):
            # frames are found by counting there, by timestamp elsewhere
            self._by_count = 'avi' in self._container.format.name
            n = stream.frames
            # headers lie or stay silent (MKV, AVI): count the packets,
            # which costs a demux but no decoding
            counted, start, lowest = _scan_video(
                self._container, stream, count=not n or self._by_count)
            if not n or self._by_count:
                n = counted
            self.num_frames = int(n)
            self._start = start if start is not None else (
                stream.start_time or 0)
            #: the earliest timestamp seen: a seek well before it goes to
            #: the top of the file in every demuxer
            self._lowest = lowest if lowest is not None else self._start
            self.start_time = float(self._start * self._tb)
            #: seconds before a wanted frame to seek to (see _SEEK_BACK)
            self._format = self._container.format.name
            self._indexed = len(stream.index_entries) > 0
            self._seek_back = 0.0 if self._indexed else _SEEK_BACK.get(
                self._format, 0.0)
            h, w = stream.codec_context.height, stream.codec_context.width
        except MediaDecodeError:
            self.close()
            raise
        except Exception as err:  # av.error.FFmpegError and friends
            self.close()
            raise MediaDecodeError(filename, _short(err)) from err
        if self.num_frames <= 0 or not h or not w:
            self.close()
            raise MediaDecodeError(filename, 'no video frames')
        self._stream = stream
        self._coded = (int(h), int(w))
        #: from the header; frames opened with open_media's probe options
        #: carry no display matrix of the stream's (``rotation`` reads 0),
        #: so theirs is only used where the header tells nothing
        self._header_quarter = quarter_turns(display_rotation(filename))
        self._set_rotation(self._header_quarter)

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
        return int(round((pts - self._start) * self._tb * self.fps))

    def _keyframes(self) -> np.ndarray:
        """Display indices of the keyframes in the container's index (MP4
        ``stss``, MKV cues once read); empty when it has none. The index
        holds decode times: counted from the first keyframe's they are
        display indices when every keyframe has the same decode delay
        (x264's), and off by a frame or two otherwise, which only moves a
        seek decision."""
        if self._keys is None or not len(self._keys):
            stamps = [e.timestamp for e in self._stream.index_entries
                      if e.is_keyframe]
            self._keys = np.round(
                (np.asarray(stamps, np.float64) - (stamps[0] if stamps else 0))
                * self._tb * self.fps).astype(np.int64)
        return self._keys

    def _seek_pays(self, idx: int, target: int) -> bool:
        """Seek rather than decode on from frame ``idx`` to ``target``."""
        if target - idx > self.seek_gap:
            return True
        keys = self._keyframes()
        k = int(np.searchsorted(keys, target, side='right'))
        # a seek restarts at keys[k - 1], the last keyframe <= target
        return k > 0 and keys[k - 1] > idx + 1

    def _seek(self, target: int, back: float) -> bool:
        """Seek to ``back`` seconds before frame ``target``; True when that
        is before the first frame, and the seek went to the file's top."""
        self.num_seeks += 1
        t = target / self.fps - back
        if t < 0:
            # an hour before the earliest timestamp: demuxers that search
            # by timestamp (MPEG-TS: by PCR, which runs ahead of the
            # frames) then start at the first packet
            ts = self._lowest - int(round(3600 / self._tb))
        else:
            ts = self._start + int(round(t / self._tb))
        self._container.seek(ts, stream=self._stream, backward=True)
        return t < 0

    def _frames(self, next_wanted: Callable[[], int], demuxed: List[int],
                from_key: bool = True) -> Iterator:
        """Frames decoded from the current position; the frame index of
        every packet demuxed is added to the sorted ``demuxed``. A packet
        shown before ``next_wanted()`` cannot be returned (frames are
        returned from the wanted index on, and that index only grows), so a
        non-reference one need not be decoded at all.

        With ``from_key``, packets before the first keyframe are dropped: a
        seek without an index (MPEG-TS) can land on any packet, and
        decoding from a P-frame gave grey frames (MPEG-4 Part 2) or lost
        the B-frames that refer past it (H.264), each with a valid
        timestamp."""
        ctx = self._stream.codec_context
        skip = self.skip_nonref
        for packet in self._container.demux(self._stream):
            if from_key:
                if not packet.is_keyframe:
                    continue
                from_key = False
            if packet.pts is not None:
                index = self._pts_index(packet.pts)
                bisect.insort(demuxed, index)
                if skip:
                    ctx.skip_frame = 'NONREF' if index < next_wanted() \
                        else 'DEFAULT'
            elif skip:
                ctx.skip_frame = 'DEFAULT'
            for frame in packet.decode():
                self.num_frames_decoded += 1
                yield frame

    def _to_array(self, frame) -> np.ndarray:
        # one reformatter (swscale context) for every frame: each frame's
        # own would build a new context per call, which cost 3-4x the
        # conversion itself at 340x256 -> 170x128 (0.6 vs 0.15 ms here)
        quarter = self._header_quarter or quarter_turns(frame.rotation)
        if quarter != self._quarter:  # a rotation the header did not tell
            self._set_rotation(quarter)
        h, w = self._stored_size
        if self.frame_format is None:
            self.frame_format = frame.format.name
        out = self._reformatter.reformat(
            frame, width=w, height=h, format='rgb24').to_ndarray()
        return np.rot90(out, quarter) if quarter else out

    def get_batch(self, inds: Sequence[int]) -> np.ndarray:
        inds = np.asarray(inds, dtype=np.int64).reshape(-1)
        self._check(inds)
        self.num_decode_calls += 1
        want = np.unique(inds)
        if self._by_count:
            self.last_frame_times = inds.astype(np.float64) / self.fps
            return self._get_by_count(inds, want)
        got = {}
        #: index -> presentation time (s from the first displayed frame)
        #: of the frame returned for it
        self._times = {}
        try:
            pos = 0
            while pos < len(want):
                pos = self._decode_run(want, pos, got)
        except MediaDecodeError:
            raise
        except Exception as err:
            raise MediaDecodeError(self.filename, _short(err)) from err
        self.last_frame_times = np.array([self._times[int(i)] for i in inds],
                                         dtype=np.float64)
        return np.stack([got[int(i)] for i in inds])

    def _time(self, frame) -> float:
        """``frame``'s presentation time (s) from the first displayed
        frame; its index's nominal time where it has no timestamp."""
        if frame.pts is None:
            return self._index(frame) / self.fps
        return float((frame.pts - self._start) * self._tb)

    def _decode_run(self, want: np.ndarray, pos: int, got: dict) -> int:
        """Seek before ``want[pos]`` and decode on, taking the frame of
        every wanted index met, until another seek pays or ``want`` is
        done. Returns the position in ``want`` reached."""
        target = int(want[pos])
        back = self._seek_back
        while True:
            from_start = self._seek(target, back)
            first = last = None
            demuxed: List[int] = []
            for frame in self._frames(lambda: target, demuxed,
                                      from_key=not from_start):
                idx = self._index(frame)
                if first is None:
                    first = idx
                    if idx > target and not from_start:
                        break  # landed past the wanted frame: seek earlier
                if idx < target:
                    continue
                if idx > target and idx > first:
                    self._check_gap(demuxed, max(target, first + 1), idx)
                last = frame
                # a frame covers every wanted index up to its own (VFR, or
                # frames missing from the file): the first frame shown at
                # or after the index's time
                arr, when = self._to_array(frame), self._time(frame)
                while pos < len(want) and want[pos] <= idx:
                    got[int(want[pos])] = arr
                    self._times[int(want[pos])] = when
                    pos += 1
                if pos >= len(want) or self._seek_pays(idx,
                                                       int(want[pos])):
                    return pos
                target = int(want[pos])
            else:
                if first is not None or from_start:
                    return self._stream_end(want, pos, got, last, demuxed,
                                            first)
                # nothing after the seek: it landed past the last frame
            back = max(4 * back, 2 / self.fps)
            if not self._indexed:
                self._seek_back = _SEEK_BACK[self._format] = back

    def _check_gap(self, demuxed: List[int], lo: int, hi: int) -> None:
        """Raise if a packet of a frame index in ``[lo, hi)`` was demuxed:
        the decoder returned no picture for it, and the next frame would
        stand in for a frame the file has."""
        k = bisect.bisect_left(demuxed, lo)
        if k < len(demuxed) and demuxed[k] < hi:
            raise MediaDecodeError(
                self.filename, f'frame {demuxed[k]}: the decoder returned '
                'no picture for its packet (corrupt or undecodable data)')

    def _stream_end(self, want: np.ndarray, pos: int, got: dict, last,
                    demuxed: List[int], first: Optional[int]) -> int:
        """The stream ended before ``want[pos:]``: repeat the last decoded
        frame while it is still on screen (its duration; at least one
        frame), never for a stream cut short."""
        if pos >= len(want):
            return pos
        if first is not None:
            self._check_gap(demuxed, max(int(want[pos]), first + 1),
                            np.iinfo(np.int64).max)
        if last is not None and want[pos] - self._index(last) <= max(
                1, round((last.duration or 0) * self._tb * self.fps)):
            arr, when = self._to_array(last), self._time(last)
            while pos < len(want):
                got[int(want[pos])] = arr
                self._times[int(want[pos])] = when
                pos += 1
            return pos
        raise MediaDecodeError(
            self.filename, f'stream ended before frame {int(want[pos])} '
            f'of {self.num_frames}')

    def _get_by_count(self, inds: np.ndarray,
                      want: np.ndarray) -> np.ndarray:
        got = {}
        wanted = set(int(i) for i in want)
        last = int(want[-1])
        try:
            self._container.seek(0, stream=self._stream)
            self.num_seeks += 1
            for i, frame in enumerate(self._container.decode(self._stream)):
                self.num_frames_decoded += 1
                if i in wanted:
                    got[i] = self._to_array(frame)
                if i >= last:
                    break
        except Exception as err:
            raise MediaDecodeError(self.filename, _short(err)) from err
        missing = wanted - set(got)
        if missing:
            raise MediaDecodeError(
                self.filename, f'stream ended before frame {min(missing)} '
                f'of {self.num_frames}')
        return np.stack([got[int(i)] for i in inds])

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


def decode_with_fallback(reader: BaseVideoReader, inds: Sequence[int]
                         ) -> Tuple[np.ndarray, BaseVideoReader]:
    """``reader.get_batch(inds)``; when that fails and the reader has a
    ``fallback``, reopen the file with the fallback backend and try again
    (decord 0.6 fails on some files it opened fine, e.g. a 48x32 H.264).

    Returns:
        ``(frames, reader)``: the reader that succeeded (the caller closes
        it; a failed primary reader is closed here).

    Raises:
        MediaDecodeError: both failed; the message gives both reasons.
    """
    try:
        return reader.get_batch(inds), reader
    except MediaDecodeError as err:
        if reader.fallback is None:
            raise
        name, reopen = reader.fallback
        reader.close()
        try:
            other = reopen()
            return other.get_batch(inds), other
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


def probe_audio_duration(filename: str) -> float:
    """Duration (s) of the first audio stream of ``filename`` (a PCM WAV's
    from its header, without FFmpeg: :func:`open_pcm_wav`)."""
    return probe_audio_timing(filename)[0]


def probe_audio_timing(filename: str) -> Tuple[float, float]:
    """``(duration, start)`` (s) of the first audio stream of ``filename``:
    :func:`probe_audio_duration`, and the timestamp of its first sample in
    the file's clock (0 for a PCM WAV; an MP3 starts after its encoder
    delay, e.g. 0.069 s for LAME at 16 kHz; a cut stream may start at
    10 s)."""
    reader = open_pcm_wav(filename)
    if reader is not None:
        with contextlib.closing(reader):
            return wav_duration(reader, filename), 0.0
    import av
    try:
        with _open_audio_file(av, filename) as c:
            if not c.streams.audio:
                raise MissingAudioError(filename, 'no audio stream')
            s = c.streams.audio[0]
            start = float(s.start_time * s.time_base) \
                if s.start_time is not None else 0.0
            if s.duration:
                return float(s.duration * s.time_base), start
            if c.duration:
                return c.duration / 1e6, start
            # no header duration (raw streams): count the samples
            return sum(f.samples for f in c.decode(s)) / float(s.rate), \
                start
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, _short(err), 'audio') from err


def read_audio_span(filename: str,
                    t0: float,
                    t1: float,
                    sample_rate: int = 16000,
                    seek_margin: float = 0.2) -> Tuple[np.ndarray, float]:
    """Decode the audio of ``filename`` covering ``[t0, t1)`` seconds.

    The first audio stream is decoded, downmixed to mono (libswresample's
    mix) and resampled to ``sample_rate`` (:func:`resample`, libswresample's
    default filter). Decoding starts at a seek to
    ``t0 - seek_margin`` and stops after ``t1``; the margin's frames are
    decoded and dropped, which primes the decoder (AAC's overlapped
    transform and MP3's bit reservoir need the preceding frames).

    Returns:
        ``(wave, start)``: float32 ``(L,)`` samples and the source time (s)
        of ``wave[0]``. The span may be only partly covered (audio shorter
        than asked): the caller pads and flags it.

    Raises:
        MediaDecodeError: missing file, no audio stream, or decoder errors.
    """
    return read_audio_spans(filename, [(t0, t1)], sample_rate,
                            seek_margin)[0]


def read_audio_spans(filename: str,
                     spans: Sequence[Tuple[float, float]],
                     sample_rate: int = 16000,
                     seek_margin: float = 0.2,
                     container=None) -> List[Tuple[np.ndarray, float]]:
    """:func:`read_audio_span` for several spans, opening the file once:
    :func:`decode_audio_spans`, each span then resampled to
    ``sample_rate`` (:func:`resample`)."""
    return [(resample(wave, rate, sample_rate), start)
            for wave, start, rate in decode_audio_spans(
                filename, spans, seek_margin, container, sample_rate)]


def decode_audio_spans(filename: str,
                       spans: Sequence[Tuple[float, float]],
                       seek_margin: float = 0.2,
                       container=None,
                       fallback_rate: int = 16000
                       ) -> List[Tuple[np.ndarray, float, int]]:
    """Decode several ``[t0, t1)`` spans of the first audio stream to mono,
    at the stream's own rate, opening the file once.

    Each span is decoded after its own seek, so far-apart views do not
    decode the audio between them. The span's frames are decoded to arrays
    and mixed to mono (:func:`_mono_source_rate`, libswresample's mix). The
    caller resamples only what it keeps (:func:`resample`; a sped-up view
    straight to its own rate). A span whose frames change format mid-way
    goes through libswresample frame by frame to ``fallback_rate``.

    PCM WAVs (sidecars from ``tools/data/extract_audio.py``, ESC-50) are
    read with the standard library instead (:func:`read_wav_spans`, the
    same samples without FFmpeg's probing open).

    Args:
        container: An open PyAV container of ``filename`` to read from
            instead of opening the file (e.g. the one :class:`VideoInit`
            probed); the caller keeps ownership and closes it.

    Returns:
        One ``(wave, start, rate)`` per span: float32 ``(N,)`` mono
        samples, the source time (s) of ``wave[0]`` and their rate (Hz).
    """
    if container is None:
        reader = open_pcm_wav(filename)
        if reader is not None:
            with contextlib.closing(reader):
                try:
                    return read_wav_spans(reader, spans)
                except (wave.Error, EOFError, OSError) as err:
                    raise MediaDecodeError(filename, _short(err),
                                           'audio') from err
    import av
    own = container is None
    if own:
        try:
            container = _open_audio_file(av, filename)
        except Exception as err:
            raise MediaDecodeError(filename, _short(err), 'audio') from err
    try:
        if not container.streams.audio:
            raise MissingAudioError(filename, 'no audio stream')
        stream = container.streams.audio[0]
        decoded = [
            _decode_span(av, container, stream, t0, t1, seek_margin,
                         fallback_rate) for t0, t1 in spans
        ]
        # float samples (pcm_f32le WAVs, flt/fltp streams) may hold NaN or
        # Inf, which resampling spreads over the view and training over
        # every weight; the WAV path above reads 16-bit integers only
        for (t0, t1), (wave_, _, _) in zip(spans, decoded):
            _check_finite(filename, wave_, t0, t1)
        return decoded
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, _short(err), 'audio') from err
    finally:
        if own:
            container.close()


def _check_finite(filename: str, wave_: np.ndarray, t0: float,
                  t1: float) -> None:
    """Refuse a decoded span holding NaN or Inf samples (a bad sample for
    the dataset's ``bad_sample_policy``, not silence); ~10 us per second
    of audio."""
    if not np.isfinite(wave_).all():
        bad = int(wave_.size - np.count_nonzero(np.isfinite(wave_)))
        raise MediaDecodeError(
            filename, f'non-finite audio samples ({bad} NaN/Inf) in '
            f'[{t0:.3f}, {t1:.3f}) s', 'audio')


def _span_frames(container, stream, t0: float, t1: float,
                 seek_margin: float):
    """Yield the decoded frames of ``stream`` that overlap ``[t0, t1)``
    (with 50 ms to spare), after a seek to ``t0 - seek_margin``."""
    tb = float(stream.time_base)
    # always seek: a previous span may have left the demuxer past t0
    target = max(t0 - seek_margin, 0.0)
    container.seek(int(target / tb), stream=stream, backward=True)
    for frame in container.decode(stream):
        ft = frame.time
        if ft is not None:
            if ft + frame.samples / float(frame.sample_rate) < t0 - 0.05:
                continue  # entirely before the span (after a seek)
            if ft > t1 + 0.05:
                break
        yield frame


def _decode_span(av, container, stream, t0: float, t1: float,
                 seek_margin: float,
                 fallback_rate: int) -> Tuple[np.ndarray, float, int]:
    """Mono source-rate audio of one span; see :func:`decode_audio_spans`.

    Frames the numpy mix takes (:func:`_frame_mixer`) are mixed as they
    are decoded and not kept, so the decoder reuses its buffers (keeping
    ~180 frames cost ~0.7 ms in allocations). Other layouts (5.1 ...) keep
    their frames for :func:`_mono_source_rate`. A format change mid-span
    decodes the span again keeping its frames (libswresample frame by
    frame)."""
    chunks, frames, start, mix = [], None, None, None
    for frame in _span_frames(container, stream, t0, t1, seek_margin):
        if start is None:
            start = frame.time if frame.time is not None else 0.0
            mix = _frame_mixer(frame)
            if mix is None:
                frames = []
        if frames is not None:
            frames.append(frame)
            continue
        chunk = mix[0](frame)
        if chunk is None:  # the stream changed format mid-span
            frames = list(_span_frames(container, stream, t0, t1,
                                       seek_margin))
            break
        chunks.append(chunk)
    if start is None:
        return np.zeros(0, np.float32), t0, fallback_rate
    if frames is None:
        wave = np.concatenate(chunks)
        if mix[1] != 1:
            wave *= np.float32(mix[1])
        return wave, float(start), int(mix[2])
    mono = _mono_source_rate(av, frames)
    if mono is None:  # the frames differ in format
        wave, rate = _resample_per_frame(av, frames, fallback_rate), \
            fallback_rate
    else:
        wave, rate = mono
    return wave.astype(np.float32, copy=False), float(start), int(rate)


#: sample formats the numpy path reads itself: dtype and the scale
#: libswresample applies (s16 / 2^15, s32 / 2^31)
_NUMPY_FORMATS = {
    'flt': (np.float32, 1.0), 'fltp': (np.float32, 1.0),
    'dbl': (np.float64, 1.0), 'dblp': (np.float64, 1.0),
    's16': (np.int16, 2.0**-15), 's16p': (np.int16, 2.0**-15),
    's32': (np.int32, 2.0**-31), 's32p': (np.int32, 2.0**-31)
}


def _frame_mixer(first) -> Optional[Tuple[Callable, float, int]]:
    """A per-frame mono mix for frames shaped like ``first``, in numpy.

    The mix is libswresample's, which the per-frame path used: mono as is,
    stereo ``(L + R) / sqrt(2)`` (checked to 6e-8), from the planes'
    buffers directly (``to_ndarray()`` stacks them per frame, ~2.5x
    slower).

    Returns:
        ``(mix, scale, rate)``: ``mix(frame)`` is the float32 ``(n,)``
        unscaled sum of the frame's channels, or ``None`` when the frame's
        format, layout or rate differ from ``first``'s; multiply the joined
        sums by ``scale`` once. ``None`` for formats or layouts (more than
        2 channels) the numpy path does not read.
    """
    fmt, layout, rate = first.format.name, first.layout.name, \
        first.sample_rate
    channels = len(first.layout.channels)
    if fmt not in _NUMPY_FORMATS or channels > 2:
        return None
    dtype, scale = _NUMPY_FORMATS[fmt]
    if channels == 2:
        scale *= np.sqrt(0.5)
    frombuffer, key = np.frombuffer, (fmt, layout, rate)
    planar = first.format.is_planar
    # sum integers in float32 (not int16, which would overflow)
    cast = {} if dtype == np.float32 else dict(dtype=np.float32)

    def mix(f) -> Optional[np.ndarray]:
        if (f.format.name, f.layout.name, f.sample_rate) != key:
            return None
        k = f.samples
        if planar:
            planes = f.planes
            if channels == 1:
                return frombuffer(planes[0], dtype, k).astype(np.float32)
            left = frombuffer(planes[0], dtype, k)
            right = frombuffer(planes[1], dtype, k)
        else:
            inter = frombuffer(f.planes[0], dtype, k * channels)
            if channels == 1:
                return inter.astype(np.float32)
            left, right = inter[0::2], inter[1::2]
        return np.add(left, right, **cast)

    return mix, float(scale), int(rate)


def _mono_source_rate(av, frames: list) -> Optional[Tuple[np.ndarray, int]]:
    """Concatenate ``frames`` and mix them to mono at their own rate.

    Stereo and mono in the common sample formats through
    :func:`_frame_mixer`; other layouts (5.1 ...) and sample formats
    through one libswresample call (rate unchanged). ``None`` if the frames
    differ in sample format, layout or rate.

    Returns:
        ``(wave, rate)``: float32 ``(N,)`` and the source rate.
    """
    first = frames[0]
    fmt, layout, rate = first.format.name, first.layout.name, \
        first.sample_rate
    for f in frames:
        if (f.format.name, f.layout.name, f.sample_rate) != (fmt, layout,
                                                             rate):
            return None
    mix = _frame_mixer(first)
    if mix is not None:
        mono = np.concatenate([mix[0](f) for f in frames])
        if mix[1] != 1:
            mono *= np.float32(mix[1])
        return mono, rate
    data = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    try:
        joined = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(data), format=fmt, layout=layout)
    except (ValueError, TypeError):  # e.g. an unnamed channel layout
        return None
    joined.sample_rate = rate
    mixer = av.AudioResampler(format='fltp', layout='mono', rate=rate)
    out = [o.to_ndarray()[0] for o in mixer.resample(joined)]
    out += [o.to_ndarray()[0] for o in mixer.resample(None)]
    return np.concatenate(out).astype(np.float32, copy=False), rate


#: Sample rates (Hz) of nearly all recorded and encoded audio. Toward the
#: usual output rates their filters are small (44100 -> 16000 Hz: 160
#: phases of 94 taps), while another rate can reduce to a ratio with one
#: phase per output sample (44101 -> 16000 Hz: 16000 phases), which
#: :func:`resample` handles on a slower bounded path.
#: ``tools/data/check_dataset.py`` reports files at other rates.
COMMON_SAMPLE_RATES = frozenset({
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200,
    96000
})


class _BoundedCache:
    """Least-recently-used map whose values together stay within
    ``max_bytes``. A DataLoader worker lives for the whole run, so an
    unbounded cache would grow with every rate pair the worker meets (and
    one odd rate's dense kernel alone took 2.8 GB)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._items: 'OrderedDict' = OrderedDict()

    def __contains__(self, key) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def get(self, key, build: Callable[[], tuple], nbytes: int):
        """The value of ``key``; if absent ``build()``, kept (dropping the
        least recently used values) unless ``nbytes`` alone exceeds the
        bound."""
        item = self._items.get(key)
        if item is not None:
            # tolerant of another thread dropping it meanwhile
            with contextlib.suppress(KeyError):
                self._items.move_to_end(key)
            return item[0]
        value = build()
        if nbytes <= self.max_bytes:
            while self._items and self.nbytes + nbytes > self.max_bytes:
                self.nbytes -= self._items.popitem(last=False)[1][1]
            self._items[key] = (value, nbytes)
            self.nbytes += nbytes
        return value


#: Size limits of the resampling kernels. A rate pair ``orig -> new``
#: reduces to ``o -> n`` (divided by their gcd), and its filter has ``n``
#: phases of ``K`` taps: a table of ``n * K`` floats, and for
#: single-threaded torch a dense conv1d weight of about ``n * (o + K)``.
#: Larger tables or weights are never built: a pair beyond
#: ``_MAX_DENSE_BYTES`` gathers with its table, one beyond
#: ``_MAX_TABLE_BYTES`` computes its taps output by output
#: (:func:`_resample_gather`). Every pair used by a common rate, and by
#: :func:`~.decoding.play_at_speed`'s sped-up views of them, stays below
#: both.
_MAX_DENSE_BYTES = 8 << 20
_MAX_TABLE_BYTES = 8 << 20
#: (orig, new) -> sinc_resample_kernel(orig, new), built once per rate pair
_KERNELS = _BoundedCache(16 << 20)
#: (orig, new) -> (conv1d weight, left pad) for single-threaded torch
_DENSE = _BoundedCache(16 << 20)
#: above this many phases the multi-threaded path's Python loop over the
#: phases costs more than one gather of every output's window
_MAX_LOOP_PHASES = 1024
#: floats per gather chunk (windows and taps of ~2800 outputs of 94 taps):
#: one chunk's temporaries (taps computed in float64) stay near 10 MB
#: whatever the input length
_GATHER_FLOATS = 1 << 18


def sinc_resample_kernel(orig: int, new: int, zero_crossings: int = 16,
                         rolloff: float = 0.97, beta: float = 9.0
                         ) -> Tuple[np.ndarray, np.ndarray, int, int]:
    """Polyphase taps of a Kaiser-windowed-sinc resampler.

    With ``o = orig / g``, ``n = new / g`` (``g = gcd``), output sample
    ``k = m * n + p`` sits at input position ``x = m * o + p * o / n`` and

        y[k] = sum_j s[j] * h(x - j),
        h(t) = 2 f_c sinc(2 f_c t) * I0(beta sqrt(1 - (t / T)^2)) / I0(beta)

    for ``|t| <= T = zero_crossings / (2 f_c)`` (else 0), with cut-off
    ``f_c = rolloff * min(o, n) / (2 o)`` cycles per input sample. The
    defaults are libswresample's (``filter_size=32``: 16 zero crossings a
    side, ``cutoff=0.97``, Kaiser ``beta=9``), which the frame-by-frame
    PyAV path used before: outputs agree to ~2e-4 (-74 dB).

    Returns:
        ``(taps, starts, o, n)``: float32 ``(n, K)`` and int64 ``(n,)``:
        output ``m * n + p`` is ``taps[p] . s[m * o + starts[p] :][:K]``.
    """
    design = _filter_design(orig, new, zero_crossings, rolloff)
    n, k = design[1], 2 * design[4] + 2
    # rows in chunks: the float64 temporaries of all 16000 phases of an
    # odd rate at once took ~110 MB
    rows = max(_GATHER_FLOATS // k, 1)
    parts = [
        _phase_taps(np.arange(r, min(r + rows, n)), design, beta,
                    _torch_i0) for r in range(0, n, rows)
    ]
    return (np.concatenate([t for t, _ in parts]),
            np.concatenate([s for _, s in parts]), design[0], n)


def _filter_design(orig: int, new: int, zero_crossings: int = 16,
                   rolloff: float = 0.97
                   ) -> Tuple[int, int, float, float, int]:
    """``(o, n, f_c, T, w)`` of :func:`sinc_resample_kernel`'s filter: the
    reduced rates, the cut-off (cycles per input sample), the half width
    ``T`` (input samples) and ``w = ceil(T)``; each phase has
    ``2 * w + 2`` taps. Cheap: the sizes of tables are known before
    building them."""
    g = math.gcd(int(orig), int(new))
    o, n = int(orig) // g, int(new) // g
    fc = 0.5 * rolloff * min(o, n) / o
    half = zero_crossings / (2 * fc)
    return o, n, fc, half, int(math.ceil(half))


def _torch_i0(x: np.ndarray) -> np.ndarray:
    # ~4x faster than np.i0 (measured 68 vs 278 ms for 1.5M values); the
    # float32 taps of every common rate -> 16 kHz (also at 2x and 3x
    # speed) came out bit-identical to np.i0's
    import torch
    return torch.special.i0(torch.from_numpy(x)).numpy()


def _phase_taps(phases: np.ndarray, design: tuple, beta: float = 9.0,
                i0: Callable = np.i0) -> Tuple[np.ndarray, np.ndarray]:
    """Taps (float32 ``(len(phases), 2w + 2)``) and first-tap offsets
    (int64) of the given phases of ``design`` (:func:`_filter_design`);
    see :func:`sinc_resample_kernel`."""
    o, n, fc, half, w = design
    frac = phases * (o / n)
    starts = np.floor(frac).astype(np.int64) - w
    t = frac[:, None] - (starts[:, None] + np.arange(2 * w + 2)[None, :])
    arg = beta * np.sqrt(np.clip(1.0 - (t / half)**2, 0.0, None))
    h = 2 * fc * np.sinc(2 * fc * t) * i0(arg) / np.i0(beta)
    return (h * (np.abs(t) <= half)).astype(np.float32), starts


def _dense_kernel(table: tuple):
    """The taps of every phase at their offsets in one window of the
    input, as a ``conv1d`` weight ``(n, 1, width)``; and the left pad.
    ``table``: :func:`sinc_resample_kernel`'s result."""
    import torch
    taps, starts, o, n = table
    left = int(-starts.min())
    width = left + int(starts.max()) + taps.shape[1]
    dense = np.zeros((n, 1, width), np.float32)
    for p in range(n):
        first = left + int(starts[p])
        dense[p, 0, first:first + taps.shape[1]] = taps[p]
    return torch.from_numpy(dense), left


def _window(wave: np.ndarray, lo: int, size: int) -> np.ndarray:
    """float32 ``wave[lo:lo + size]`` with zeros where it leaves ``wave``."""
    out = np.zeros(size, np.float32)
    a, b = max(lo, 0), min(lo + size, len(wave))
    if b > a:
        out[a - lo:b - lo] = wave[a:b]
    return out


def resample(wave: np.ndarray,
             orig: int,
             new: int,
             first: int = 0,
             length: Optional[int] = None) -> np.ndarray:
    """float32 ``(N,)`` at ``orig`` Hz -> ``(length,)`` at ``new`` Hz;
    output sample ``k`` is the band-limited input at input position
    ``first + k * orig / new`` (zeros outside the input). By default
    ``first = 0`` and ``length = ceil(N * new / orig)``: the whole input.

    ``first``/``length`` cut a window without resampling the rest, with
    the filter reading real input on both sides of it. Playing audio
    ``s`` times faster is this call with ``orig = s * rate``: output ``k``
    sits ``s * rate / new`` source samples after output ``k - 1``, and the
    anti-alias cut-off follows the new rate.

    The same filter as ``torchaudio.transforms.Resample`` (checked against
    it in ``tests/datasets/test_fast_decoding.py``), written here because
    torchaudio is an optional extra (``.[audio]``) while audio decoding
    needs only PyAV. The taps are cached per rate pair
    (:func:`sinc_resample_kernel`), so a call has no set-up (a
    libswresample filter graph takes 1-3 ms to build). Where torch runs
    single-threaded (DataLoader workers: PyTorch sets 1 thread each) all
    phases are one strided ``conv1d`` (~0.6 ms for 1.5 s of 44.1 kHz
    audio); elsewhere each phase is one ``einsum`` over strided windows
    (~1.3 ms), because multi-threaded kernels stall on a busy machine
    (measured 30 ms for that conv1d with 2 threads, and 24 ms for an
    OpenBLAS matmul, under load). Both agree to ~1e-7.

    Rates outside :data:`COMMON_SAMPLE_RATES` may reduce to a ratio with
    thousands of phases (44101 -> 16000 Hz: 16000), whose dense weight
    would take gigabytes (2.8 GB, 2-12 s a call). Such pairs gather each
    output's input window in bounded chunks instead (:func:`_resample_gather`,
    same filter): with the cached phase table up to ``_MAX_TABLE_BYTES``,
    beyond it with taps computed per output. Nothing larger than those
    limits is built, and the caches keep at most 16 MB each.
    """
    key = (int(orig), int(new))
    if length is None:
        length = -(-(len(wave) - first) * key[1] // key[0])
    length = max(int(length), 0)
    if key[0] == key[1] or length == 0:
        return _window(wave, first, length)
    design = _filter_design(*key)
    o, n, w = design[0], design[1], design[4]
    k = 2 * w + 2
    table_bytes = n * (4 * k + 8)
    if table_bytes > _MAX_TABLE_BYTES:
        return _resample_gather(
            wave, first, length, o, n, k,
            lambda p: _phase_taps(p, design, i0=_torch_i0))
    table = _KERNELS.get(key, lambda: sinc_resample_kernel(*key),
                         table_bytes)
    taps, starts = table[0], table[1]
    blocks = -(-length // n)
    import torch
    single = torch.get_num_threads() == 1
    # the dense weight's width: left pad (w) + the last phase's offset + K
    dense_bytes = 4 * n * ((n - 1) * o // n + k + 1)
    if single and dense_bytes <= _MAX_DENSE_BYTES:
        weight, left = _DENSE.get(key, lambda: _dense_kernel(table),
                                  dense_bytes)
        padded = _window(wave, first - left,
                         (blocks - 1) * o + weight.shape[-1])
        with torch.no_grad():
            out = torch.nn.functional.conv1d(
                torch.from_numpy(padded)[None, None], weight, stride=o)[0]
        return out.T.reshape(-1)[:length].numpy()
    if single or n > _MAX_LOOP_PHASES:
        return _resample_gather(wave, first, length, o, n, k,
                                lambda p: (taps[p], starts[p]))
    left = int(-starts.min())
    padded = _window(wave, first - left, left + blocks * o + k + 2)
    windows = np.lib.stride_tricks.sliding_window_view(padded, k)
    out = np.empty((blocks, n), np.float32)
    for p in range(n):
        first_tap = left + int(starts[p])
        out[:, p] = np.einsum('mt,t->m', windows[first_tap::o][:blocks],
                              taps[p])
    return out.reshape(-1)[:length]


def _resample_gather(wave: np.ndarray, first: int, length: int, o: int,
                     n: int, k: int, taps_of: Callable) -> np.ndarray:
    """:func:`resample` for ratios with many phases, in bounded memory.

    Output ``j = m * n + p`` is ``taps . wave[first + m * o + start:][:k]``
    with ``(taps, start)`` of phase ``p`` from ``taps_of(phases)`` (rows of
    the cached table, or computed for just these outputs). Outputs are
    taken in chunks of ``_GATHER_FLOATS / k``: each chunk copies its
    outputs' input windows (overlapping, ``k`` samples each) and takes one
    row-wise dot product, so neither a dense weight nor a per-phase loop
    (16000 Python iterations for 44101 Hz) is needed.
    """
    out = np.empty(length, np.float32)
    step = max(_GATHER_FLOATS // k, 1)
    for c0 in range(0, length, step):
        j = np.arange(c0, min(c0 + step, length), dtype=np.int64)
        m, p = np.divmod(j, n)
        taps, starts = taps_of(p)
        pos = m * o + starts
        lo = int(pos.min())
        seg = _window(wave, first + lo, int(pos.max()) - lo + k)
        windows = np.lib.stride_tricks.sliding_window_view(seg, k)[pos - lo]
        out[c0:c0 + len(j)] = np.einsum('ck,ck->c', windows, taps)
    return out


def _resample_per_frame(av, frames: list, sample_rate: int) -> np.ndarray:
    """One resampler call per decoded frame (any mix of formats)."""
    resampler = av.AudioResampler(
        format='fltp', layout='mono', rate=sample_rate)
    chunks = []
    for frame in frames:
        frame.pts = None  # let the resampler count samples itself
        chunks.extend(o.to_ndarray()[0] for o in resampler.resample(frame))
    chunks.extend(o.to_ndarray()[0] for o in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
