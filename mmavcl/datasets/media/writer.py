"""Encode frames and waveforms into media files with PyAV.

Used by the data tools (toy dataset, audio extraction) and by
:mod:`mmavcl.testing`.
"""
import os
import os.path as osp
from fractions import Fraction
from typing import Dict, Optional

import numpy as np

__all__ = ['write_video', 'write_audio']


def _require_av():
    try:
        import av
    except ImportError as err:  # pragma: no cover - av is a runtime dep
        raise ImportError('mmavcl.testing needs PyAV: pip install av') from err
    return av


def write_video(path: str,
                frames: np.ndarray,
                fps: float = 25.0,
                audio: Optional[np.ndarray] = None,
                sample_rate: int = 16000,
                keyint: Optional[int] = None,
                crf: int = 18,
                video_codec: str = 'libx264',
                audio_codec: str = 'aac',
                start_time: float = 0.0,
                audio_delay: float = 0.0,
                video_options: Optional[Dict[str, str]] = None,
                pix_fmt: Optional[str] = None,
                rotation: int = 0,
                hflip: bool = False,
                vflip: bool = False,
                bit_rate: Optional[int] = None,
                container_options: Optional[Dict[str, str]] = None,
                container_format: Optional[str] = None) -> str:
    """Encode ``frames`` (and optionally ``audio``) into one container.

    Args:
        path: Output file; the container follows the extension (``.mp4``,
            ``.mkv``, ``.avi`` ...). Parent folders are created.
        frames: uint8 ``(T, H, W, 3)`` RGB frames. H and W must be even
            (yuv420p).
        fps: Frame rate (a ``Fraction`` is used internally, so 29.97 works).
        audio: float32 waveform ``(L,)`` (mono) or ``(C, L)`` in [-1, 1], or
            ``None`` for a video-only file.
        sample_rate: Audio sample rate in Hz.
        keyint: GOP size (keyframe interval, frames). ``None``: the encoder
            default (250 for x264).
        crf: x264 quality (lower = closer to the input).
        video_codec: Encoder name, e.g. ``'libx264'`` or ``'mpeg4'``.
        audio_codec: Encoder name, e.g. ``'aac'``, ``'libopus'``.
        start_time: Presentation time (s) of the first video frame; files
            cut from broadcasts or longer recordings start late (the
            container keeps it: MP4 as an edit list).
        audio_delay: The audio starts this many seconds after the video
            (a multiple of ``1 / sample_rate``; negative: earlier). An
            encoder's priming (AAC: 1024 samples) precedes it: an MP4 with
            late AAC presents the priming frame (near-silence) before the
            signal, as FFmpeg's muxer writes late audio (an empty edit of
            ``audio_delay - 1024 / sample_rate`` s, in 1 ms ticks; see
            :func:`mmavcl.testing.mp4_edit_list`); MKV and on-time MP4
            skip it.
        video_options: Extra encoder options (e.g. ``{'bf': '0'}`` for no
            B-frames), over the defaults chosen per encoder to keep small
            test files fast to write.
        pix_fmt: Pixel format (default ``'yuvj420p'`` for MJPEG, else
            ``'yuv420p'``).
        rotation: Display matrix to store, in degrees counter-clockwise
            (what ``VideoFrame.rotation`` reads back): a phone held upright
            stores landscape frames and ``90`` or ``-90``.
        hflip, vflip: Mirror the displayed picture left-right / upside
            down after that rotation (a front camera's mirrored video): the
            display matrix is FFmpeg's (MP4 ``tkhd``; Matroska stores a
            left-right mirror as ``ProjectionPoseYaw`` 180).
        bit_rate: Target video bit rate (bit/s): the encoder's average
            bit rate mode instead of x264's constant quality (``crf`` is then
            not used).
        container_options: Muxer options, e.g. ``{'mpegts_m2ts_mode':
            '1'}`` for an MPEG-TS of 192-byte packets (Blu-ray, AVCHD
            ``.mts``; FFmpeg writes those for a ``.m2ts`` name only).
        container_format: A muxer instead of the extension's, e.g.
            ``'h264'`` for a raw Annex-B stream under a ``.m4v`` name.

    Returns:
        ``path``.
    """
    av = _require_av()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError('frames must be uint8 (T, H, W, 3), got '
                         f'{frames.dtype} {frames.shape}')
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f'frame size must be even for yuv420p, got {h}x{w}')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(path, 'w', format=container_format,
                 options=container_options) as container:
        vs = container.add_stream(video_codec, rate=rate)
        vs.width, vs.height = w, h
        vs.pix_fmt = pix_fmt or ('yuvj420p' if video_codec == 'mjpeg'
                                 else 'yuv420p')
        options = dict(_ENCODER_DEFAULTS.get(video_codec, {}))
        if bit_rate is not None:
            vs.bit_rate = int(bit_rate)
        elif video_codec in ('libx264', 'h264'):
            options['crf'] = str(crf)
        if keyint is not None:
            options['g'] = str(keyint)
        options.update(video_options or {})
        vs.options = options
        if rotation or hflip or vflip:
            vs.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
        astream = None
        if audio is not None:
            wave = np.asarray(audio, dtype=np.float32)
            if wave.ndim == 1:
                wave = wave[None]
            layout = {1: 'mono', 2: 'stereo'}[wave.shape[0]]
            astream = container.add_stream(
                audio_codec, rate=sample_rate,
                options={'strict': 'experimental'}
                if audio_codec == 'vorbis' else None)
            astream.layout = layout
        # frame i at start_time + i / fps, in the encoder's time base 1/rate
        tb = Fraction(1) / rate
        first = int(round(Fraction(start_time) / tb))
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            if first:
                frame.pts, frame.time_base = first + i, tb
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if astream is not None:
            offset = int(round((start_time + audio_delay) * sample_rate))
            _encode_audio(av, container, astream, wave, sample_rate, offset)
    return path


#: encoder options that keep test-sized files quick to write (and quiet)
_ENCODER_DEFAULTS = {
    'libx264': {'preset': 'veryfast'},
    'h264': {'preset': 'veryfast'},
    'libx265': {'preset': 'ultrafast', 'x265-params': 'log-level=error'},
    'libvpx-vp9': {'deadline': 'realtime', 'cpu-used': '8'},
    'libsvtav1': {'preset': '10'},
}


def _encode_audio(av, container, stream, wave: np.ndarray,
                  sample_rate: int, offset: int = 0) -> None:
    """Encode float ``(C, L)`` samples in 1024-sample frames, the first
    at ``offset`` samples."""
    block = 1024
    layout = {1: 'mono', 2: 'stereo'}[wave.shape[0]]
    packed_s16 = stream.codec_context.name in ('pcm_s16le', 'flac')
    if packed_s16:  # these encoders take interleaved int16
        wave = (np.clip(wave, -1, 1) * 32767).astype(np.int16)
    for start in range(0, wave.shape[1], block):
        blk = wave[:, start:start + block]
        if packed_s16:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(blk.T).reshape(1, -1), format='s16',
                layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(blk), format='fltp', layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = offset + start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_audio(path: str, wave: np.ndarray, sample_rate: int = 16000,
                metadata: Optional[Dict[str, str]] = None,
                codec: Optional[str] = None) -> str:
    """Write an audio-only file; codec from the extension.

    ``.wav`` → PCM s16le, ``.flac`` → FLAC, ``.m4a``/``.aac`` → AAC,
    ``.mp3`` → MP3, ``.ogg``/``.opus`` → Opus.

    Args:
        path: Output file.
        wave: float32 ``(L,)`` or ``(C, L)`` in [-1, 1].
        sample_rate: Hz.
        metadata: Container tags FFmpeg writes (WAV: the ``LIST``/``INFO``
            tags it knows, e.g. ``comment``; M4A: the iTunes ones, e.g.
            ``comment``; FLAC, Ogg: any Vorbis comment; MP3: any, as ID3v2
            ``TXXX``), e.g. :func:`~.sidecar.audio_start_metadata`.
        codec: An encoder instead of the extension's, e.g. ``'vorbis'``
            (FFmpeg's own, experimental: stereo only) for an ``.ogg``.
    """
    av = _require_av()
    ext = osp.splitext(path)[1].lower()
    codec = codec or {
        '.wav': 'pcm_s16le',
        '.flac': 'flac',
        '.m4a': 'aac',
        '.aac': 'aac',
        '.mp3': 'libmp3lame',
        '.ogg': 'libopus',
        '.opus': 'libopus'
    }.get(ext)
    if codec is None:
        raise ValueError(f'unknown audio extension {ext!r} for {path}')
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 1:
        wave = wave[None]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    # an M4A's edit list ends at its last real sample, not at the padded
    # end of the last AAC frame, in the movie's ticks: FFmpeg's are 1 ms,
    # which would keep up to 1 ms of padding (16 samples at 16 kHz)
    options = {'movie_timescale': str(sample_rate)} if ext == '.m4a' \
        else None
    with av.open(path, 'w', options=options) as container:
        container.metadata.update(metadata or {})
        stream = container.add_stream(
            codec, rate=sample_rate,
            options={'strict': 'experimental'} if codec == 'vorbis' else None)
        stream.layout = {1: 'mono', 2: 'stereo'}[wave.shape[0]]
        if codec == 'libmp3lame':
            # every frame decodable alone: with LAME's bit reservoir a frame
            # reads up to 511 bytes of earlier ones (0.17 s at 24 kbit/s),
            # so after a seek its samples can be wrong past the 0.2 s that
            # decode_audio_spans seeks ahead
            stream.options = {'reservoir': '0'}
        _encode_audio(av, container, stream, wave, sample_rate)
    return path
