"""Which files decord 0.6 reads wrong frames from, told before it opens them.

decord returns the right number of frames for every file below, but not
the right pictures for some indices: checked index by index against the
frames' time codes (``docs/data_preparation.md``, "Reader correctness").
:class:`~.video.DecordVideoReader` hands such files to the PyAV reader,
which reads them right, without opening them with decord at all (its open
costs more than the PyAV open and packet demux the check needs).

* B-frames in an AVI or an MPEG-TS (any codec): told by the stream's
  reorder delay (``has_b_frames``, from the MPEG-4 VOL or the H.264 SPS).
  decord numbers AVI frames in decode order and seeks to keyframes by it;
  in MPEG-TS with B-frames every index came back about a second late.
* Open GOPs in H.264 and HEVC (x264 ``open-gop``, x265's default CRA
  keyframes): a keyframe after the first is followed, in decode order, by
  pictures shown before it (:func:`has_leading_pictures`); decord misplaced
  the indices from those pictures to just after the keyframe.
* MPEG-4 Part 2 B-VOPs (open GOPs as well) and not-coded VOPs in any
  container (:func:`~.mpeg4.scan_vops`).
"""
from typing import Optional

from .mpeg4 import scan_vops
from .orientation import video_codec_tag
from .probe import open_media

__all__ = ['decord_misreads', 'has_leading_pictures']

#: codecs of the first video track, as MP4/MOV and Matroska headers name
#: them (:func:`~.orientation.video_codec_tag`), that never reorder
#: pictures: files naming them are not opened with PyAV for the check
_NO_REORDER_TAGS = frozenset(
    {'vp08', 'vp09', 'av01', 'V_VP8', 'V_VP9', 'V_AV1'})

#: codecs whose open GOPs decord misplaces (MPEG-4 Part 2: ``scan_vops``)
_OPEN_GOP_CODECS = frozenset({'h264', 'hevc'})


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


def decord_misreads(filename: str, container=None) -> Optional[str]:
    """Why decord 0.6 would return wrong frames for ``filename``; None
    where it reads it right, or PyAV cannot open it (decord's own errors
    then tell). Read from ``container``, an open PyAV container of it
    (which the caller keeps), or else from a PyAV open of its own
    (:func:`~.probe.open_media`; with the demux 0.7-1.1 ms for 3-10 s
    H.264/HEVC MP4 and MKV on a loaded 2-core box, 0.1-0.25 ms without the
    open), which VP8, VP9 and AV1 in MP4/Matroska skip: their header names
    the codec (25-50 us to read)."""
    try:
        if container is not None:
            return _misread_reason(container)
        if video_codec_tag(filename) in _NO_REORDER_TAGS:
            return None
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
    ctx = container.streams.video[0].codec_context
    if ctx is None:
        return None
    fmt = container.format.name
    if ctx.has_b_frames and ('avi' in fmt or fmt == 'mpegts'):
        return f'B-frames in {"AVI" if "avi" in fmt else "MPEG-TS"}'
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
