"""Audio decoding with PyAV: only the time spans the views need, mixed to
mono at the stream's own rate (PCM WAVs through :mod:`.wav` instead)."""
import contextlib
import math
import wave
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import MediaDecodeError, MissingAudioError
from .probe import open_audio_file, stated_audio_end
from .reason import short_reason
from .resampling import resample
from .wav import open_pcm_wav, read_wav_spans

__all__ = ['read_audio_span', 'read_audio_spans', 'decode_audio_spans']


def read_audio_span(filename: str,
                    t0: float,
                    t1: float,
                    sample_rate: int = 16000,
                    seek_margin: float = 0.2) -> Tuple[np.ndarray, float]:
    """Decode the audio of ``filename`` covering ``[t0, t1)`` seconds.

    The first audio stream is decoded, downmixed to mono (libswresample's
    mix) and resampled to ``sample_rate`` (:func:`~.resampling.resample`,
    libswresample's default filter). Decoding starts at a seek to
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
    ``sample_rate`` (:func:`~.resampling.resample`)."""
    return [(resample(wave, rate, sample_rate), start)
            for wave, start, rate in decode_audio_spans(
                filename, spans, seek_margin, container, sample_rate)]


def decode_audio_spans(filename: str,
                       spans: Sequence[Tuple[float, float]],
                       seek_margin: float = 0.2,
                       container=None,
                       fallback_rate: int = 16000,
                       from_first_sample: bool = False,
                       check_finite: bool = True
                       ) -> List[Tuple[np.ndarray, float, int]]:
    """Decode several ``[t0, t1)`` spans of the first audio stream to mono,
    at the stream's own rate, opening the file once.

    Each span is decoded after its own seek, so far-apart views do not
    decode the audio between them, and decodes as it would alone in a fresh
    open of the file: the spans go earliest first, and where a flush does
    not reset the decoder (AAC) each later span gets a new one
    (:func:`_span_decoder`). The span's frames are decoded to arrays
    and mixed to mono (:func:`_mono_source_rate`, libswresample's mix). The
    caller resamples only what it keeps (:func:`~.resampling.resample`; a
    sped-up view straight to its own rate). A span whose frames change
    format mid-way goes through libswresample frame by frame to
    ``fallback_rate``.

    PCM WAVs (sidecars from ``tools/data/extract_audio.py``, ESC-50) are
    read with the standard library instead (:func:`read_wav_spans`, the
    same samples without FFmpeg's probing open).

    The decoded audio ends where the container says the stream ends, when
    it says (:func:`~.probe.stated_audio_end`: an MP4's or M4A's edit
    list, without the padding of the encoder's last frame that FFmpeg
    decodes), so a view past the end is padded and flagged as in a WAV
    of the same samples.

    Args:
        container: An open PyAV container of ``filename`` to read from
            instead of opening the file (e.g. the one
            :class:`~mmavcl.datasets.transforms.VideoInit` probed); the
            caller keeps ownership and closes it.
        from_first_sample: Count ``spans`` and the returned starts from
            the stream's first sample (its ``start_time``, which the
            demuxer knows on opening) instead of the file's zero: how a
            video's sidecar is placed (its record is the video time of its
            first sample), also an MP3, whose first sample FFmpeg times
            after the encoder delay.

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
                    raise MediaDecodeError(filename, short_reason(err),
                                           'audio') from err
    import av
    own = container is None
    if own:
        try:
            container = open_audio_file(av, filename)
        except MediaDecodeError:  # not a regular file: says so itself
            raise
        except Exception as err:
            raise MediaDecodeError(filename, short_reason(err),
                                   'audio') from err
    try:
        if not container.streams.audio:
            raise MissingAudioError(filename, 'no audio stream')
        stream = container.streams.audio[0]
        origin = float(stream.start_time * stream.time_base) if (
            from_first_sample and stream.start_time is not None) else 0.0
        end = stated_audio_end(container, stream)
        # earliest first: the stream's own decoder, fresh, takes the span
        # that may start at the file's top (see _span_decoder)
        decoded = [None] * len(spans)
        for i in sorted(range(len(spans)), key=lambda i: spans[i][0]):
            t0, t1 = spans[i]
            samples, start, rate = _decode_span(av, container, stream,
                                                t0 + origin, t1 + origin,
                                                seek_margin, fallback_rate)
            if end is not None:  # the last frame's padding
                samples = samples[:max(int(round((end - start) * rate)), 0)]
            decoded[i] = (samples, start - origin, rate)
        # float samples (pcm_f32le WAVs, flt/fltp streams) may hold NaN or
        # Inf, which resampling spreads over the view and training over
        # every weight; the WAV path above reads 16-bit integers only
        for (t0, t1), (wave_, _, _) in zip(spans, decoded):
            if check_finite:
                _check_finite(filename, wave_, t0, t1)
        return decoded
    except MediaDecodeError:
        raise
    except Exception as err:
        raise MediaDecodeError(filename, short_reason(err), 'audio') from err
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


#: decoders a flush does not reset: FFmpeg's AAC decoder keeps running the
#: noise generator of perceptual noise substitution (the bands an encoder
#: sends as "noise of this energy") across ``avcodec_flush_buffers``, so a
#: span decoded after another one in the same container got other noise:
#: up to 0.55 apart from a decode in a fresh open on 48 kHz noise (8.3e-4
#: on a chirp, which has few such bands). MP3, Opus, AC-3, E-AC-3, MP2,
#: FLAC, ALAC and IMA ADPCM decoded the same after a flush, bit for bit
_UNFLUSHABLE_DECODERS = frozenset({'aac'})


def _span_decoder(stream):
    """The codec context one span of ``stream`` is decoded with: the
    stream's own until it has decoded (it is the only one that knows the
    stream's priming and timestamp base, which the span at the file's top
    needs), then for :data:`_UNFLUSHABLE_DECODERS` a new one per span
    (0.2 ms to open for AAC, where a 1 s span of 48 kHz stereo decodes in
    1.2 ms) set up from the stream's extradata, rate and layout. Past the
    first frame after a seek, which lies in the span's margin, both decode
    the same (in MP4, MKV and ADTS)."""
    ctx = stream.codec_context
    if not ctx.is_open or ctx.name not in _UNFLUSHABLE_DECODERS:
        return ctx
    import av
    fresh = av.CodecContext.create(ctx.codec)
    if ctx.extradata:
        fresh.extradata = ctx.extradata
    fresh.sample_rate, fresh.layout = ctx.sample_rate, ctx.layout
    return fresh


def _decoded(container, stream):
    """The frames of ``stream`` from the container's position, decoded by
    :func:`_span_decoder`'s context."""
    decoder = _span_decoder(stream)
    for packet in container.demux(stream):
        yield from decoder.decode(packet)


def _span_frames(container, stream, t0: float, t1: float,
                 seek_margin: float):
    """Yield the decoded frames of ``stream`` that overlap ``[t0, t1)``
    (with 50 ms to spare), after a seek to ``t0 - seek_margin``."""
    tb = float(stream.time_base)
    # always seek: a previous span may have left the demuxer past t0.
    # Not clamped at 0: an MP4's AAC priming packet sits before 0 (pts
    # -1024, dropped by the edit list) and a seek to exactly 0 lands after
    # it, so the first frame decoded without its overlap (448 zero samples,
    # then off by up to 0.5); a negative target lands on the priming packet
    target = int(math.floor((t0 - seek_margin) / tb))
    try:
        container.seek(target, stream=stream, backward=True)
    except Exception:
        if target >= 0:
            raise
        # the MP3 and AVI demuxers refuse negative targets (EPERM); they
        # hold nothing before 0
        container.seek(0, stream=stream, backward=True)
    for frame in _decoded(container, stream):
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
