"""The display rotation a video file asks for, read from its header.

Phones record landscape frames and store how to turn them for display (a
display matrix: the ``tkhd`` matrix of MP4/MOV, ``ProjectionPoseRoll`` in
Matroska/WebM). FFmpeg attaches it to every decoded frame
(``VideoFrame.rotation``), but PyAV 18 exposes no stream-level getter, and
the readers need the displayed size before they decode (to resize on
decode, for ``max_pixels``, for ``probe_media``). Walking the container's
boxes / elements costs a few small reads; only the first video track is
looked at, as FFmpeg's first video stream.

Flips in a display matrix (a mirrored front camera) and the movie-level
``mvhd`` matrix are ignored: FFmpeg's ``av_display_rotation_get`` (what
``VideoFrame.rotation`` reports) reads the rotation alone too.
"""
import math
import struct
from typing import BinaryIO, Iterator, Optional, Tuple

from .remote import open_source

__all__ = ['display_rotation', 'quarter_turns', 'is_iso_bmff', 'file_head']

#: ISO-BMFF box types that open an MP4/MOV/3GP file
_BMFF_FIRST = (b'ftyp', b'moov', b'mdat', b'free', b'wide', b'skip')
_EBML_MAGIC = b'\x1a\x45\xdf\xa3'


def quarter_turns(degrees: float) -> int:
    """Counter-clockwise ``degrees`` as ``np.rot90``'s ``k`` (0-3),
    rounded to the nearest quarter turn."""
    return int(round(degrees / 90.0)) % 4


def _open_binary(filename: str) -> BinaryIO:
    """``filename`` opened for reading (from memory when fetched)."""
    src = open_source(filename)
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


def display_rotation(filename: str) -> int:
    """Counter-clockwise rotation (degrees: 0, 90, 180 or 270, the nearest
    quarter turn) that the header of ``filename`` asks for; 0 for other
    containers or an unreadable header (the PyAV reader still follows each
    decoded frame's own rotation)."""
    try:
        with _open_binary(filename) as f:
            head = f.read(8)
            if len(head) == 8 and head[4:8] in _BMFF_FIRST:
                degrees = _bmff_rotation(f)
            elif head[:4] == _EBML_MAGIC:
                degrees = _matroska_rotation(f)
            else:
                return 0
    except (OSError, struct.error, ValueError, IndexError):
        return 0
    return 90 * quarter_turns(degrees or 0.0)


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


def _bmff_rotation(f: BinaryIO) -> float:
    f.seek(0)
    moov = next(((a, b) for k, a, b in _boxes(f, None) if k == b'moov'), None)
    if moov is None:
        return 0.0
    f.seek(moov[0])
    for trak in [(a, b) for k, a, b in _boxes(f, moov[1]) if k == b'trak']:
        mdia = _child(f, trak[0], trak[1], b'mdia')
        hdlr = mdia and _child(f, mdia[0], mdia[1], b'hdlr')
        if not hdlr:
            continue
        f.seek(hdlr[0] + 8)  # version/flags, pre_defined
        if f.read(4) != b'vide':
            continue
        tkhd = _child(f, trak[0], trak[1], b'tkhd')
        if tkhd is None:
            return 0.0
        f.seek(tkhd[0])
        version = f.read(1)[0]
        # the matrix follows the times/ids/duration (32-bit fields in
        # version 0, 64-bit in version 1) and 16 reserved/layer/volume bytes
        f.seek(tkhd[0] + (52 if version == 1 else 40))
        a, b = struct.unpack('>2i', f.read(8))
        # FFmpeg's display matrix is this matrix (same layout), and
        # av_display_rotation_get() reads its counter-clockwise angle as
        # -atan2(b, a) (a, b: the first row, 16.16 fixed point)
        return -math.degrees(math.atan2(b, a)) if (a or b) else 0.0
    return 0.0


# ---------------------------------------------------------------- Matroska

_SEGMENT, _CLUSTER, _TRACKS, _TRACK_ENTRY = (0x18538067, 0x1F43B675,
                                             0x1654AE6B, 0xAE)
_TRACK_TYPE, _VIDEO, _PROJECTION, _POSE_ROLL = 0x83, 0xE0, 0x7670, 0x7675


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


def _matroska_rotation(f: BinaryIO) -> float:
    segment = _first(f, 0, None, _SEGMENT)
    if segment is None:
        return 0.0
    tracks = None
    for eid, a, b in _elements(f, segment[0], segment[1]):
        if eid == _CLUSTER:  # the track list precedes the media data
            return 0.0
        if eid == _TRACKS:
            tracks = (a, b)
            break
    if tracks is None or tracks[1] is None:
        return 0.0
    entries = [(a, b) for e, a, b in _elements(f, *tracks)
               if e == _TRACK_ENTRY and b is not None]
    for a, b in entries:
        kind = _first(f, a, b, _TRACK_TYPE)
        if kind is None or kind[1] is None:
            continue
        f.seek(kind[0])
        if int.from_bytes(f.read(kind[1] - kind[0]), 'big') != 1:
            continue  # not video
        video = _first(f, a, b, _VIDEO)
        projection = video and video[1] is not None and _first(
            f, video[0], video[1], _PROJECTION)
        roll = projection and projection[1] is not None and _first(
            f, projection[0], projection[1], _POSE_ROLL)
        if not roll or roll[1] is None:
            return 0.0
        f.seek(roll[0])
        raw = f.read(roll[1] - roll[0])
        # the counter-clockwise angle, as FFmpeg writes and reads it: equal
        # to VideoFrame.rotation on files PyAV wrote with each quarter turn
        # (test_display_matrix_is_applied checks the turned frames)
        return struct.unpack('>f' if len(raw) == 4 else '>d', raw)[0]
    return 0.0
