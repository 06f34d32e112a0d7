"""MPEG-TS files (``.ts`` broadcast recordings and HLS segments, ``.m2ts``
and ``.mts`` from AVCHD cameras) keep their frames and audio aligned,
measured on the decoded content: frames spell their index, the audio is a
chirp whose frequency gives its time, starting with the first frame (or
0.5 s later).

The files start their clock at 1.4 s, as FFmpeg's command line writes
MPEG-TS (its 0.7 s mux delay), with H.264 (B-frames, x264's defaults) and
AAC at 16 and 48 kHz, MP2 or AC-3, as PyAV's encoders write them.

MPEG-TS states no encoder delay (no edit list, no ``CodecDelay``): the
demuxer attaches no ``skip_samples`` to the first packet and the decoder's
``delay`` is 0, so the AAC priming (1024 samples), like MP2's 481 and
AC-3's 256, decodes as audio. It is not a misalignment: the encoder stamps
its first packet that many samples before the signal's time, so the
priming plays before the first frame and the signal on time, as a TS
player (which skips nothing) plays it. Skipping 1024 samples without
moving the start would put the signal 21 ms early (at 48 kHz).

The one misalignment found: decord 0.6 (the default reader) returned frame
9 or 16 for frame 0 of an H.264 MPEG-TS with B-frames, so a view's frames
came 0.36-0.64 s after its audio; MPEG-TS is now read by PyAV
(:func:`~mmavcl.datasets.media.decord_checks.decord_misreads`).
"""
import shutil

import av
import numpy as np
import pytest
from mmcv.transforms import Compose

import mmavcl.datasets  # noqa: F401  (registers the transforms)
from mmavcl.datasets.media import read_audio_start
from mmavcl.datasets.video_dataset import build_pipeline
from mmavcl.testing import (chirp_time_errors, decode_audio_views,
                            decode_frame_index, load_script, make_av_video)

FPS, N = 25.0, 75
#: where FFmpeg's command line starts an MPEG-TS clock
START = 1.4
#: name -> (audio encoder, rate, audio delay (s) after the first frame,
#: samples its encoder puts before the signal)
FILES = {
    'aac-16k': ('aac', 16000, 0.0, 1024),
    'aac-48k': ('aac', 48000, 0.0, 1024),
    'aac-16k-late': ('aac', 16000, 0.5, 1024),
    'mp2-48k': ('mp2', 48000, 0.0, 481),
    'ac3-48k': ('ac3', 48000, 0.0, 256),
}
#: the view: 16 frames from frame 10
FIRST, CLIP = 10, 16


@pytest.fixture(scope='module')
def ts_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('ts')
    return {name: make_av_video(str(root / f'{name}.ts'), N, FPS, (32, 32),
                                sample_rate=rate, audio_codec=codec,
                                start_time=START, audio_delay=delay)['path']
            for name, (codec, rate, delay, _) in FILES.items()}


def _check_chirp(wave: np.ndarray, rate: int, t0: float,
                 delay: float) -> None:
    """The chirp plays on time: within 0.2 ms in the median window, 5 ms
    in any (measured: 0.03-0.07 ms and 0.4 ms for AAC, where a window of
    AAC at 48 kHz reads up to 3.8 ms off; 0.01 ms for MP2 and AC-3). A
    frame is 40 ms, the AAC priming 21.3 ms (48 kHz) to 64 ms (16 kHz)."""
    errors = np.abs(chirp_time_errors(wave, rate, t0, delay, N / FPS))
    assert errors.size, 'the view holds no chirp'
    assert np.median(errors) < 2e-4 and errors.max() < 5e-3, (t0, errors)


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
@pytest.mark.parametrize('name', list(FILES))
def test_views_audio_plays_with_its_frames(ts_files, name, backend):
    """A clip at frame 10 decodes frames 10-25 (read from the pixels), its
    span starts at frame 10's time (0.4 s) and its audio is the chirp of
    that time. Before: decord returned frames 26-41 (0.64 s late)."""
    _, rate, delay, _ = FILES[name]
    pipeline = Compose(build_pipeline([
        dict(type='VideoInit', backend=backend),
        dict(type='SampleClips', clip_len=CLIP, mode='fixed',
             start_frame=FIRST, audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews', sample_rate=rate)]))
    results = pipeline(dict(filename=ts_files[name], modality='video'))
    assert results['video_start_time'] == pytest.approx(START, abs=1e-6)
    frames = decode_frame_index(results['video_imgs'][0])
    assert frames.tolist() == list(range(FIRST, FIRST + CLIP))
    (t0, t1), = [v['time_span'] for v in results['audio_views']]
    assert (t0, t1) == pytest.approx((FIRST / FPS, (FIRST + CLIP) / FPS))
    _check_chirp(results['audio_wavs'][0], rate, t0, delay)


@pytest.mark.parametrize('name', list(FILES))
def test_the_encoder_delay_decodes_before_the_first_frame(ts_files, name):
    """The audio stream starts the encoder's delay before the signal (AAC:
    64 ms at 16 kHz, 21.3 ms at 48 kHz), nothing says to skip it, and the
    decoded signal starts with the first frame (or 0.5 s later): a view
    from the first frame is not padded unless the audio is late, its first
    sample is the signal's, and the chirp plays on time all along."""
    _, rate, delay, priming = FILES[name]
    path = ts_files[name]
    with av.open(path) as c:
        video, audio = c.streams.video[0], c.streams.audio[0]
        assert audio.codec_context.delay == 0
        first = next(p for p in c.demux(audio) if p.size)
        assert 'skip_samples' not in [s.data_type
                                      for s in first.iter_sidedata()]
        gap = float(audio.start_time * audio.time_base) - \
            float(video.start_time * video.time_base)
    assert gap == pytest.approx(delay - priming / rate, abs=1.5e-5)
    spans = [(0.0, 1.0), (1.5, 2.14)]
    out = decode_audio_views(path, spans, sample_rate=rate)
    assert [v['padded'] for v in out['audio_views']] == [delay > 0, False]
    for (t0, _), wave in zip(spans, out['audio_wavs']):
        _check_chirp(wave, rate, t0, delay)
    if delay == 0:
        # the chirp (0.5 amplitude) from the view's first samples: the
        # priming lies before them
        assert np.abs(out['audio_wavs'][0][:32]).max() > 0.05


def test_extract_audio_finds_and_places_ts_sidecars(ts_files, tmp_path):
    """``extract_audio.py --src`` picks up ``.ts``, ``.m2ts`` and ``.MTS``
    (a camera's upper case), records each sidecar's first sample at the
    stream's start on the video's clock (the priming's, 64 ms before the
    first frame for AAC at 16 kHz), and the sidecar's views equal the
    container's (16-bit WAV at the source's rate). Before: no ``.ts``
    file was found."""
    src, out = tmp_path / 'videos', tmp_path / 'audio'
    src.mkdir()
    names = {'aac-16k': 'a.ts', 'aac-16k-late': 'b.m2ts', 'mp2-48k': 'c.MTS'}
    for name, file in names.items():
        shutil.copy(ts_files[name], src / file)
    tool = load_script('tools/data/extract_audio.py')
    # at the source's rate: resampled, a sidecar whose first sample falls
    # between two output samples (-1024 / 48000 s is -341.33 samples at
    # 16 kHz) is placed to the nearest one, at most half a sample (31 us)
    # from the container's views
    assert tool.main(['--src', str(src), '--out', str(out),
                      '--sample-rate', '0', '--workers', '1']) == 0
    for name, file in names.items():
        _, rate, delay, priming = FILES[name]
        video = str(src / file)
        sidecar = str(out / (file.split('.')[0] + '.wav'))
        assert read_audio_start(sidecar) == pytest.approx(
            delay - priming / rate, abs=1e-5)
        spans = [(0.0, 0.64), (1.5, 2.14)]
        want = decode_audio_views(video, spans, sample_rate=rate)
        got = decode_audio_views(video, spans, sidecar, sample_rate=rate)
        for view, w, gview, g in zip(want['audio_views'],
                                     want['audio_wavs'], got['audio_views'],
                                     got['audio_wavs']):
            assert gview['padded'] == view['padded']
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-4)
