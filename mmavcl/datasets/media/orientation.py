"""The display rotation and mirroring a video file asks for, read from its
header.

Phones record landscape frames and store how to turn them for display (a
display matrix: the ``tkhd`` matrix of MP4/MOV, ``ProjectionPoseRoll`` and
``ProjectionPoseYaw`` in Matroska/WebM); a front camera's mirrored video
adds a flip. FFmpeg attaches the matrix to every decoded frame, but PyAV 18
exposes only its rotation (``VideoFrame.rotation``, which reads a
left-right mirror as a half turn) and no stream-level getter, and the
readers need the displayed size before they decode (to resize on decode,
for ``max_pixels``, for ``probe_media``). Walking the container's boxes /
elements costs a few small reads; only the first video track is looked at,
as FFmpeg's first video stream. The same walk tells that track's codec as
the header names it (:func:`video_codec_tag`).

The matrix is read as FFmpeg's players show it (``autorotate`` in
``ffmpeg``/``ffplay``): the nearest quarter turn of its rotation, then a
transpose or flips chosen by the signs of its entries. That is expressed
here as a counter-clockwise quarter turn followed, or not, by a left-right
mirror (:func:`display_orientation`). The movie-level ``mvhd`` matrix is
ignored, as FFmpeg does.
"""
import math
import struct
from typing import BinaryIO, Callable, Iterator, Optional, Tuple

from .remote import open_source

__all__ = [
    'display_rotation', 'display_orientation', 'matrix_rotation',
    'quarter_turns', 'is_iso_bmff', 'file_head', 'video_codec_tag'
]

#: ISO-BMFF box types that open an MP4/MOV/3GP file
_BMFF_FIRST = (b'ftyp', b'moov', b'mdat', b'free', b'wide', b'skip')
_EBML_MAGIC = b'\x1a\x45\xdf\xa3'


def quarter_turns(degrees: float) -> int:
    """Counter-clockwise ``degrees`` as ``np.rot90``'s ``k`` (0-3),
    rounded to the nearest quarter turn."""
    return int(round(degrees / 90.0)) % 4


def _open_binary(filename: str, stream: str = 'video') -> BinaryIO:
    """``filename`` opened for reading (from memory when fetched; a FIFO
    or other non-regular file raises ``MediaDecodeError`` for
    ``stream``, never blocks)."""
    src = open_source(filename, stream)
    return src if not isinstance(src, str) else open(src, 'rb')


def file_head(filename: str, size: int) -> bytes:
    """The first ``size`` bytes of ``filename`` (fewer for a shorter file;
    ``b''`` when it cannot be read): enough to tell a container by its
    magic bytes before FFmpeg opens it."""
    try:
        with _open_binary(filename) as f:
            return f.read(size)
    except OSError:
        return b''


def is_iso_bmff(filename: str) -> bool:
    """Whether ``filename`` starts like an MP4/MOV/3GP file."""
    head = file_head(filename, 8)
    return len(head) == 8 and head[4:8] in _BMFF_FIRST


#: ``(a, b, c, d)``: the rotation/scale part of a display matrix in
#: FFmpeg's layout (``[a b; c d]``, MP4's ``tkhd`` order)
Matrix = Tuple[float, float, float, float]


def _read_video_track(filename: str, bmff: Callable, matroska: Callable):
    """``bmff(f)`` or ``matroska(f)`` on ``filename`` opened, by its
    container; None for other containers or an unreadable header."""
    try:
        with _open_binary(filename) as f:
            head = f.read(8)
            if len(head) == 8 and head[4:8] in _BMFF_FIRST:
                return bmff(f)
            if head[:4] == _EBML_MAGIC:
                return matroska(f)
    except (OSError, struct.error, ValueError, IndexError):
        pass
    return None


def _display_matrix(filename: str) -> Optional[Matrix]:
    """The display matrix of the first video track of ``filename``; None
    for other containers, no matrix, or an unreadable header."""
    return _read_video_track(filename, _bmff_matrix, _matroska_matrix)


def video_codec_tag(filename: str) -> Optional[str]:
    """How the header of ``filename`` names the codec of its first video
    track: the MP4/MOV sample entry type (``'avc1'``, ``'mp4v'``) or the
    Matroska/WebM ``CodecID`` (``'V_MPEG4/ISO/AVC'``, ``'V_VP9'``); None
    for other containers or an unreadable header. A few small reads, no
    FFmpeg open."""
    return _read_video_track(filename, _bmff_codec, _matroska_codec)


def _ccw(m: Matrix) -> float:
    """The counter-clockwise angle (degrees) FFmpeg's
    ``av_display_rotation_get`` reads from ``m`` (each column scaled to
    unit length first)."""
    a, b, c, d = m
    return -math.degrees(math.atan2(b / (math.hypot(b, d) or 1),
                                    a / (math.hypot(a, c) or 1)))


def matrix_rotation(filename: str) -> int:
    """The rotation (counter-clockwise degrees, nearest quarter turn) that
    FFmpeg's ``av_display_rotation_get`` reads from the header's matrix,
    flips ignored: what ``VideoFrame.rotation`` reports and what decord
    applies to MP4/MOV by itself. 0 without a matrix."""
    m = _display_matrix(filename)
    return 90 * quarter_turns(_ccw(m)) if m else 0


def display_orientation(filename: str) -> Tuple[int, bool]:
    """``(degrees, mirror)``: the picture as displayed is the stored one
    turned ``degrees`` counter-clockwise (0, 90, 180 or 270), then mirrored
    left-right when ``mirror`` (``np.rot90(img, degrees // 90)``, then
    ``[:, ::-1]``). ``(0, False)`` for other containers or an unreadable
    header (the PyAV reader still follows each decoded frame's own
    rotation).

    FFmpeg's players turn the picture by the matrix's rotation, rounded to
    a quarter turn, clockwise ``t`` (``-av_display_rotation_get``), and add
    a flip from the signs of the entries: at ``t`` = 0 a vertical flip when
    ``d < 0``; at 90 a transpose (not a turn) when ``c > 0``; at 180 a
    left-right flip when ``a < 0`` and an upside-down one when ``d < 0``;
    at 270 an anti-transpose when ``c < 0``. Each is one of the eight
    ``(degrees, mirror)`` pairs.
    """
    m = _display_matrix(filename)
    if m is None:
        return 0, False
    a, _, c, d = m
    cw = (-quarter_turns(_ccw(m))) % 4  # FFmpeg's clockwise quarter turns
    if cw == 0:
        # an upside-down flip is a half turn, mirrored
        return (180, True) if d < 0 else (0, False)
    if cw == 1:
        # transpose: a clockwise quarter turn, mirrored
        return 270, c > 0
    if cw == 3:
        # anti-transpose: a counter-clockwise quarter turn, mirrored
        return 90, c < 0
    # half turn: its two flips, each one optional
    left_right, upside_down = a < 0, d < 0
    if left_right and upside_down:
        return 180, False
    if upside_down:
        return 180, True
    return 0, left_right


def display_rotation(filename: str) -> int:
    """Counter-clockwise rotation (degrees: 0, 90, 180 or 270) of the
    picture as displayed: :func:`display_orientation`'s, the turn before any
    mirror."""
    return display_orientation(filename)[0]


# ---------------------------------------------------------------- ISO-BMFF


def _boxes(f: BinaryIO,
           end: Optional[int]) -> Iterator[Tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of the boxes from the current
    position to ``end`` (None: the end of the file)."""
    while True:
        pos = f.tell()
        if end is not None and pos + 8 > end:
            return
        head = f.read(8)
        if len(head) < 8:
            return
        size, kind = struct.unpack('>I4s', head)
        start = pos + 8
        if size == 1:  # 64-bit size follows (large mdat)
            size = struct.unpack('>Q', f.read(8))[0]
            start += 8
        elif size == 0:  # to the end of the file
            f.seek(0, 2)
            size = f.tell() - pos
        if size < start - pos:
            return  # corrupt: do not loop
        yield kind, start, pos + size
        f.seek(pos + size)


def _child(f: BinaryIO, start: int, end: int,
           kind: bytes) -> Optional[Tuple[int, int]]:
    f.seek(start)
    for k, a, b in _boxes(f, end):
        if k == kind:
            return a, b
    return None


def _bmff_video_trak(f: BinaryIO) -> Optional[Tuple[int, int]]:
    """``(payload start, end)`` of the first video ``trak`` box."""
    f.seek(0)
    moov = next(((a, b) for k, a, b in _boxes(f, None) if k == b'moov'), None)
    if moov is None:
        return None
    f.seek(moov[0])
    for trak in [(a, b) for k, a, b in _boxes(f, moov[1]) if k == b'trak']:
        mdia = _child(f, trak[0], trak[1], b'mdia')
        hdlr = mdia and _child(f, mdia[0], mdia[1], b'hdlr')
        if not hdlr:
            continue
        f.seek(hdlr[0] + 8)  # version/flags, pre_defined
        if f.read(4) == b'vide':
            return trak
    return None


def _bmff_matrix(f: BinaryIO) -> Optional[Matrix]:
    trak = _bmff_video_trak(f)
    tkhd = trak and _child(f, trak[0], trak[1], b'tkhd')
    if not tkhd:
        return None
    f.seek(tkhd[0])
    version = f.read(1)[0]
    # the matrix follows the times/ids/duration (32-bit fields in version
    # 0, 64-bit in version 1) and 16 reserved/layer/volume bytes
    f.seek(tkhd[0] + (52 if version == 1 else 40))
    # FFmpeg's display matrix is this matrix (same layout: a, b, u, c, d,
    # v, x, y, w; a-d 16.16 fixed point)
    a, b, _, c, d = struct.unpack('>5i', f.read(20))
    return (a / 65536, b / 65536, c / 65536, d / 65536) if (
        (a or c) and (b or d)) else None


def _bmff_codec(f: BinaryIO) -> Optional[str]:
    """The first video track's first sample entry type (``'avc1'``)."""
    box = _bmff_video_trak(f)
    for kind in (b'mdia', b'minf', b'stbl', b'stsd'):
        box = box and _child(f, box[0], box[1], kind)
    if not box:
        return None
    f.seek(box[0] + 12)  # version/flags, entry count, the entry's size
    return f.read(4).decode('latin-1')


# ---------------------------------------------------------------- Matroska

_SEGMENT, _CLUSTER, _TRACKS, _TRACK_ENTRY = (0x18538067, 0x1F43B675,
                                             0x1654AE6B, 0xAE)
_TRACK_TYPE, _CODEC_ID, _VIDEO, _PROJECTION = 0x83, 0x86, 0xE0, 0x7670
_POSE_YAW, _POSE_PITCH, _POSE_ROLL = 0x7673, 0x7674, 0x7675


def _vint(f: BinaryIO, keep_marker: bool) -> Optional[int]:
    """An EBML variable-length integer (IDs keep their length marker; a
    size of all ones means unknown: None)."""
    first = f.read(1)
    if not first:
        raise ValueError('end of file')
    length = 1
    while length <= 8 and not first[0] & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError('bad EBML integer')
    value = first[0] if keep_marker else first[0] & (0xFF >> length)
    for byte in f.read(length - 1):
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return None
    return value


def _elements(f: BinaryIO, start: int,
              end: Optional[int]) -> Iterator[Tuple[int, int, Optional[int]]]:
    """``(id, data start, data end)`` of the elements in ``[start, end)``;
    an element of unknown size (a live segment) ends the walk after it."""
    f.seek(start)
    while end is None or f.tell() < end:
        try:
            eid = _vint(f, True)
            size = _vint(f, False)
        except ValueError:
            return
        data = f.tell()
        yield eid, data, None if size is None else data + size
        if size is None:
            return
        f.seek(data + size)


def _first(f: BinaryIO, start: int, end: Optional[int],
           eid: int) -> Optional[Tuple[int, Optional[int]]]:
    for e, a, b in _elements(f, start, end):
        if e == eid:
            return a, b
    return None


def _float(f: BinaryIO, start: int, end: int) -> float:
    f.seek(start)
    raw = f.read(end - start)
    return struct.unpack('>f' if len(raw) == 4 else '>d', raw)[0]


def _matroska_video_track(f: BinaryIO) -> Optional[Tuple[int, int]]:
    """``(data start, end)`` of the first video ``TrackEntry``."""
    segment = _first(f, 0, None, _SEGMENT)
    if segment is None:
        return None
    tracks = None
    for eid, a, b in _elements(f, segment[0], segment[1]):
        if eid == _CLUSTER:  # the track list precedes the media data
            return None
        if eid == _TRACKS:
            tracks = (a, b)
            break
    if tracks is None or tracks[1] is None:
        return None
    entries = [(a, b) for e, a, b in _elements(f, *tracks)
               if e == _TRACK_ENTRY and b is not None]
    for a, b in entries:
        kind = _first(f, a, b, _TRACK_TYPE)
        if kind is None or kind[1] is None:
            continue
        f.seek(kind[0])
        if int.from_bytes(f.read(kind[1] - kind[0]), 'big') == 1:  # video
            return a, b
    return None


def _matroska_matrix(f: BinaryIO) -> Optional[Matrix]:
    track = _matroska_video_track(f)
    video = track and _first(f, track[0], track[1], _VIDEO)
    projection = video and video[1] is not None and _first(
        f, video[0], video[1], _PROJECTION)
    if not projection or projection[1] is None:
        return None
    pose = {}
    for eid, x, y in _elements(f, *projection):
        if eid in (_POSE_YAW, _POSE_PITCH, _POSE_ROLL) and y is not None:
            pose[eid] = _float(f, x, y)
    yaw, pitch = pose.get(_POSE_YAW, 0.0), pose.get(_POSE_PITCH, 0.0)
    roll = pose.get(_POSE_ROLL, 0.0)
    # FFmpeg's matroska demuxer: a yaw of +-180 degrees is a left-right
    # mirror applied first; other yaws and any pitch are 3D (ignored)
    if pitch != 0.0 or yaw not in (0.0, 180.0, -180.0) or \
            math.isnan(roll) or (yaw == 0.0 and roll == 0.0):
        return None
    mirror = yaw != 0.0
    # roll is counter-clockwise, and a mirror first reverses it: the
    # matrix turns the stored picture by `turn` counter-clockwise ...
    turn = math.radians(-roll if mirror else roll)
    cos, sin = math.cos(turn), math.sin(turn)
    a_, b_, c_, d_ = cos, -sin, sin, cos
    # ... and FFmpeg's left-right flip negates its first column
    return (-a_, b_, -c_, d_) if mirror else (a_, b_, c_, d_)


def _matroska_codec(f: BinaryIO) -> Optional[str]:
    """The first video track's ``CodecID`` (``'V_MPEG4/ISO/AVC'``)."""
    track = _matroska_video_track(f)
    codec = track and _first(f, track[0], track[1], _CODEC_ID)
    if not codec or codec[1] is None:
        return None
    f.seek(codec[0])
    return f.read(codec[1] - codec[0]).decode('latin-1').rstrip('\0')
