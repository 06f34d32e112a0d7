"""What a media file's header says, read without decoding its frames:
cheap PyAV opens, the frame size as displayed, stream facts
(:func:`probe_media`), where the video starts in the file's clock, and the
audio's duration and start."""
import contextlib
from typing import Optional, Tuple

from ..errors import MediaDecodeError, MissingAudioError
from .orientation import (display_orientation, display_rotation,
                          file_head, quarter_turns)
from .reason import short_reason
from .remote import open_source, source_size
from .wav import is_wav_name, open_pcm_wav, wav_duration

__all__ = [
    'open_media', 'open_audio_file', 'probe_media', 'probe_frame_size',
    'probe_audio_duration', 'probe_audio_timing', 'probe_audio_stream',
    'audio_stream_timing', 'stated_audio_end', 'video_start_time',
    'file_start_time',
    'scan_video', 'is_avi', 'RAW_VIDEO_FORMATS', 'raw_video_format'
]


def is_avi(filename: str) -> bool:
    """Whether ``filename`` is a RIFF AVI (by its first 12 bytes)."""
    head = file_head(filename, 12)
    return head[:4] == b'RIFF' and head[8:12] == b'AVI '


#: FFmpeg demuxers of raw video streams -> the codec they hold: a bare
#: bitstream (``.h264``/``.264`` and ``.hevc``/``.265`` Annex B, an MPEG-4
#: Part 2 ``.m4v`` that is no MP4, ``.m1v``/``.m2v``), without a container:
#: no timestamps (FFmpeg makes them up), no index, no audio
RAW_VIDEO_FORMATS = {
    'h264': 'H.264',
    'hevc': 'HEVC',
    'm4v': 'MPEG-4 Part 2',
    'mpegvideo': 'MPEG-1/2 video'
}


def raw_video_format(container) -> Optional[str]:
    """The codec of the raw video stream that the open PyAV ``container``
    is (:data:`RAW_VIDEO_FORMATS`); None for a container format. FFmpeg
    tells by the content, not the name (an MP4 named ``.m4v`` is MP4)."""
    for name in container.format.name.split(','):
        if name in RAW_VIDEO_FORMATS:
            return RAW_VIDEO_FORMATS[name]
    return None


#: Codec options of stream 0 while :func:`open_media` probes the streams.
#: ``avformat_find_stream_info`` decodes H.264 frames until it has guessed
#: the decoder delay (~7 frames, 3-5 ms at 340x256); skipping non-key frames
#: still decodes the first keyframe, so the size comes from the bitstream
#: exactly as with a full probe, at ~1/3 of the cost
#: (docs/benchmarks_history.md, "Changes after the profile").
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
            container = av.open(open_source(filename, stream),
                                stream_options=[dict(_CHEAP_PROBE)],
                                hwaccel=hwaccel)
        except ValueError:  # no streams before probing: options refused
            return av.open(open_source(filename, stream), hwaccel=hwaccel)
        if not _audio_params_known(container):
            container.close()
            container = av.open(open_source(filename, stream),
                                hwaccel=hwaccel)
        return container
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, short_reason(err), stream) from err


#: FFmpeg's default open of a 16-bit PCM WAV reads through its samples
#: although the header gives every parameter (ad-hoc timings here: opening
#: 10 s of 44.1 kHz mono took 14.7 ms, 0.4 ms with this probe; duration +
#: one 2 s span of a 4-channel file 192 ms, 12 ms with it). WAVs that the
#: standard library does not read go through PyAV with it
#: (:func:`_audio_params_known` checks the result)
_WAV_PROBE = {'probesize': '32', 'analyzeduration': '0'}


def open_audio_file(av, filename: str):
    """``av.open(filename)`` (from memory when fetched), with a minimal
    probe for ``.wav`` names."""
    if is_wav_name(filename):
        container = av.open(open_source(filename, 'audio'),
                            options=dict(_WAV_PROBE))
        if _audio_params_known(container) and container.streams.audio:
            return container
        container.close()
    return av.open(open_source(filename, 'audio'))


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
        display matrix turns the stored frames: 0, 90, 180, 270), ``flip``
        (True when the turned picture is then mirrored left-right: a
        front camera's; an upside-down flip is ``rotation`` 180 and
        ``flip``), ``fps``,
        ``num_frames`` (header count, 0 if unknown), ``duration`` (s,
        container), ``has_audio``, ``audio_codec``, ``audio_duration`` (s,
        0 if unknown), ``size_bytes``.

    Raises:
        MediaDecodeError: the container cannot be opened (empty, garbage,
            truncated before the index).
    """
    import av
    size = source_size(filename)
    if size < 0:
        raise MediaDecodeError(filename, 'file does not exist')
    if size == 0:
        raise MediaDecodeError(filename, 'empty file (0 bytes)')
    info = dict(has_video=False, video_codec=None, width=0, height=0,
                rotation=0, flip=False, fps=0.0, num_frames=0,
                duration=0.0, has_audio=False, audio_codec=None,
                audio_duration=0.0, size_bytes=size)
    try:
        with av.open(open_source(filename)) as c:
            info['duration'] = (c.duration or 0) / 1e6
            if c.streams.video:
                s = c.streams.video[0]
                info['has_video'] = True
                cc = s.codec_context
                if cc is not None:
                    rotation, flip = display_orientation(filename)
                    h, w = int(cc.height), int(cc.width)
                    if rotation % 180:
                        h, w = w, h
                    info.update(video_codec=cc.name, width=w, height=h,
                                rotation=rotation, flip=flip)
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
        raise MediaDecodeError(filename, short_reason(err)) from err
    return info


#: Video packets demuxed at open, from the first keyframe on, to find the
#: first displayed frame (the smallest presentation time among them:
#: B-frames put it after the first packet in decode order, by at most the
#: reorder delay, a few frames)
_START_PACKETS = 16


#: HEVC NAL unit types (H.265 Table 7-1): the random-access skipped
#: leading pictures, and the keyframes that may have them (BLA, CRA)
_HEVC_RASL = (8, 9)
_HEVC_OPEN_KEYS = (16, 17, 18, 21)


def hevc_picture_type(data: bytes) -> Optional[int]:
    """NAL unit type of the first picture slice (type < 32) of an HEVC
    Annex B access unit, ``None`` without one."""
    at = data.find(b'\x00\x00\x01')
    while 0 <= at < len(data) - 3:
        kind = (data[at + 3] >> 1) & 0x3f
        if kind < 32:
            return kind
        at = data.find(b'\x00\x00\x01', at + 3)
    return None


def scan_video(container, stream, count: bool = False,
               shown_pts: Optional[list] = None):
    """Demux the first packets of ``stream`` (all of them when ``count``;
    nobody relies on the position afterwards: every decode seeks first).
    With ``count``, the pts of every non-empty packet that is shown (from
    the first keyframe on, not a leading picture, not discarded before an
    MP4 edit list's start) is appended to ``shown_pts`` when one is given.

    The header's stream start is no substitute: with the cheap probe of
    :func:`open_media`, an MKV whose audio starts 0.5 s after the video
    gave the video the audio's start. A stream cut in the middle (an
    MPEG-TS cut at any packet: an HLS segment that does not start on a
    keyframe, a recording started mid-broadcast) starts with packets that
    cannot be decoded, which the decoder drops: those before the first
    keyframe, and after it the leading pictures of an open GOP (shown
    before the keyframe, they refer to a picture before it too: x265's
    RASL pictures after a CRA keyframe). Its first frame shown is the
    first keyframe's, and neither kind is counted or timed. Leading
    pictures are told by their pts, or, in a raw HEVC stream (no
    timestamps), by their NAL unit type: the RASL pictures right after a
    CRA or BLA first keyframe.

    Returns:
        ``(packets, start, lowest, before_key)``: the number of non-empty
        packets from the first keyframe on that are shown (when counting;
        all of them where no packet is flagged a keyframe), the smallest
        pts among those of the first :data:`_START_PACKETS` from the first
        keyframe on, the smallest pts or dts of every packet up to those
        (the top of the file for a seek), ``None`` where unknown; and the
        number of non-empty packets before the first keyframe (0 where
        none is flagged).
    """
    n, before_key, leading, looked = 0, 0, 0, 0
    start = lowest = key_pts = None
    keyed = False
    # until past its first keyframe's RASL pictures (which have no pts)
    rasl_check = stream.codec_context.name == 'hevc' and \
        container.format.name in RAW_VIDEO_FORMATS
    unkeyed_pts: list = []  # shown after all if no packet is a keyframe
    for packet in container.demux(stream):
        if not packet.size:
            continue  # the demuxer's final flush packet
        first_key = not keyed and packet.is_keyframe
        if first_key:
            keyed, key_pts = True, packet.pts
        n += 1
        pts = packet.pts
        shown = keyed and not (key_pts is not None and pts is not None
                               and pts < key_pts)
        if keyed and rasl_check:
            kind = hevc_picture_type(bytes(packet))
            if first_key:
                rasl_check = kind in _HEVC_OPEN_KEYS
            else:
                shown = kind not in _HEVC_RASL
                rasl_check = not shown
        if not keyed:
            before_key += 1
        elif not shown:
            leading += 1
        if shown_pts is not None and pts is not None and \
                not packet.is_discard and (shown or not keyed):
            (shown_pts if shown else unkeyed_pts).append(pts)
        if looked < _START_PACKETS:
            looked += keyed
            for t in (pts, packet.dts):
                if t is not None and (lowest is None or t < lowest):
                    lowest = t
            # a discarded packet (before an MP4 edit list's start) is
            # decoded but not shown
            if shown and pts is not None and not packet.is_discard and \
                    (start is None or pts < start):
                start = pts
        elif not count:
            break
    if not keyed:
        before_key = 0
        if shown_pts is not None:
            shown_pts.extend(unkeyed_pts)
    return n - before_key - leading, start, lowest, before_key


def file_start_time(container) -> float:
    """Time (s, in the file's clock) where an open PyAV ``container``
    starts: the earliest start of its streams (FFmpeg's
    ``AVFormatContext.start_time``, which the ``ffmpeg`` CLI subtracts from
    every timestamp unless ``-copyts``); 0.0 when unknown."""
    start = container.start_time
    return start / 1e6 if start is not None else 0.0


def video_start_time(container) -> float:
    """Time (s, in the file's clock) of the first displayed frame of the
    first video stream of an open PyAV ``container``; 0.0 when unknown."""
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    try:
        start = scan_video(container, stream)[1]
    except Exception:  # the video reader reports unreadable files
        start = None
    if start is None:
        start = stream.start_time
    return float(start * stream.time_base) if start is not None else 0.0


def audio_stream_timing(container, stream) -> Tuple[Optional[float], float]:
    """``(duration, start)`` (s) of the audio ``stream`` of an open PyAV
    ``container``: the start on the file's clock (0 when unknown) and the
    duration from the header, or where the header has none (Matroska,
    WebM: their duration is the file's, the longest stream's end), the end
    of the last packet (time plus duration; all packets demuxed, none
    decoded) minus the start. ``None``: no timestamps, only decoding the
    samples can tell (the demuxer is then at the end of the file)."""
    tb = stream.time_base
    start = float(stream.start_time * tb) \
        if stream.start_time is not None else 0.0
    if stream.duration:
        duration = float(stream.duration * tb)
        if container.format.name == 'ogg':
            duration -= _ogg_pre_skip(stream)
        return duration, start
    end = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        t = packet.pts + (packet.duration or 0)
        end = t if end is None or t > end else end
    if end is None:
        return None, start
    return max(float(end * tb) - start, 0.0), start


#: one of the names of FFmpeg's ISO media demuxer
#: (``mov,mp4,m4a,3gp,3g2,mj2``), whose audio track duration is the edit
#: list's (or the sample table's): :func:`stated_audio_end`
_ISO_MEDIA_DEMUXER = 'mp4'


def stated_audio_end(container, stream) -> Optional[float]:
    """Time (s, on the file's clock) where the container says the audio
    ``stream`` of an open PyAV ``container`` ends, when that is more
    exact than the decoded samples; ``None`` otherwise.

    An encoder fills its last frame with padding (AAC: up to 1023
    samples, MP3: up to one 576- or 1152-sample frame). An MP4's track
    duration (its edit list's, the last packet counting only its real
    samples) excludes it, but FFmpeg decodes that frame whole: e.g. 2 s of
    16 kHz AAC decode to 2.048 s. So the MP4 family (MP4, M4A, MOV) gives
    its start plus duration. Elsewhere FFmpeg already trims (an Ogg
    stream's end granule, Matroska's ``DiscardPadding`` of Opus and
    Vorbis, an MP3 file's LAME/Xing gapless record), the audio is PCM or
    FLAC, or nothing states the end (AAC and AC-3 in Matroska, MP3 in AVI,
    MPEG-TS), whose decoded audio then runs up to one codec frame past the
    real end."""
    if _ISO_MEDIA_DEMUXER not in container.format.name.split(',') or \
            not stream.duration or stream.duration <= 0:
        return None
    start = stream.start_time or 0
    return float((start + stream.duration) * stream.time_base)


def _ogg_pre_skip(stream) -> float:
    """The Opus pre-skip (s) of an Ogg ``stream``; 0 for other codecs.

    An Ogg Opus granule position counts the pre-skip, the encoder's
    priming samples that the decoder drops (RFC 7845, 4.), and FFmpeg's
    Ogg demuxer gives the stream the last page's position as its duration:
    312 samples (6.5 ms) longer than the decoded audio with libopus. The
    packets' timestamps have it subtracted (the first packet starts at
    -pre-skip), and Matroska's and MP4's durations do not count it. The
    pre-skip is a field of the ``OpusHead`` packet FFmpeg keeps as the
    codec's extradata (bytes 10-11, little-endian, at 48 kHz, the rate
    every Opus stream is decoded at)."""
    cc = stream.codec_context
    head = bytes(cc.extradata or b'') if cc is not None else b''
    if not head.startswith(b'OpusHead') or len(head) < 12:
        return 0.0
    return int.from_bytes(head[10:12], 'little') / 48000.0


def probe_audio_duration(filename: str) -> float:
    """Duration (s) of the first audio stream of ``filename`` (a PCM WAV's
    from its header, without FFmpeg: :func:`open_pcm_wav`)."""
    return probe_audio_timing(filename)[0]


def probe_audio_timing(filename: str) -> Tuple[float, float]:
    """``(duration, start)`` (s) of the first audio stream of ``filename``:
    :func:`probe_audio_duration`, and the timestamp of its first sample in
    the file's clock (0 for a PCM WAV; an MP3 starts after its encoder
    delay, e.g. 0.069 s for LAME at 16 kHz; a cut stream may start at
    10 s). :func:`probe_audio_stream` without the rate."""
    return probe_audio_stream(filename)[:2]


def probe_audio_stream(filename: str) -> Tuple[float, float, int]:
    """``(duration, start, rate)`` of the first audio stream of
    ``filename``: seconds (:func:`probe_audio_timing`) and Hz.

    The duration is the header's (MP4, WAV, MP3 ...). Matroska and WebM
    store none per stream, and the file's (its longest stream's end) is not
    the audio's when the audio starts late or ends early: there it is the
    end of the last audio packet minus the start
    (:func:`audio_stream_timing`; demuxing without decoding took 2.2 ms
    for a 13 MB, 10 s file), which equals the decoded samples for FLAC,
    AAC and Opus (to the millisecond, Matroska's clock). An Ogg Opus
    stream's header duration counts the encoder's pre-skip, which the
    decoder drops: it is subtracted (:func:`_ogg_pre_skip`). Without
    timestamps the samples are decoded and counted.

    Raises:
        MissingAudioError: no audio stream.
        MediaDecodeError: the file cannot be opened or decoded (the
            reason as :func:`~mmavcl.datasets.media.reason.short_reason`
            words it).
    """
    reader = open_pcm_wav(filename)
    if reader is not None:
        with contextlib.closing(reader):
            return wav_duration(reader, filename), 0.0, \
                reader.getframerate()
    import av
    try:
        with open_audio_file(av, filename) as c:
            if not c.streams.audio:
                raise MissingAudioError(filename, 'no audio stream')
            stream = c.streams.audio[0]
            rate = int(stream.rate or 0)
            duration, start = audio_stream_timing(c, stream)
        if duration is None:  # no timestamps (raw streams): count samples
            # FFmpeg's FLAC demuxer opens random bytes as such a stream
            if not rate:
                raise MediaDecodeError(filename,
                                       'audio stream has no sample rate',
                                       'audio')
            with open_audio_file(av, filename) as c:
                duration = sum(f.samples for f in c.decode(audio=0)) / \
                    float(rate)
        return duration, start, rate
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, short_reason(err), 'audio') from err
