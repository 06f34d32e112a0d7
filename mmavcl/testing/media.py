"""Write real (encoded) test media with PyAV, and read back what they encode.

Tests across mmavcl build their inputs with these helpers instead of mocking
decoders. Everything is deterministic for a given ``seed``.

The ``'timestamp'`` pattern makes a video whose content encodes time:

* **video**: frame ``i`` shows ``TIMESTAMP_BITS`` vertical bands; band ``b`` is
  white when bit ``b`` of ``i`` is set, black otherwise (least significant bit
  on the left). :func:`decode_frame_index` reads the index back from a decoded
  frame, robust to H.264 compression and to resizing (not to crops/flips).
* **audio**: a linear chirp, instantaneous frequency
  ``f(t) = CHIRP_F0 + CHIRP_RATE * t`` (Hz, ``t`` in seconds of the source).
  :func:`decode_chirp_time` estimates the source time of the centre of a
  waveform window from its dominant frequency (about +-5 ms precision).

So a view whose first decoded frame reads ``k`` must start at ``k / fps``
seconds, and its audio window must estimate the same time: that is how the
alignment tests prove frames and audio agree.
"""
import json
import os
import os.path as osp
import struct
import subprocess
import sys
from fractions import Fraction
from typing import (BinaryIO, Callable, Dict, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from mmavcl.datasets.media import write_audio, write_video
from mmavcl.datasets.media.orientation import _boxes, _child

TIMESTAMP_BITS = 8
CHIRP_F0 = 300.0  # Hz at t = 0
CHIRP_RATE = 1000.0  # Hz per second

__all__ = [
    'TIMESTAMP_BITS', 'CHIRP_F0', 'CHIRP_RATE', 'write_video', 'write_audio',
    'make_av_video', 'make_av_videos', 'make_audio_file', 'write_vfr_video',
    'timestamp_frames', 'chirp', 'decode_frame_index', 'decode_chirp_time',
    'chirp_time_errors', 'decode_sequentially',
    'truncate_file', 'cut_mpegts', 'mpegts_packet_size', 'write_garbage',
    'replace_video_packet',
    'not_coded_vop', 'divx_packed_copy', 'faststart_copy', 'mp4_edit_list',
    'set_mp4_edit_list', 'decode_audio_views'
]


def timestamp_frames(num_frames: int,
                     size: Tuple[int, int] = (64, 64),
                     bits: int = TIMESTAMP_BITS) -> np.ndarray:
    """uint8 ``(T, H, W, 3)`` frames whose vertical bands spell the index.

    Indices wrap modulo ``2 ** bits``.
    """
    h, w = size
    idx = np.arange(num_frames) % (2**bits)
    band = np.minimum(np.arange(w) * bits // w, bits - 1)  # (W,)
    on = (idx[:, None] >> band[None, :]) & 1  # (T, W)
    img = (on * 255).astype(np.uint8)[:, None, :, None]
    return np.ascontiguousarray(np.broadcast_to(img, (num_frames, h, w, 3)))


def decode_frame_index(frames: np.ndarray,
                       bits: int = TIMESTAMP_BITS,
                       channel_last: bool = True) -> np.ndarray:
    """Read the frame indices spelled by :func:`timestamp_frames`.

    Args:
        frames: ``(H, W, C)`` or ``(T, H, W, C)`` (``channel_last``), or
            ``(C, T, H, W)`` / ``(C, H, W)`` when ``channel_last=False``; any
            numeric dtype in [0, 255].
        bits: Number of bands used when writing.

    Returns:
        int64 array ``(T,)`` (or a 0-d array for one frame).
    """
    x = np.asarray(frames, dtype=np.float32)
    if not channel_last:
        x = np.moveaxis(x, 0, -1)  # (..., H, W, C)
    single = x.ndim == 3
    if single:
        x = x[None]
    w = x.shape[2]
    cols = x.mean(axis=(1, 3))  # (T, W)
    out = np.zeros(len(x), dtype=np.int64)
    for b in range(bits):
        lo, hi = b * w / bits, (b + 1) * w / bits
        # the centre half of each band: edges are blurred by the codec
        a, z = int(lo + (hi - lo) / 4), int(np.ceil(hi - (hi - lo) / 4))
        val = cols[:, a:max(z, a + 1)].mean(axis=1)
        out |= (val > 127.5).astype(np.int64) << b
    return out[0] if single else out


def decode_sequentially(path: str) -> Tuple[np.ndarray, Optional[float]]:
    """The reference the readers are checked against: every picture
    FFmpeg's decoder returns for the first video stream of ``path``, in
    order, from a plain ``av.open`` (no seek), and the first one's time.

    Returns:
        ``(frames, start)``: uint8 ``(T, H, W, 3)`` RGB, and the
        presentation time (s, the file's clock) of ``frames[0]`` (None
        without a timestamp: raw streams).
    """
    import av
    with av.open(path) as c:
        stream = c.streams.video[0]
        frames, start = [], None
        for f in c.decode(stream):
            if not frames and f.pts is not None:
                start = float(f.pts * stream.time_base)
            frames.append(f.to_ndarray(format='rgb24'))
    return np.stack(frames), start


def chirp(duration: float,
          sample_rate: int = 16000,
          f0: float = CHIRP_F0,
          rate: float = CHIRP_RATE,
          amplitude: float = 0.5) -> np.ndarray:
    """float32 ``(L,)`` linear chirp, ``f(t) = f0 + rate * t``."""
    t = np.arange(int(round(duration * sample_rate))) / sample_rate
    phase = 2 * np.pi * (f0 * t + 0.5 * rate * t * t)
    return (amplitude * np.sin(phase)).astype(np.float32)


def decode_chirp_time(wave: np.ndarray,
                      sample_rate: int = 16000,
                      f0: float = CHIRP_F0,
                      rate: float = CHIRP_RATE) -> float:
    """Source time (s) of the centre of ``wave``, a window of :func:`chirp`.

    The dominant frequency (Hann window, 8x zero-padded FFT, parabolic peak
    interpolation) is mapped back through ``t = (f - f0) / rate``. Use windows
    of 256-2048 samples; for a reversed window the estimate is unchanged.
    """
    x = np.asarray(wave, dtype=np.float64).reshape(-1)
    n = len(x)
    nfft = 8 * int(2**np.ceil(np.log2(max(n, 2))))
    spec = np.abs(np.fft.rfft(x * np.hanning(n), nfft))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1:k + 2] + 1e-12)
    shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    freq = (k + shift) * sample_rate / nfft
    return float((freq - f0) / rate)


def chirp_time_errors(wave: np.ndarray,
                      sample_rate: int,
                      view_start: float,
                      chirp_start: float = 0.0,
                      chirp_duration: Optional[float] = None,
                      window: float = 0.064,
                      margin: float = 0.05,
                      rate: float = CHIRP_RATE) -> np.ndarray:
    """How far off its time a view of a :func:`chirp` plays.

    ``wave`` is audio from ``view_start`` s on (a view's, on its video's
    clock) where the chirp's time 0 should play at ``chirp_start`` s. In
    each ``window`` s of it over the chirp (``margin`` s in from its ends;
    its end is unknown without ``chirp_duration``) the chirp's time is
    read (:func:`decode_chirp_time`; ``rate``: the chirp's, Hz per s).

    Returns:
        float64 ``(K,)``: the time read minus the time due (s) per window:
        negative where the audio plays late.
    """
    n = int(round(window * sample_rate))
    end = np.inf if chirp_duration is None else chirp_duration - margin
    out = []
    for i in range(0, len(wave) - n + 1, n):
        due = view_start + (i + n / 2) / sample_rate - chirp_start
        if margin < due < end:
            out.append(
                decode_chirp_time(wave[i:i + n], sample_rate, rate=rate) -
                due)
    return np.asarray(out, dtype=np.float64)


def make_av_video(path: str,
                  num_frames: int = 50,
                  fps: float = 25.0,
                  size: Tuple[int, int] = (64, 64),
                  audio: bool = True,
                  sample_rate: int = 16000,
                  keyint: Optional[int] = None,
                  pattern: str = 'timestamp',
                  audio_duration: Optional[float] = None,
                  audio_channels: int = 1,
                  seed: int = 0,
                  video_codec: str = 'libx264',
                  audio_codec: str = 'aac',
                  **writer_kwargs) -> Dict[str, Union[str, float, int]]:
    """Write a small H.264 (+ AAC) test video with known content.

    Args:
        path: Output path (``.mp4``, ``.mkv`` ...).
        num_frames: Number of video frames T.
        fps: Frame rate.
        size: ``(H, W)``, both even.
        audio: Add an audio stream.
        sample_rate: Audio rate in Hz.
        keyint: Keyframe interval in frames (``None`` = encoder default).
        pattern: Frame content:

            * ``'timestamp'``: bands spelling the frame index (see module
              doc); audio = chirp encoding time.
            * ``'coords'``: R = 255 * x / (W - 1), G = 255 * y / (H - 1),
              B = 4 * index % 256: pixel values locate crops/flips.
              Audio = chirp.
            * ``'noise'``: seeded uniform noise frames; audio = seeded noise
              at 0.3 amplitude.
        audio_duration: Seconds of audio (default: ``num_frames / fps``).
            Shorter than the video gives audio-shorter-than-video files.
        audio_channels: 1 (mono) or 2 (stereo: the same signal on both).
        seed: Random seed of the ``'noise'`` pattern.
        video_codec: Video encoder name.
        audio_codec: Audio encoder name.
        **writer_kwargs: Passed to :func:`write_video`: ``start_time``,
            ``audio_delay`` (late audio), ``video_options``, ``pix_fmt``,
            ``rotation``, ``hflip``, ``vflip``.

    Returns:
        dict with ``path``, ``num_frames``, ``fps``, ``height``, ``width``,
        ``duration`` (video seconds), ``sample_rate`` and
        ``audio_duration`` (0.0 when ``audio=False``).
    """
    h, w = size
    if pattern == 'timestamp':
        frames = timestamp_frames(num_frames, size)
    elif pattern == 'coords':
        xs = np.round(255 * np.arange(w) / max(w - 1, 1)).astype(np.uint8)
        ys = np.round(255 * np.arange(h) / max(h - 1, 1)).astype(np.uint8)
        frames = np.empty((num_frames, h, w, 3), np.uint8)
        frames[..., 0] = xs[None, None, :]
        frames[..., 1] = ys[None, :, None]
        frames[..., 2] = ((4 * np.arange(num_frames)) % 256)[:, None, None]
    elif pattern == 'noise':
        rng = np.random.default_rng(seed)
        frames = rng.integers(0, 256, (num_frames, h, w, 3), dtype=np.uint8)
    else:
        raise ValueError(f'unknown pattern {pattern!r}')
    duration = num_frames / fps
    wave = None
    adur = 0.0
    if audio:
        adur = duration if audio_duration is None else audio_duration
        if pattern == 'noise':
            rng = np.random.default_rng(seed + 1)
            wave = (0.3 * rng.uniform(-1, 1, int(round(adur * sample_rate)))
                    ).astype(np.float32)
        else:
            wave = chirp(adur, sample_rate)
        if audio_channels == 2:
            wave = np.stack([wave, wave])
    write_video(
        path,
        frames,
        fps=fps,
        audio=wave,
        sample_rate=sample_rate,
        keyint=keyint,
        video_codec=video_codec,
        audio_codec=audio_codec,
        **writer_kwargs)
    return dict(
        path=path,
        num_frames=num_frames,
        fps=fps,
        height=h,
        width=w,
        duration=duration,
        sample_rate=sample_rate,
        audio_duration=adur)


def write_vfr_video(path: str,
                    num_frames: int,
                    size: Tuple[int, int] = (64, 64),
                    bits: int = TIMESTAMP_BITS,
                    audio: Optional[Callable[[float], np.ndarray]] = None,
                    sample_rate: int = 16000,
                    seed: int = 0,
                    audio_codec: str = 'aac',
                    start: float = 0.0) -> np.ndarray:
    """Write a variable-frame-rate H.264 file of :func:`timestamp_frames`.

    Each frame lasts 20, 33 or 50 ms at random (seeded), on a 1 ms clock;
    the stream's nominal rate is 30 fps, its mean about 29.5.

    Args:
        path: Output path (``.mp4``).
        num_frames: Number of frames.
        size: ``(H, W)``, both even.
        bits: Bands of the frame code (indices wrap at ``2 ** bits``).
        audio: ``duration (s) -> float32 (L,)`` mono samples at
            ``sample_rate`` for the whole video, or ``None``.
        sample_rate: Audio rate in Hz.
        seed: Seed of the frame durations.
        audio_codec: ``'aac'``, or ``'pcm_s16le'`` (in ``.mkv``: AAC
            smears sound changes over a few ms, more than a 20 ms frame
            allows when each frame's audio is told apart).
        start: Time (s, on the 1 ms clock) of the first frame; the audio
            still starts at 0, so a positive one makes a file whose video
            starts after its start (MP4: an empty edit).

    Returns:
        float64 ``(num_frames,)`` presentation times (s) written, from the
        first frame's.
    """
    import av
    from mmavcl.datasets.media.writer import _encode_audio
    rng = np.random.default_rng(seed)
    gaps = rng.choice([20, 33, 50], num_frames)
    pts = np.concatenate([[0], np.cumsum(gaps)[:-1]])
    first = int(round(start * 1000))
    frames = timestamp_frames(num_frames, size, bits)
    with av.open(path, 'w') as c:
        vs = c.add_stream('libx264', rate=30)
        vs.width, vs.height, vs.pix_fmt = size[1], size[0], 'yuv420p'
        vs.options = {'preset': 'veryfast', 'crf': '18'}
        vs.codec_context.time_base = Fraction(1, 1000)
        astream = None
        if audio is not None:
            astream = c.add_stream(audio_codec, rate=sample_rate)
            astream.layout = 'mono'
        for img, p in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(img, format='rgb24')
            frame.pts, frame.time_base = first + int(p), Fraction(1, 1000)
            for packet in vs.encode(frame):
                c.mux(packet)
        for packet in vs.encode():
            c.mux(packet)
        if astream is not None:
            wave = audio((first + pts[-1] + gaps[-1]) / 1000)
            _encode_audio(av, c, astream, wave[None], sample_rate)
    return pts / 1000.0


def make_av_videos(specs: List[dict]) -> List[dict]:
    """:func:`make_av_video` for each dict of keyword arguments in
    ``specs``, in a fresh Python process.

    Once decord is imported, PyAV's libvpx-vp9 encoder fails to open in the
    same process (``avcodec_open2`` returns EINVAL; decoding is
    unaffected), and a test session imports decord early. The specs travel
    as JSON, so their values must be JSON types (``video_options`` a dict
    of strings).

    Returns:
        :func:`make_av_video`'s dicts, in order.
    """
    code = ('import json, sys\n'
            'from mmavcl.testing.media import make_av_video\n'
            'out = [make_av_video(**s) for s in json.load(sys.stdin)]\n'
            'sys.stdout.write(json.dumps(out))\n')
    proc = subprocess.run([sys.executable, '-c', code],
                          input=json.dumps(specs),
                          capture_output=True,
                          text=True)
    if proc.returncode:
        raise RuntimeError('writing test videos failed:\n' +
                           proc.stderr[-3000:])
    return json.loads(proc.stdout)


def make_audio_file(path: str,
                    duration: float = 2.0,
                    sample_rate: int = 16000,
                    pattern: str = 'chirp',
                    seed: int = 0) -> Dict[str, Union[str, float, int]]:
    """Write an audio-only file (``.wav``/``.flac``/``.m4a`` ...).

    ``pattern``: ``'chirp'`` (see :func:`chirp`) or ``'noise'``.
    Returns a dict with ``path``, ``duration``, ``sample_rate``.
    """
    if pattern == 'chirp':
        wave = chirp(duration, sample_rate)
    elif pattern == 'noise':
        rng = np.random.default_rng(seed)
        wave = (0.3 * rng.uniform(-1, 1, int(round(duration * sample_rate)))
                ).astype(np.float32)
    else:
        raise ValueError(f'unknown pattern {pattern!r}')
    write_audio(path, wave, sample_rate)
    return dict(path=path, duration=duration, sample_rate=sample_rate)


def decode_audio_views(video: str,
                       spans: Sequence[Tuple[float, float]],
                       audio: Optional[str] = None, **kwargs) -> dict:
    """The results of the real pipeline's ``VideoInit(backend='pyav')``
    then ``DecodeAudioViews(**kwargs)`` on ``video``, one audio view per
    ``(t0, t1)`` of ``spans`` (s from the first displayed frame): its own
    audio, or its sidecar ``audio``. ``audio_views`` (with ``padded``)
    and ``audio_wavs`` (float32 ``(L,)``) hold them; the video reader is
    closed."""
    from mmavcl.datasets.transforms import DecodeAudioViews, VideoInit
    results = dict(filename=video, modality='video')
    if audio is not None:
        results['audio_filename'] = audio
    results = VideoInit(backend='pyav')(results)
    results['audio_views'] = [dict(time_span=s) for s in spans]
    try:
        return DecodeAudioViews(**kwargs)(results)
    finally:  # it takes back the container it lent the audio
        results['video_reader'].close()


def truncate_file(path: str, keep: float = 0.5,
                  dst: Optional[str] = None) -> str:
    """Copy the first ``keep`` fraction of the bytes of ``path`` (to ``dst``,
    default: in place) to make a truncated media file."""
    with open(path, 'rb') as f:
        data = f.read()
    dst = dst or path
    with open(dst, 'wb') as f:
        f.write(data[:max(1, int(len(data) * keep))])
    return dst


def mpegts_packet_size(path: str) -> int:
    """188 for an MPEG-TS of plain transport packets, 192 for one whose
    packets carry a 4-byte arrival time stamp first (Blu-ray ``.m2ts``,
    AVCHD ``.mts``): the size at which the sync byte 0x47 starts every
    packet of the file's first 2 KiB. Raises ``ValueError`` for neither."""
    with open(path, 'rb') as f:
        head = f.read(2048)
    for size, sync in ((188, 0), (192, 4)):
        if all(head[k] == 0x47 for k in range(sync, len(head), size)):
            return size
    raise ValueError(f'{path}: no MPEG-TS packets of 188 or 192 bytes')


def cut_mpegts(src: str, dst: str, keep: float = 2 / 3) -> str:
    """Copy the last ``keep`` fraction of the MPEG-TS ``src`` into ``dst``
    from a packet boundary on, as a recording started mid-broadcast or a
    segment cut at any packet: its first packets are the middle of a GOP
    (and of a PES packet), its clock starts late. Returns ``dst``."""
    size = mpegts_packet_size(src)
    with open(src, 'rb') as f:
        data = f.read()
    start = int(len(data) * (1 - keep)) // size * size
    with open(dst, 'wb') as f:
        f.write(data[start:])
    return dst


def write_garbage(path: str, num_bytes: int = 4096, seed: int = 0) -> str:
    """Write random bytes under a media-looking name (a corrupt file)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    rng = np.random.default_rng(seed)
    with open(path, 'wb') as f:
        f.write(rng.integers(0, 256, num_bytes, dtype=np.uint8).tobytes())
    return path



def replace_video_packet(src: str, dst: str, index: int,
                         payload: Callable[[bytes], bytes]) -> str:
    """Copy the video stream of ``src`` into ``dst`` (its container from
    the extension), the packet of frame ``index`` (by its timestamp at the
    stream's frame rate) replaced by ``payload(packet bytes)``: e.g.
    ``lambda b: b[:5]`` cuts an MPEG-4 Part 2 VOP before its
    ``vop_coded`` flag, a packet the decoder returns no picture for (a
    corrupt packet mid-file). Returns ``dst``."""
    import av
    with av.open(src) as inp, av.open(dst, 'w') as out:
        stream = inp.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate
        ostream = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if not packet.size:
                continue
            if round(packet.pts * stream.time_base * fps) == index:
                other = av.Packet(payload(bytes(packet)))
                other.pts, other.dts = packet.pts, packet.dts
                other.time_base = packet.time_base
                packet = other
            packet.stream = ostream
            out.mux(packet)
    return dst


_VOP_START = b'\x00\x00\x01\xb6'
_USER_DATA_START = b'\x00\x00\x01\xb2'


def not_coded_vop(vop: bytes, increment_bits: int) -> bytes:
    """A not-coded P-VOP (``vop_coded = 0``: what Xvid writes for a frame
    that repeats the last, and DivX for its packed-B-frame placeholder)
    with the time fields of the first VOP in ``vop``: its start code, its
    header up to that flag, then stuffing (ISO/IEC 14496-2, 6.2.5).
    ``increment_bits``: the width of ``vop_time_increment``
    (:func:`~mmavcl.datasets.media.mpeg4.vop_increment_bits`)."""
    k = vop.find(_VOP_START)
    bits = ''.join(f'{b:08b}' for b in vop[k + 4:k + 12])
    pos = 2  # vop_coding_type
    while bits[pos] == '1':  # modulo_time_base
        pos += 1
    pos += 3 + increment_bits  # its 0, marker, vop_time_increment, marker
    head = '01' + bits[2:pos] + '0'  # P, the time fields, vop_coded = 0
    head += '0' + '1' * (-(len(head) + 1) % 8)
    return _VOP_START + int(head, 2).to_bytes(len(head) // 8, 'big')


def divx_packed_copy(src: str, dst: str,
                     user_data: bytes = b'DivX503b1393p',
                     fourcc: str = 'DX50') -> str:
    """Copy the MPEG-4 Part 2 video of ``src`` (B-frames, at most one in a
    row, as ``bf=1`` encodes them) into the AVI ``dst`` the way DivX 5
    stores B-frames "packed": AVI has one chunk per displayed frame and no
    timestamps, and a Video for Windows decoder returns one picture per
    chunk, so each B-VOP goes into the chunk of the P- or I-VOP decoded
    before it (its backward reference), and the chunk after holds a
    not-coded VOP as a placeholder (the decoder returns the B-frame for
    it). ``user_data`` goes in a user-data header before the first VOP:
    a DivX version string ending in ``p`` tells decoders (FFmpeg's
    ``mpeg4`` decoder, its ``mpeg4_unpack_bframes`` filter) that B-frames
    are packed. The stream's header is copied (VOL in the extradata or the
    first chunk), its codec tag set to ``fourcc``. Returns ``dst``."""
    import av
    from mmavcl.datasets.media.mpeg4 import vop_increment_bits, vop_types
    with av.open(src) as inp:
        stream = inp.streams.video[0]
        packets = [(bytes(p), p.is_keyframe) for p in inp.demux(stream)
                   if p.size]
        bits = vop_increment_bits(stream.codec_context.extradata or b'') or \
            vop_increment_bits(packets[0][0])
        chunks: List[Tuple[bytes, bool]] = []
        #: whether the last chunk is a P- or I-VOP alone, which a B-VOP
        #: may join (not a packed pair, nor its placeholder)
        open_ref = False
        for data, key in packets:
            if vop_types(data) != 'B':
                chunks.append((data, key))
                open_ref = True
                continue
            if not open_ref:
                raise ValueError(f'{src}: a B-VOP follows no lone P- or '
                                 'I-VOP; DivX packs one B-frame in a row '
                                 '(encode with bf=1)')
            ref, ref_key = chunks[-1]
            chunks[-1] = (ref + data, ref_key)
            chunks.append((not_coded_vop(ref, bits), False))
            open_ref = False
        first, key = chunks[0]
        k = first.find(_VOP_START)
        # NUL-terminated, as DivX writes it (the filter looks for "p\0")
        chunks[0] = (first[:k] + _USER_DATA_START + user_data + b'\x00' +
                     first[k:], key)
        with av.open(dst, 'w', format='avi') as out:
            ostream = out.add_stream_from_template(stream)
            ostream.codec_tag = fourcc
            rate = stream.average_rate or stream.guessed_rate
            for i, (data, key) in enumerate(chunks):
                packet = av.Packet(data)
                # AVI numbers chunks by dts: one per displayed frame
                packet.pts = packet.dts = i
                packet.time_base = 1 / rate
                packet.is_keyframe = key
                packet.stream = ostream
                out.mux(packet)
    return dst


def faststart_copy(src: str, dst: str) -> str:
    """Remux every stream of the MP4 ``src`` into ``dst`` with its index
    (``moov``) before the media data, as streaming sites serve MP4s: cut
    short (:func:`truncate_file`), such a file still opens and its header
    promises every frame, where a cut file with the index at its end does
    not open at all. Returns ``dst``."""
    import av
    with av.open(src) as inp, av.open(
            dst, 'w', options={'movflags': 'faststart'}) as out:
        streams = {s.index: out.add_stream_from_template(s)
                   for s in inp.streams if s.type in ('video', 'audio')}
        for packet in inp.demux(*[inp.streams[i] for i in streams]):
            if not packet.size:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return dst


def _timescale(f: BinaryIO, start: int) -> int:
    """The timescale of the ``mvhd`` box whose payload starts at ``start``
    (after version, flags and two 32- or 64-bit times)."""
    f.seek(start)
    version = f.read(1)[0]
    f.seek(start + (20 if version == 1 else 12))
    return struct.unpack('>I', f.read(4))[0]


def _mp4_elst(f: BinaryIO, handler: str) -> Tuple[int, int, int]:
    """``(movie timescale, elst version, offset of the entry count)`` of
    the edit list of the first ``handler`` (``'vide'``, ``'soun'``)
    track."""
    f.seek(0)
    moov = next((a, b) for k, a, b in _boxes(f, None) if k == b'moov')
    mvhd = _child(f, moov[0], moov[1], b'mvhd')
    f.seek(moov[0])
    traks = [(a, b) for k, a, b in _boxes(f, moov[1]) if k == b'trak']
    for trak in traks:
        mdia = _child(f, trak[0], trak[1], b'mdia')
        hdlr = _child(f, mdia[0], mdia[1], b'hdlr')
        f.seek(hdlr[0] + 8)  # version/flags, pre_defined
        if f.read(4) != handler.encode():
            continue
        edts = _child(f, trak[0], trak[1], b'edts')
        if edts is None:
            raise ValueError(f'the {handler} track has no edit list')
        elst = _child(f, edts[0], edts[1], b'elst')
        f.seek(elst[0])
        version = f.read(1)[0]
        return _timescale(f, mvhd[0]), version, elst[0] + 4
    raise ValueError(f'no {handler} track')


def mp4_edit_list(path: str, handler: str = 'soun'
                  ) -> List[Tuple[float, int]]:
    """The edit list of the first ``handler`` track (``'soun'``,
    ``'vide'``) of an MP4: ``[(duration s, media time)]``, the media time
    in the track's ticks (samples for audio), ``-1`` for an empty edit
    (the track starts that much later). FFmpeg's muxer writes
    ``[(d, 1024)]`` for AAC starting with the video (the 1024 priming
    samples skipped) and ``[(delay - 1024 / rate, -1), (d, 0)]`` for AAC
    starting ``delay`` s later (the priming frame presented, in the
    movie's 1 ms ticks)."""
    with open(path, 'rb') as f:
        movie, version, at = _mp4_elst(f, handler)
        f.seek(at)
        out = []
        for _ in range(struct.unpack('>I', f.read(4))[0]):
            fmt = '>Qqi' if version == 1 else '>Iii'
            dur, media, _ = struct.unpack(fmt, f.read(struct.calcsize(fmt)))
            out.append((dur / movie, media))
    return out


def set_mp4_edit_list(path: str, edits: Sequence[Tuple[float, int]],
                      handler: str = 'soun') -> str:
    """Rewrite in place the edit list of the first ``handler`` track of an
    MP4 to ``edits`` (as :func:`mp4_edit_list` reads them; as many entries
    as it has, so no box changes size): e.g. ``[(0.5, -1), (d, 1024)]``,
    the audio 0.5 s late with its priming skipped, which FFmpeg's muxer
    does not write but other muxers do. Returns ``path``."""
    with open(path, 'r+b') as f:
        movie, version, at = _mp4_elst(f, handler)
        f.seek(at)
        count = struct.unpack('>I', f.read(4))[0]
        if count != len(edits):
            raise ValueError(f'{path}: the {handler} edit list has {count} '
                             f'entries, not {len(edits)}')
        fmt = '>Qq' if version == 1 else '>Ii'
        for dur, media in edits:
            f.write(struct.pack(fmt, int(round(dur * movie)), media))
            f.seek(4, 1)  # media rate
    return path
