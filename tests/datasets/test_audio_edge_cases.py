"""Audio edge cases of issue #19, on real files written with PyAV.

* odd sample rates (44101, 22254, 44089 Hz): the resampler's kernel stays
  small (a worker grew by 5.4 GB at 44101 Hz), and its output still equals
  the documented filter, evaluated here straight from its formula;
* NaN/Inf samples in float audio are a bad sample (``MediaDecodeError``
  naming the file), which ``bad_sample_policy='skip'`` replaces;
* streams that start at 10 s: views count from the first video frame, so
  the audio is read at ``video_start_time`` + the view's span; audio that
  starts after the video is padded where it is missing and aligned where
  it is not. Audio-only samples count from their stream's start.

Alignment is read from the content: the audio is a chirp whose frequency
encodes its time (:func:`mmavcl.testing.decode_chirp_time`).
"""
import json
import math
import os.path as osp
import subprocess
import sys
import textwrap
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from mmavcl.datasets import AVAudioDataset, MediaDecodeError
from mmavcl.datasets.media import resample, resampling
from mmavcl.datasets.transforms import (AudioInit, DecodeAudioViews,
                                        DecodeVideoViews, SampleClips,
                                        VideoInit)
from mmavcl.testing import (chirp, decode_chirp_time, decode_frame_index,
                            make_audio_file, make_av_video, timestamp_frames)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SR = 16000
ODD_RATES = [44101, 22254, 44089]  # 44089 is prime


def _formula(x: np.ndarray, orig: int, new: int, ks,
             first: int = 0) -> np.ndarray:
    """The filter of ``sinc_resample_kernel``'s docstring, in float64 and
    without phases: ``y[k] = sum_j x[j] h(first + k * orig / new - j)``."""
    fc = 0.5 * 0.97 * min(orig, new) / orig
    half = 16 / (2 * fc)
    out = []
    for k in ks:
        pos = first + float(Fraction(int(k) * orig, new))
        j = np.arange(max(math.ceil(pos - half), 0),
                      min(math.floor(pos + half), len(x) - 1) + 1)
        t = pos - j
        h = 2 * fc * np.sinc(2 * fc * t) * np.i0(
            9.0 * np.sqrt(np.clip(1 - (t / half)**2, 0, None))) / np.i0(9.0)
        out.append(np.dot(x[j].astype(np.float64), h))
    return np.array(out)


# 96001 Hz: a phase table of 12.9 MB, over the 8 MB limit: taps per output
@pytest.mark.parametrize('orig', ODD_RATES + [96001])
@pytest.mark.parametrize('threads', [1, 2])
def test_odd_rate_resample_equals_the_filter_formula(orig, threads):
    rng = np.random.default_rng(orig)
    x = rng.uniform(-0.5, 0.5, orig).astype(np.float32)  # 1 s
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = resample(x, orig, SR)
        window = resample(x, orig, SR, first=orig // 3, length=700)
    finally:
        torch.set_num_threads(before)
    assert got.shape == (SR, ) and got.dtype == np.float32
    ks = np.concatenate([np.arange(5), rng.integers(0, SR, 200),
                         np.arange(SR - 5, SR)])
    np.testing.assert_allclose(got[ks], _formula(x, orig, SR, ks), rtol=0,
                               atol=2e-5)
    # a window from input sample orig // 3 on, reading the input before it
    np.testing.assert_allclose(
        window, _formula(x, orig, SR, range(700), first=orig // 3), rtol=0,
        atol=2e-5)


@pytest.mark.parametrize('orig', ODD_RATES)
def test_odd_rate_resample_keeps_tones(orig):
    """Against the analytic signal: tones inside the pass band come out
    as the same tones sampled at 16 kHz, as precisely as from 44100 Hz
    (measured 2.3e-5 at 6 kHz for both; at 7 kHz the filter's roll-off
    towards its 7.76 kHz cut-off takes 4.6% for both)."""
    t = np.arange(orig * 2) / orig
    tones = ((0.3, 440.0), (0.2, 3100.0), (0.1, 6000.0))
    x = sum(a * np.sin(2 * np.pi * f * t) for a, f in tones)
    got = resample(x.astype(np.float32), orig, SR)
    u = np.arange(len(got)) / SR
    want = sum(a * np.sin(2 * np.pi * f * u) for a, f in tones)
    inner = slice(200, len(got) - 200)  # away from the zero padding
    np.testing.assert_allclose(got[inner], want[inner], rtol=0, atol=1e-4)


def test_common_rates_keep_their_small_kernels():
    assert resampling.COMMON_SAMPLE_RATES == frozenset(
        {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200,
         96000})
    for rate in resampling.COMMON_SAMPLE_RATES:
        o, n, _, _, w = resampling._filter_design(rate, SR)
        assert n * (2 * w + 2) * 4 < 256 << 10, rate
        assert 4 * n * (o + 2 * w + 3) < resampling._MAX_DENSE_BYTES, rate


MEMORY_SCRIPT = textwrap.dedent('''
    import json, resource, sys, time
    import numpy as np, torch
    torch.set_num_threads(1)  # as in a DataLoader worker
    from mmavcl.datasets.media import resampling
    from mmavcl.datasets.transforms import DecodeAudioViews

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    x = np.random.default_rng(0).uniform(-0.5, 0.5, 96000).astype(np.float32)
    resampling.resample(x, 44100, 16000)  # warm up torch and numpy
    base, out = peak_mb(), {}
    for rate in json.loads(sys.argv[1]):
        t = time.perf_counter()
        for _ in range(3):
            resampling.resample(x[:2 * rate], rate, 16000)
        out[str(rate)] = (time.perf_counter() - t) / 3
    for path in json.loads(sys.argv[2]):
        views = [dict(time_span=(0.2, 1.2)), dict(time_span=(0.5, 1.5),
                                                  speed=2)]
        t = time.perf_counter()
        DecodeAudioViews()(dict(filename=path, audio_views=views))
        out[path] = time.perf_counter() - t
    out['growth_mb'] = peak_mb() - base
    out['cache_bytes'] = resampling._KERNELS.nbytes + resampling._DENSE.nbytes
    print(json.dumps(out))
''')


def test_odd_rates_stay_in_bounded_memory(tmp_path):
    """A single-threaded worker (the conv1d path) resampling 2 s at each
    odd rate, and decoding real 44101 / 22254 Hz files (with a view at
    2x speed), grows by far less than 100 MB (before: +5.4 GB and 2-12 s
    a call at 44101 Hz, +700 MB at 22254 Hz); the caches stay under
    their 32 MB."""
    files = [
        make_audio_file(str(tmp_path / 'a44101.wav'), 2.0, 44101)['path'],
        make_av_video(str(tmp_path / 'v22254.mkv'), 50, size=(32, 32),
                      sample_rate=22254, audio_codec='flac')['path']
    ]
    res = subprocess.run(
        [sys.executable, '-c', MEMORY_SCRIPT, json.dumps(ODD_RATES),
         json.dumps(files)], capture_output=True, text=True, timeout=300,
        cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out['growth_mb'] < 100, out
    assert out['cache_bytes'] <= 32 << 20, out
    for rate in ODD_RATES:  # per call once the table is built: < 1 s
        assert out[str(rate)] < 1.0, out


@pytest.mark.parametrize('name,rate', [('odd.wav', 44101),
                                       ('odd.mkv', 44101),
                                       ('odd.flac', 22254)])
def test_odd_rate_files_decode_the_right_audio(tmp_path, name, rate):
    """Real files (16-bit PCM WAV read by the standard library, FLAC in
    Matroska and alone read by PyAV) at odd rates: each view equals the
    chirp written, at 16 kHz, and reads back the view's time."""
    path = str(tmp_path / name)
    if name.endswith('.mkv'):
        make_av_video(path, 75, size=(32, 32), sample_rate=rate,
                      audio_codec='flac')
    else:
        make_audio_file(path, 3.0, rate)
    spans = [(0.3, 1.3), (1.75, 2.5)]
    out = DecodeAudioViews()(dict(
        filename=path, audio_views=[dict(time_span=s) for s in spans]))
    for (t0, t1), wav, view in zip(spans, out['audio_wavs'],
                                   out['audio_views']):
        assert len(wav) == round((t1 - t0) * SR) and not view['padded']
        if not name.endswith('.mkv'):
            # the view starts on the source's sample grid (at most half a
            # source sample from t0): the chirp written, at those times.
            # Not for Matroska, whose timestamps are whole milliseconds
            # (frame 10 of 4608 samples: 1.045 s for 1.04487 s, at any rate)
            t = round(t0 * rate) / rate + np.arange(len(wav)) / SR
            want = 0.5 * np.sin(2 * np.pi * (300 * t + 500 * t * t))
            np.testing.assert_allclose(wav, want, rtol=0, atol=1e-3)
        mid = len(wav) // 2
        assert decode_chirp_time(wav[mid - 512:mid + 512]) == pytest.approx(
            (t0 + t1) / 2, abs=0.005)


# ---------------------------------------------------------------------------
# non-finite samples


def _write_float_audio(path: str, wave: np.ndarray, rate: int = SR,
                       frames=None, fps: int = 25) -> str:
    """Float PCM (``pcm_f32le``, mono), alone (``.wav``) or with H.264
    frames (``.mkv``); NaN/Inf samples are written as they are."""
    with av.open(path, 'w') as c:
        vs = None
        if frames is not None:
            vs = c.add_stream('libx264', rate=fps)
            vs.height, vs.width = frames.shape[1:3]
            vs.pix_fmt = 'yuv420p'
        s = c.add_stream('pcm_f32le', rate=rate)
        s.layout = 'mono'
        for img in frames if frames is not None else []:
            for p in vs.encode(av.VideoFrame.from_ndarray(img, 'rgb24')):
                c.mux(p)
        if vs is not None:
            for p in vs.encode():
                c.mux(p)
        for i in range(0, len(wave), 1024):
            f = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(wave[None, i:i + 1024]), format='flt',
                layout='mono')
            f.sample_rate, f.pts = rate, i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _poisoned(duration: float = 2.0) -> np.ndarray:
    wave = chirp(duration, SR)
    wave[int(1.2 * SR):int(1.2 * SR) + 7] = np.nan
    wave[int(1.25 * SR)] = np.inf
    return wave


def test_nan_in_a_float_wav_is_a_bad_sample(tmp_path):
    path = _write_float_audio(str(tmp_path / 'nan.wav'), _poisoned())
    with av.open(path) as c:  # the file really holds them
        data = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    assert np.isnan(data).sum() == 7 and np.isinf(data).sum() == 1
    decode = DecodeAudioViews()
    with pytest.raises(MediaDecodeError) as info:
        decode(dict(filename=path, audio_views=[dict(time_span=(1.0, 1.5))]))
    assert info.value.filename == path and info.value.stream == 'audio'
    assert 'non-finite audio samples (8 NaN/Inf) in [1.000, 1.500) s' in \
        str(info.value)
    assert path in str(info.value)
    # the rest of the file decodes: the check is on what a view reads
    out = decode(dict(filename=path,
                      audio_views=[dict(time_span=(0.2, 0.9))]))
    assert np.isfinite(out['audio_wavs'][0]).all()


def test_inf_in_a_container_is_a_bad_sample(tmp_path):
    """Float audio in Matroska next to H.264, read from the container that
    VideoInit opened (the PyAV backend lends it)."""
    path = _write_float_audio(str(tmp_path / 'inf.mkv'), _poisoned(),
                              frames=timestamp_frames(50, (32, 32)))
    results = dict(filename=path)
    for t in (VideoInit(backend='pyav'),
              SampleClips(clip_len=4, mode='fixed', start_frame=28,
                          audio=True), DecodeVideoViews()):
        results = t(results)
    assert 'pyav_container' in results  # the audio reads VideoInit's open
    with pytest.raises(MediaDecodeError, match='non-finite audio samples '
                       r'\(8 NaN/Inf\)') as info:
        DecodeAudioViews()(results)
    assert info.value.filename == path


def test_nan_sample_is_skipped_and_reported_by_the_dataset(tmp_path):
    _write_float_audio(str(tmp_path / 'nan.wav'), _poisoned())
    for i in range(3):
        make_audio_file(str(tmp_path / f'good{i}.wav'), 2.0, SR)
    ann = tmp_path / 'list.txt'
    ann.write_text('nan.wav 0\ngood0.wav 1\ngood1.wav 2\ngood2.wav 3\n')
    pipeline = [
        dict(type='AudioInit'),
        dict(type='SampleAudioClips', clip_duration=1.0, num_clips=1,
             mode='fixed', start=0.9),
        dict(type='DecodeAudioViews'),
        dict(type='PackAVInputs'),
    ]
    kw = dict(data_prefix=dict(audio=str(tmp_path)), pipeline=pipeline)
    with pytest.raises(MediaDecodeError, match='non-finite'):
        AVAudioDataset(str(ann), **kw)[0]
    ds = AVAudioDataset(str(ann), bad_sample_policy='skip', **kw)
    out = ds[0]
    skipped = out['data_samples'].metainfo['skipped_bad_samples']
    assert skipped[0][0] == str(tmp_path / 'nan.wav')
    assert 'non-finite audio samples' in skipped[0][1]
    assert all(torch.isfinite(a).all() for a in out['inputs']['audio'])
    assert out['data_samples'].video_id != 'nan.wav'


# ---------------------------------------------------------------------------
# streams that do not start at 0


def _cut_file(path: str, audio_delay: float = 0.0) -> str:
    """75 timestamp frames at 25 fps shown from 10 s on (a stream cut from
    a broadcast; MP4 keeps it as an edit list), and the chirp's sample 0
    playing at ``10 + audio_delay`` s."""
    make_av_video(path, 75, size=(32, 32), start_time=10.0,
                  audio_delay=audio_delay)
    with av.open(path) as c:  # the muxer kept the offsets
        assert next(c.decode(video=0)).time == pytest.approx(10.0)
        assert c.streams.audio[0].start_time * \
            c.streams.audio[0].time_base > 9.9 + audio_delay
    return path


def _chirp_times(wav: np.ndarray, step: int = 4000):
    """Chirp time of 1024-sample windows centred every ``step`` samples."""
    return [(k / SR, decode_chirp_time(wav[k - 512:k + 512]))
            for k in range(512, len(wav) - 511, step)]


@pytest.mark.parametrize('ext', ['.mp4', '.mkv'])
def test_audio_follows_a_video_starting_at_10s(tmp_path, ext):
    """Both streams start at 10 s; the views' spans count from the first
    frame. Before: every view all zeros and ``padded=True``."""
    path = _cut_file(str(tmp_path / f'late{ext}'))
    spans = [(0.0, 0.64), (1.2, 2.0), (2.36, 3.0)]
    for gap in (0.0, 10.0):  # a seek per view / one merged pass
        out = DecodeAudioViews(merge_gap=gap)(dict(
            filename=path, video_start_time=10.0,
            audio_views=[dict(time_span=s) for s in spans]))
        for (t0, t1), wav, view in zip(spans, out['audio_wavs'],
                                       out['audio_views']):
            assert not view['padded'] and view['time_span'] == (t0, t1)
            assert len(wav) == round((t1 - t0) * SR)
            for at, got in _chirp_times(wav):
                assert got == pytest.approx(t0 + at, abs=0.005)


def test_audio_starting_after_the_video_is_padded_then_aligned(tmp_path):
    """Video at 10 s, audio at 10.5 s: a view over 0.2-0.84 s has no audio
    for its first 0.3 s (zeros, ``padded=True``), then the chirp at the
    view's time minus 0.5 s; a later view is whole."""
    path = _cut_file(str(tmp_path / 'later_audio.mkv'), 0.5)
    out = DecodeAudioViews()(dict(
        filename=path, video_start_time=10.0,
        audio_views=[dict(time_span=(0.2, 0.84)),
                     dict(time_span=(1.5, 2.14))]))
    (w0, w1), (v0, v1) = out['audio_wavs'], out['audio_views']
    assert v0['padded'] and not v1['padded']
    assert np.abs(w0[:int(0.29 * SR)]).max() == 0
    assert np.abs(w0[int(0.31 * SR):]).max() > 0.3
    for at, got in _chirp_times(w0[int(0.3 * SR):]):
        assert got == pytest.approx(at, abs=0.005)  # 0.5 s + at - 0.5 s
    for at, got in _chirp_times(w1):
        assert got == pytest.approx(1.0 + at, abs=0.005)
    # a limit on padding sees the missing start
    with pytest.raises(MediaDecodeError, match='audio covers 53% of view 0'):
        DecodeAudioViews(max_pad_ratio=0.4)(dict(
            filename=path, video_start_time=10.0,
            audio_views=[dict(time_span=(0.2, 0.84))]))


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
@pytest.mark.parametrize('ext', ['.mp4', '.mkv'])
def test_late_starting_file_end_to_end(tmp_path, ext, backend):
    """VideoInit -> SampleClips -> DecodeVideoViews -> DecodeAudioViews on
    a file starting at 10 s: each view's frames spell their indices and
    its audio reads the time of its first frame."""
    path = _cut_file(str(tmp_path / f'cut{ext}'))
    res = VideoInit(backend=backend)(dict(filename=path))
    assert res['video_start_time'] == pytest.approx(10.0)
    np.random.seed(0)
    res = SampleClips(clip_len=16, num_clips=3, mode='linspace',
                      audio=True)(res)
    res = DecodeAudioViews()(DecodeVideoViews()(res))
    for view, imgs, aview, wav in zip(res['video_views'], res['video_imgs'],
                                      res['audio_views'], res['audio_wavs']):
        np.testing.assert_array_equal(decode_frame_index(imgs),
                                      view['frame_inds'])
        t0 = aview['time_span'][0]
        assert t0 == pytest.approx(view['frame_inds'][0] / 25)
        assert not aview['padded']
        for at, got in _chirp_times(wav, 2000):
            assert got == pytest.approx(t0 + at, abs=0.005)


def test_audio_only_counts_from_its_stream_start(tmp_path):
    """An MP3's first frame plays after the encoder delay (0.069 s at
    16 kHz with LAME). AudioInit records that start, so a view over
    [t0, t1) holds the chirp's [t0, t1); before it was 69 ms early."""
    path = make_audio_file(str(tmp_path / 'clip.mp3'), 3.0, SR)['path']
    res = AudioInit()(dict(filename=path, audio_filename=path,
                           modality='audio'))
    assert res['audio_start_time'] > 0.02
    res['audio_views'] = [dict(time_span=(0.5, 1.3)),
                          dict(time_span=(1.6, 2.4))]
    out = DecodeAudioViews()(res)
    for view, wav in zip(out['audio_views'], out['audio_wavs']):
        t0 = view['time_span'][0]
        for at, got in _chirp_times(wav):
            assert got == pytest.approx(t0 + at, abs=0.005)
    # a WAV starts at 0
    wav_path = make_audio_file(str(tmp_path / 'clip.wav'), 1.0, SR)['path']
    assert AudioInit()(dict(audio_filename=wav_path))[
        'audio_start_time'] == 0.0
