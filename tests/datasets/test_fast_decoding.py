"""The fast paths of the audio/video decoding (issue 8) against slow,
independent references, on real files written with PyAV.

* audio: one mix + one resample per span vs the whole track decoded frame by
  frame, mixed in numpy and resampled by torchaudio, then sliced;
* ``resample`` vs ``torchaudio.functional.resample`` with the same filter,
  and its windows vs slices of the whole output;
* sped-up views (resampled straight from the source) vs the whole track
  resampled by torchaudio, and vs an analytic tone;
* ``time_compress``'s strided low-pass vs filtering everything and picking;
* the cheap PyAV probe vs the full one (frame size), and its container
  reused for the audio (one PyAV open per sample);
* lazily flipped views and sliced views vs copies.
"""
import math

import av
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

import mmavcl.datasets  # noqa: F401  (registers the transforms)
from mmavcl.datasets.media import (open_media, play_at_speed,
                                   probe_frame_size, probe_media, resample,
                                   time_compress)
from mmavcl.datasets.media.resampling import _lowpass
from mmavcl.datasets.transforms import (DecodeAudioViews, DecodeVideoViews,
                                        FlipViews, PackAVInputs, VideoInit)
from mmavcl.registry import TRANSFORMS
from mmavcl.testing import (chirp, decode_frame_index, make_av_video,
                            timestamp_frames, write_video)

torchaudio = pytest.importorskip('torchaudio')

#: the filter mmavcl documents for its resampler (libswresample's defaults)
FILTER = dict(lowpass_filter_width=16, rolloff=0.97,
              resampling_method='sinc_interp_kaiser', beta=9.0)


@pytest.fixture(scope='module')
def tone_video(tmp_path_factory):
    """3 s, 32 kHz stereo AAC, L != R: tones across the band (up to 7.6 kHz,
    near the 8 kHz output Nyquist where resampling filters differ most) on
    the left, a chirp on the right. Tonal on purpose: AAC codes noise-like
    bands by perceptual noise substitution, whose decoder-side random noise
    depends on where decoding started. At 32 kHz every 1024-sample AAC frame
    is exactly 512 samples at 16 kHz, so a span decoded after a seek lies
    on the whole track's output grid: they compare sample by sample."""
    path = str(tmp_path_factory.mktemp('fast') / 'tones32k.mp4')
    t = np.arange(3 * 32000) / 32000
    left = sum(a * np.sin(2 * np.pi * f * t) for a, f in (
        (0.2, 440.0), (0.15, 2500.0), (0.1, 6000.0), (0.1, 7600.0)))
    right = 0.5 * chirp(3.0, 32000)
    write_video(path, timestamp_frames(75, (128, 192)), fps=25.0,
                audio=np.stack([left, right]).astype(np.float32),
                sample_rate=32000)
    return path


def _whole_track_reference(path: str, sr: int = 16000, speed: int = 1):
    """Slow reference: every frame of the track to arrays (no resampler),
    mono as libswresample mixes it ((L + R) / sqrt(2)), the whole track
    resampled at once by torchaudio (as if recorded at ``speed * rate``: the
    track played ``speed`` times faster). Returns (wave, time of wave[0]).
    """
    with av.open(path) as c:
        frames = list(c.decode(audio=0))
        rate = frames[0].sample_rate
        t0 = frames[0].time
        data = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    data = data.astype(np.float64)
    mono = data[0] if len(data) == 1 else (data[0] + data[1]) / np.sqrt(2)
    wave = torchaudio.functional.resample(
        torch.from_numpy(mono.astype(np.float32)), rate * speed, sr,
        **FILTER)
    return wave.numpy(), t0


def test_audio_views_equal_whole_track_reference(tone_video):
    """Each view equals the same span cut from the whole-track reference.

    Tolerance 2e-5 (signal peak ~0.6): the spans are decoded after their
    own seek, but the decoder is primed by the margin frames and the
    resampler's edge (16 zero crossings, ~1 ms) lies in the 50 ms pre-roll,
    so only float32 summation order differs.
    """
    ref, ref_t0 = _whole_track_reference(tone_video)
    spans = [(0.3, 0.94), (1.5, 2.14), (0.5, 1.14), (2.2, 2.84)]
    for gap in (0.0, 10.0):  # a seek per view / one merged pass
        views = [dict(time_span=s) for s in spans]
        out = DecodeAudioViews(merge_gap=gap)(
            dict(filename=tone_video, audio_views=views))
        for (t0, t1), wav in zip(spans, out['audio_wavs']):
            i0 = int(round((t0 - ref_t0) * 16000))
            want = ref[i0:i0 + len(wav)]
            assert len(wav) == int(round((t1 - t0) * 16000)) == len(want)
            np.testing.assert_allclose(wav, want, rtol=0, atol=2e-5)
            assert np.abs(wav).max() > 0.3


def test_audio_close_to_libswresample_per_frame(tone_video):
    """Against what the pipeline did before (libswresample fed frame by
    frame, whole track): the same Kaiser filter design, so within 2e-3
    (measured ~2e-4, -74 dB, on broadband audio)."""
    with av.open(tone_video) as c:
        rs = av.AudioResampler(format='fltp', layout='mono', rate=16000)
        t_first = None
        chunks = []
        for f in c.decode(audio=0):
            t_first = f.time if t_first is None else t_first
            f.pts = None
            chunks += [o.to_ndarray()[0] for o in rs.resample(f)]
        chunks += [o.to_ndarray()[0] for o in rs.resample(None)]
    old = np.concatenate(chunks)
    out = DecodeAudioViews()(
        dict(filename=tone_video, audio_views=[dict(time_span=(1.0, 2.0))]))
    wav = out['audio_wavs'][0]
    i0 = int(round((1.0 - t_first) * 16000))
    diff = wav - old[i0:i0 + len(wav)]
    assert np.abs(diff).max() < 2e-3
    assert np.sqrt((diff**2).mean() / (wav**2).mean()) < 2e-3


@pytest.mark.parametrize('orig,new,n', [(44100, 16000, 30000),
                                        (22050, 16000, 7001),
                                        (48000, 16000, 4800),
                                        (8000, 16000, 999),
                                        (44100, 8000, 5),
                                        (16000, 16000, 100)])
@pytest.mark.parametrize('threads', [1, 2])  # conv1d path / einsum path
def test_resample_matches_torchaudio(orig, new, n, threads):
    rng = np.random.default_rng(n)
    x = rng.uniform(-0.5, 0.5, n).astype(np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = resample(x, orig, new)
    finally:
        torch.set_num_threads(before)
    want = torchaudio.functional.resample(torch.from_numpy(x), orig, new,
                                          **FILTER).numpy()
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


@pytest.mark.parametrize('n,speed,length', [(81920, 8, 10240),
                                            (10240, 2, 5120),
                                            (20480, 4, 5130),  # past the end
                                            (1000, 8, 200),
                                            (300, 8, 40)])  # < filter
def test_time_compress_integer_speed_equals_full_filter(n, speed, length):
    """The strided evaluation gives exactly what filtering every sample and
    interpolating at ``k * speed`` gives (the pre-issue-8 computation)."""
    rng = np.random.default_rng(n)
    wave = rng.uniform(-1, 1, n).astype(np.float32)
    src = _lowpass(wave, 0.45 / speed)
    slow = np.interp(np.arange(length) * float(speed), np.arange(n),
                     src).astype(np.float32)
    np.testing.assert_array_equal(time_compress(wave, speed, length), slow)


@pytest.mark.parametrize('speed', [2, 4, 8])
def test_sped_up_views_equal_whole_track_reference(tone_video, speed):
    """A view played ``speed`` times faster equals the whole track resampled
    by torchaudio from ``speed * rate`` Hz to 16 kHz (output ``k`` sits at
    source sample ``k * speed * rate / 16000``), cut at the view's start.
    The spans start on that output grid (32 kHz source), so the two
    compare sample by sample; one merged pass and a seek per view alike."""
    ref, ref_t0 = _whole_track_reference(tone_video, speed=speed)
    spans = [(0.25, 0.25 + 0.32 * speed), (0.5, 0.5 + 0.16 * speed)]
    step = 2 * speed  # source samples per output sample
    for gap in (0.0, 10.0):
        views = [dict(time_span=s, speed=speed) for s in spans]
        out = DecodeAudioViews(merge_gap=gap)(
            dict(filename=tone_video, audio_views=views))
        for (t0, t1), wav in zip(spans, out['audio_wavs']):
            i0 = int(round((t0 - ref_t0) * 32000))
            assert i0 % step == 0
            want = ref[i0 // step:i0 // step + len(wav)]
            assert len(wav) == int(round((t1 - t0) / speed * 16000)) == len(
                want)
            np.testing.assert_allclose(wav, want, rtol=0, atol=2e-5)
            assert np.abs(wav).max() > 0.3


@pytest.mark.parametrize('speed', [1, 2, 8, 1.37])
def test_play_at_speed_is_a_faster_tone(speed):
    """Against the analytic signal: a 150 Hz tone played ``speed`` times
    faster is a ``150 * speed`` Hz tone, sampled at ``first + k * speed *
    rate / sr``. 1.37 has no small common rate with 44.1 kHz, so it takes
    the resample-then-time_compress path."""
    from mmavcl.datasets.media.resampling import _MAX_KERNEL
    rate, sr, first, length = 44100, 16000, 3000, 4000
    virtual = int(round(rate * speed))
    direct = (virtual // math.gcd(virtual, sr)) * (
        sr // math.gcd(virtual, sr)) <= _MAX_KERNEL
    assert direct == (speed != 1.37)
    t = np.arange(int(rate * 1.5)) / rate
    wave = np.sin(2 * np.pi * 150 * t).astype(np.float32)
    got = play_at_speed(wave, rate, first, speed, sr, length)
    pos = first + np.arange(length) * speed * rate / sr
    want = np.sin(2 * np.pi * 150 * pos / rate)
    assert got.shape == (length, ) and got.dtype == np.float32
    # away from the filter's edges (zeros past the end of the source)
    inside = int((len(wave) - first) * sr / (speed * rate))
    inner = slice(100, min(length, inside) - 100)
    np.testing.assert_allclose(got[inner], want[inner], rtol=0, atol=2e-3)


@pytest.mark.parametrize('threads', [1, 2])
@pytest.mark.parametrize('first,length', [(441 * 7, 800), (-441 * 3, 500),
                                          (441 * 67, 400), (0, 0)])
def test_resample_window_equals_slice_of_whole(first, length, threads):
    """``resample(x, o, n, first, length)`` is the slice of the whole
    resampled signal that starts at ``first`` (zeros outside the input,
    before it and past its end), without resampling the rest."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-0.5, 0.5, 30000).astype(np.float32)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = resample(x, 44100, 16000, first, length)
        # the whole signal between zeros: position 0 of x is output 480
        # of the padded one, and its filter tail past x's end is kept
        pad = np.concatenate([np.zeros(441 * 3, np.float32), x,
                              np.zeros(2000, np.float32)])
        whole = resample(pad, 44100, 16000)
    finally:
        torch.set_num_threads(before)
    k0 = (first + 441 * 3) // 441 * 160
    want = whole[k0:k0 + length]
    assert got.shape == want.shape == (length, )
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def _audio_first_mp4(path: str) -> str:
    """An MP4 whose stream 0 is the audio (the cheap probe's options then
    hit the audio decoder, which must not change what is decoded)."""
    with av.open(path, 'w') as c:
        a = c.add_stream('aac', rate=16000)
        a.layout = 'mono'
        v = c.add_stream('libx264', rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, 'yuv420p'
        for i in range(25):
            img = np.full((48, 64, 3), i * 8, np.uint8)
            for p in v.encode(av.VideoFrame.from_ndarray(img, 'rgb24')):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        wave = chirp(1.0, 16000)
        for j in range(0, len(wave) - 1023, 1024):
            f = av.AudioFrame.from_ndarray(wave[None, j:j + 1024],
                                           format='fltp', layout='mono')
            f.sample_rate, f.pts = 16000, j
            for p in a.encode(f):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize('ext,vcodec,acodec,size', [
    ('mp4', 'libx264', 'aac', (38, 50)),  # cropped: coded 48x64
    ('mkv', 'libx264', 'aac', (48, 64)),
    ('avi', 'mpeg4', 'pcm_s16le', (32, 64)),
    ('ts', 'libx264', 'aac', (38, 50)),  # no streams before probing
    ('mp4', 'audio-first', None, (48, 64)),
])
def test_cheap_probe_size_and_audio_equal_full_open(tmp_path, ext, vcodec,
                                                    acodec, size):
    path = str(tmp_path / f'v.{ext}')
    if vcodec == 'audio-first':
        _audio_first_mp4(path)
    else:
        make_av_video(path, num_frames=30, size=size, video_codec=vcodec,
                      audio_codec=acodec, sample_rate=16000)
    full = probe_media(path)
    c = open_media(path)
    try:
        assert probe_frame_size(path, c) == (full['height'], full['width'])
        assert (full['height'], full['width']) == size
        spans = [(0.2, 0.6)]
        # the container's audio decodes exactly like a fresh default open
        views = [dict(time_span=s) for s in spans]
        shared = DecodeAudioViews()(
            dict(filename=path, pyav_container=c, audio_views=views))
    finally:
        c.close()
    views = [dict(time_span=s) for s in spans]
    fresh = DecodeAudioViews()(dict(filename=path, audio_views=views))
    np.testing.assert_array_equal(shared['audio_wavs'][0],
                                  fresh['audio_wavs'][0])
    assert np.abs(fresh['audio_wavs'][0]).max() > 0.1


@pytest.fixture
def opened(monkeypatch):
    """Every container ``av.open`` returns from now on, in order."""
    containers = []
    real_open = av.open

    def spy(*args, **kwargs):
        containers.append(real_open(*args, **kwargs))
        return containers[-1]

    monkeypatch.setattr(av, 'open', spy)
    return containers


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_one_pyav_open_per_sample_and_container_lifecycle(tone_video, opened,
                                                          backend):
    """decord: the size probe's container reads the audio; PyAV: the video
    reader's own container does, after the frames."""
    pipe = Compose([TRANSFORMS.build(c) for c in [
        dict(type='VideoInit', backend=backend, decode_short_side=64),
        dict(type='SampleClips', clip_len=4, num_clips=2, audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews'),
        dict(type='PackAVInputs')]])
    out = pipe(dict(filename=tone_video))
    assert len(out['inputs']['audio']) == 2
    assert len(opened) == 1  # one container read the audio
    with pytest.raises(Exception):  # ... and was closed
        opened[0].streams.audio[0].duration
    # audio from elsewhere (or none): the container is not kept
    init = VideoInit(backend=backend, decode_short_side=64)
    res = init(dict(filename=tone_video, audio_filename=None))
    assert 'pyav_container' not in res
    res['video_reader'].close()
    with pytest.raises(Exception):  # closed by VideoInit or by the reader
        opened[-1].streams.audio[0].duration
    res = init(dict(filename=tone_video))
    assert 'pyav_container' in res
    # a pipeline without audio decoding: PackAVInputs closes it
    res['video_views'] = [dict(frame_inds=np.arange(2))]
    PackAVInputs()(DecodeVideoViews()(res))
    assert 'pyav_container' not in res
    with pytest.raises(Exception):
        opened[-1].streams.audio[0].duration


def test_pyav_backend_decoding_the_audio_first(tone_video, opened):
    """A pipeline that decodes the audio before the frames: the container
    the PyAV reader lent goes back to it instead of being closed under it,
    and both come out as in the usual order."""

    def run(*decoders):
        np.random.seed(3)
        return Compose([TRANSFORMS.build(c) for c in [
            dict(type='VideoInit', backend='pyav', decode_short_side=64),
            dict(type='SampleClips', clip_len=4, num_clips=2, audio=True),
            *decoders,
            dict(type='PackAVInputs')]])(dict(filename=tone_video))

    usual = run(dict(type='DecodeVideoViews'), dict(type='DecodeAudioViews'))
    swapped = run(dict(type='DecodeAudioViews'), dict(type='DecodeVideoViews'))
    assert len(opened) == 2  # one open per sample
    for key in ('video', 'audio'):
        assert len(usual['inputs'][key]) == 2
        for a, b in zip(usual['inputs'][key], swapped['inputs'][key]):
            assert torch.equal(a, b)
    with pytest.raises(Exception):  # closed by the reader after the frames
        opened[-1].streams.audio[0].duration


def test_views_never_share_pixels_and_lazy_flip_packs_mirrored(tmp_path):
    info = make_av_video(str(tmp_path / 'ts.mp4'), num_frames=40,
                         size=(32, 48), audio=False)
    res = VideoInit()(dict(filename=info['path']))
    res['video_views'] = [
        dict(frame_inds=np.arange(0, 8)),  # disjoint runs: slices
        dict(frame_inds=np.arange(20, 28)),
        dict(frame_inds=np.arange(24, 32)),  # overlaps the previous one
        dict(frame_inds=np.arange(30, 22, -1)),  # reversed
    ]
    res = DecodeVideoViews()(res)
    imgs = res['video_imgs']
    for i, view in enumerate(res['video_views']):
        np.testing.assert_array_equal(decode_frame_index(imgs[i]),
                                      view['frame_inds'])
        for j in range(i):
            assert not np.shares_memory(imgs[i], imgs[j])
    plain = [x.copy() for x in imgs]
    res = FlipViews(flip_prob=1.0)(res)
    packed = PackAVInputs()(res)['inputs']['video']
    for x, t in zip(plain, packed):
        assert t.is_contiguous() and t.dtype == torch.uint8
        np.testing.assert_array_equal(
            t.numpy(), x[:, :, ::-1].transpose(3, 0, 1, 2))


@pytest.mark.parametrize('fmt,layout', [('fltp', 'stereo'), ('flt', 'stereo'),
                                        ('s16', 'stereo'), ('s16p', 'stereo'),
                                        ('s32', 'mono'), ('dblp', 'mono'),
                                        ('fltp', '5.1')])
def test_mono_mix_equals_libswresample(fmt, layout):
    """The numpy mix (and the libswresample fallback for 5.1) equals
    libswresample's own mix to mono at the source rate, frame by frame."""
    from mmavcl.datasets.media.audio import _mono_source_rate
    channels = av.AudioLayout(layout).nb_channels
    rng = np.random.default_rng(channels)
    dtype = {'flt': np.float32, 'fltp': np.float32, 's16': np.int16,
             's16p': np.int16, 's32': np.int32, 'dblp': np.float64}[fmt]
    frames = []
    for _ in range(3):
        x = rng.uniform(-0.4, 0.4, (channels, 1024))
        if np.dtype(dtype).kind == 'i':
            x = np.round(x * np.iinfo(dtype).max)
        x = x.astype(dtype)
        if not fmt.endswith('p'):  # packed: (1, n * channels) interleaved
            x = np.ascontiguousarray(x.T).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(x, format=fmt, layout=layout)
        f.sample_rate = 22050
        frames.append(f)
    mono, rate = _mono_source_rate(av, frames)
    rs = av.AudioResampler(format='fltp', layout='mono', rate=22050)
    want = np.concatenate([o.to_ndarray()[0] for f in frames
                           for o in rs.resample(f)] +
                          [o.to_ndarray()[0] for o in rs.resample(None)])
    assert rate == 22050 and mono.dtype == np.float32
    np.testing.assert_allclose(mono, want, rtol=0, atol=1e-6)


def test_surround_audio_spans_equal_libswresample_mix(tmp_path):
    """A 5.1 AAC track (a layout the numpy mix does not take) keeps its
    frames in the one decoding pass and is mixed by libswresample: each
    span equals the whole track mixed frame by frame by libswresample at
    the source rate, cut at the span's first frame."""
    from mmavcl.datasets.media import decode_audio_spans
    path = str(tmp_path / 'surround.m4a')
    rate, n = 48000, 3 * 48000
    t = np.arange(n) / rate
    wave = np.stack([0.2 * np.sin(2 * np.pi * f * t)
                     for f in (220, 330, 440, 550, 60, 770)])
    with av.open(path, 'w') as c:
        s = c.add_stream('aac', rate=rate)
        s.layout = '5.1'
        for i in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wave[:, i:i + 1024], np.float32),
                format='fltp', layout='5.1')
            f.sample_rate, f.pts = rate, i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    with av.open(path) as c:
        rs = av.AudioResampler(format='fltp', layout='mono', rate=rate)
        times, chunks = [], []
        for f in c.decode(audio=0):
            times.append(f.time)
            f.pts = None
            chunks += [o.to_ndarray()[0] for o in rs.resample(f)]
        chunks += [o.to_ndarray()[0] for o in rs.resample(None)]
    whole = np.concatenate(chunks)
    spans = [(0.5, 1.0), (2.0, 2.4)]
    for (t0, t1), (got, start, got_rate) in zip(
            spans, decode_audio_spans(path, spans)):
        assert got_rate == rate and start <= t0 - 0.05
        i0 = int(round((start - times[0]) * rate))
        want = whole[i0:i0 + len(got)]
        assert len(got) >= (t1 - t0) * rate and len(want) == len(got)
        assert np.abs(got).max() > 0.05
        np.testing.assert_allclose(got, want, rtol=0, atol=5e-5)


@pytest.mark.parametrize('ext,decoder', [('mp4', 'aac'), ('mp3', 'mp3float'),
                                         ('ogg', 'opus')])
def test_a_span_decodes_the_same_after_another_span(tmp_path, ext, decoder):
    """Each span of one ``decode_audio_spans`` call equals that span
    decoded alone in a fresh open of the file (start, length and samples),
    in either order, at 48 kHz. Seeded noise: FFmpeg's AAC encoder sends
    most of it as perceptual noise substitution, whose decoder-side noise
    generator a flush does not reset (the span after another was up to 0.55
    off); a span at the file's top read after a later one lost the priming
    skip that only a fresh decoder applies (Opus: 312 samples more, a start
    6.5 ms early). MP3 decoded the same either way."""
    from mmavcl.datasets.media import decode_audio_spans
    from mmavcl.testing import make_audio_file
    path = str(tmp_path / f'noise.{ext}')
    if ext == 'mp4':  # with a video stream, as Kinetics / VGG-Sound
        make_av_video(path, 75, size=(32, 32), sample_rate=48000,
                      pattern='noise')
    else:
        make_audio_file(path, 3.0, 48000, pattern='noise')
    with av.open(path) as c:
        assert c.streams.audio[0].codec_context.name == decoder
    top, middle, end = (0.05, 0.5), (1.0, 1.4), (2.2, 2.6)
    alone = {s: decode_audio_spans(path, [s])[0] for s in (top, middle, end)}
    for pair in [(end, middle), (middle, end), (end, top), (top, end)]:
        for span, (wave, start, rate) in zip(
                pair, decode_audio_spans(path, list(pair))):
            want, want_start, want_rate = alone[span]
            assert (start, rate, len(wave)) == (want_start, want_rate,
                                                len(want)) and rate == 48000
            assert np.abs(want).max() > 0.1  # the noise, not silence
            np.testing.assert_allclose(wave, want, rtol=0, atol=1e-6)
