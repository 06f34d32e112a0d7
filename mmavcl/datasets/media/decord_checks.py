"""Which files decord 0.6 reads wrong frames from, told before it opens them.

decord returns the right number of frames for every file below, but not
the right pictures for some indices: checked index by index against the
frames' time codes (``docs/data_preparation.md``, "decord against
PyAV, by codec and container").
:class:`~.video.DecordVideoReader` hands such files to the PyAV reader,
which reads them right, without opening them with decord at all (its open
costs more than the check: a PyAV open and packet demux, or for an MP4 its
sample tables alone).

* MPEG-TS, MPEG-PS and ASF files, whatever the codec
  (:data:`UNINDEXED_FORMATS`): containers without a frame index, where
  decord counts and seeks wrong. In an H.264 MPEG-TS with B-frames every
  index came back about a second late, in an HEVC one a picture of no
  frame; decord failed to open an MPEG-4 Part 2 MPEG-TS; random access in
  MPEG-PS (MPEG-2) and ASF (MS-MPEG4) returned frames up to 20 away. (An
  H.264 MPEG-TS without B-frames read right, but a TS of unknown origin
  is not worth the risk: PyAV reads them all right.)
* Raw video streams without a container (``.h264``, ``.hevc``, a raw
  ``.m4v``, ``.m2v``: :data:`~.probe.RAW_VIDEO_FORMATS`): decord refuses
  them at open (``Failed to measure duration/frame-count due to broken
  metadata``); the PyAV reader counts their frames.
* B-frames in an AVI (any codec): told by the stream's reorder delay
  (``has_b_frames``, from the MPEG-4 VOL or the H.264 SPS). decord numbers
  AVI frames in decode order and seeks to keyframes by it.
* Open GOPs in H.264 and HEVC (x264 ``open-gop``, x265's default CRA
  keyframes): a keyframe after the first is followed, in decode order, by
  pictures shown before it (:func:`has_leading_pictures`); decord misplaced
  the indices from those pictures to just after the keyframe.
* MPEG-4 Part 2 B-VOPs (open GOPs as well) and not-coded VOPs in any
  container (:func:`~.mpeg4.scan_vops`).
"""
import struct
from typing import BinaryIO, Optional

import numpy as np

from .mpeg4 import scan_vops
from .orientation import (_bmff_video_trak, _child, _read_video_track,
                          video_codec_tag)
from .probe import open_media, raw_video_format

__all__ = [
    'decord_misreads', 'has_leading_pictures', 'mp4_has_leading_pictures',
    'UNINDEXED_FORMATS'
]

#: FFmpeg demuxers of containers without a frame index, all of whose files
#: decord's reader hands to PyAV
UNINDEXED_FORMATS = {'mpegts': 'MPEG-TS', 'mpeg': 'MPEG-PS', 'asf': 'ASF'}

#: codecs of the first video track, as MP4/MOV and Matroska headers name
#: them (:func:`~.orientation.video_codec_tag`), that never reorder
#: pictures: files naming them are not opened with PyAV for the check
_NO_REORDER_TAGS = frozenset(
    {'vp08', 'vp09', 'av01', 'V_VP8', 'V_VP9', 'V_AV1'})

#: codecs whose open GOPs decord misplaces (MPEG-4 Part 2: ``scan_vops``)
_OPEN_GOP_CODECS = frozenset({'h264', 'hevc'})
#: MP4/MOV sample entries of those codecs -> FFmpeg's decoder name
_OPEN_GOP_TAGS = {
    'avc1': 'h264',
    'avc3': 'h264',
    'hvc1': 'hevc',
    'hev1': 'hevc'
}


def has_leading_pictures(container) -> bool:
    """Whether the first video stream of the PyAV ``container`` has an open
    GOP: its second keyframe is followed, in decode order, by a packet
    shown before it (leading B-pictures that refer to the keyframe and to
    the GOP before), before the first one shown after it. Leading pictures
    come right after their keyframe (HEVC requires it; x264 writes them
    so), and an encoder writes all its keyframes after the first alike.

    A demux of the packets up to just past the second keyframe (the whole
    file when it has a single keyframe), no decoding; False for streams without
    timestamps (AVI). The container is left at its start."""
    stream = container.streams.video[0]
    container.seek(0, stream=stream)
    keyframes, key_pts = 0, None
    try:
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None:
                continue
            if key_pts is not None:
                return packet.pts < key_pts
            if packet.is_keyframe:
                keyframes += 1
                key_pts = packet.pts if keyframes == 2 else None
        return False
    finally:
        container.seek(0, stream=stream)


def mp4_has_leading_pictures(filename: str) -> Optional[bool]:
    """:func:`has_leading_pictures` from the MP4/MOV header alone: the
    first video track's sample tables (``stss`` sync samples, ``stts``
    decode durations, ``ctts`` composition offsets) tell whether the sample
    after the second sync sample is shown before it. A few small reads, no
    FFmpeg open. None for other containers, an unreadable header, or
    empty tables (fragmented MP4, whose samples are in ``moof`` boxes)."""
    return _read_video_track(filename, _bmff_leading_pictures, lambda f: None)


def _table(f: BinaryIO, box, fields: int) -> np.ndarray:
    """The entries of a full box of ``fields`` 32-bit big-endian integers
    each (after version/flags and the entry count): ``(count, fields)``
    int64, read as signed (``ctts`` offsets may be negative)."""
    f.seek(box[0] + 4)
    count = struct.unpack('>I', f.read(4))[0]
    data = f.read(4 * fields * count)
    if len(data) < 4 * fields * count:
        raise ValueError('sample table cut short')
    return np.frombuffer(data, '>i4').astype(np.int64).reshape(-1, fields)


def _run_value(table: np.ndarray, sample: int) -> int:
    """The value of the 0-based ``sample`` in a run-length ``(count,
    value)`` table (``stts``, ``ctts``)."""
    ends = np.cumsum(table[:, 0])
    return int(table[np.searchsorted(ends, sample, side='right'), 1])


def _bmff_leading_pictures(f: BinaryIO) -> Optional[bool]:
    stbl = _bmff_video_trak(f)
    for kind in (b'mdia', b'minf', b'stbl'):
        stbl = stbl and _child(f, stbl[0], stbl[1], kind)
    if not stbl:
        return None
    boxes = {
        kind: _child(f, stbl[0], stbl[1], kind)
        for kind in (b'stsz', b'stss', b'stts', b'ctts')
    }
    if boxes[b'stsz'] is None or boxes[b'stts'] is None:
        return None
    f.seek(boxes[b'stsz'][0] + 8)  # version/flags, sample size
    num_samples = struct.unpack('>I', f.read(4))[0]
    if not num_samples:
        return None  # fragmented: the samples are described elsewhere
    if boxes[b'stss'] is None or boxes[b'ctts'] is None:
        return False  # every sample a sync sample, or none reordered
    syncs = _table(f, boxes[b'stss'], 1)[:, 0] - 1  # 1-based numbers
    if len(syncs) < 2 or syncs[1] + 1 >= num_samples:
        return False
    key = int(syncs[1])
    stts, ctts = _table(f, boxes[b'stts'], 2), _table(f, boxes[b'ctts'], 2)
    # pts(key + 1) - pts(key) = duration(key) + ctts(key + 1) - ctts(key)
    return _run_value(stts, key) + _run_value(ctts, key + 1) < \
        _run_value(ctts, key)


def decord_misreads(filename: str, container=None) -> Optional[str]:
    """Why decord 0.6 would return wrong frames for ``filename``; None
    where it reads it right, or PyAV cannot open it (decord's own errors
    then tell). Read from ``container``, an open PyAV container of it
    (which the caller keeps), or else from its header where that tells
    (H.264/HEVC in MP4/MOV: :func:`mp4_has_leading_pictures`; VP8, VP9 and
    AV1 in MP4/Matroska, which never reorder, by the codec the header
    names), or else from a PyAV open of its own (:func:`~.probe.open_media`;
    with the demux 0.7-1.1 ms for 3-10 s H.264/HEVC MKV on a loaded 2-core
    box, 0.1-0.25 ms without the open)."""
    try:
        if container is not None:
            return _misread_reason(container)
        tag = video_codec_tag(filename)
        if tag in _NO_REORDER_TAGS:
            return None
        if tag in _OPEN_GOP_TAGS:  # an MP4/MOV header tells, no open
            leading = mp4_has_leading_pictures(filename)
            if leading is not None:
                return f'{_OPEN_GOP_TAGS[tag]} open GOP' if leading else None
        container = open_media(filename)
        try:
            return _misread_reason(container)
        finally:
            container.close()
    except Exception:  # MediaDecodeError, av.error.FFmpegError, OSError
        return None


def _misread_reason(container) -> Optional[str]:
    """:func:`decord_misreads` on an open PyAV ``container``."""
    if not container.streams.video:
        return None
    raw = raw_video_format(container)
    if raw is not None:
        return f'raw {raw} stream (no timestamps)'
    fmt = container.format.name
    for name in fmt.split(','):
        if name in UNINDEXED_FORMATS:
            return f'{UNINDEXED_FORMATS[name]} (no frame index)'
    ctx = container.streams.video[0].codec_context
    if ctx is None:
        return None
    if ctx.has_b_frames and 'avi' in fmt:
        return 'B-frames in AVI'
    if ctx.name in _OPEN_GOP_CODECS:
        # the cheap probe leaves HEVC's reorder delay at 0: packets tell
        if has_leading_pictures(container):
            return f'{ctx.name} open GOP'
        return None
    # MPEG-4 Part 2 (else (0, 0)): its packets tell, where the probe may
    # not have read the VOL (MP4) or found no B-frame flag in it
    not_coded, b_vops = scan_vops(container)
    if b_vops:
        return 'MPEG-4 Part 2 B-VOPs'
    if not_coded:
        return 'MPEG-4 Part 2 not-coded VOPs'
    return None
