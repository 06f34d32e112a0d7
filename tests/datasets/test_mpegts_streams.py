"""MPEG-TS as cameras, discs and live streams write it: Blu-ray/AVCHD
``.m2ts``/``.MTS`` of 192-byte packets, and ``.ts`` cut from the middle of
a stream (an HLS segment or a recording started mid-broadcast) whose clock
starts late, near or across the 33-bit wrap of the PES timestamps
(2^33 / 90 kHz = 26.5 h), on a frame that is not a keyframe.

Measured on the decoded content: frames spell their index
(:func:`~mmavcl.testing.timestamp_frames`), the audio is a chirp whose
frequency gives its time. The reference is a plain sequential decode of
the same file (``av.open``, every frame): the reader's frame ``i`` must be
its ``i``-th picture, bit for bit, read by a fresh reader (each read
seeks) and in one scrambled batch; ``start_time`` its first picture's
time.

Found: a stream that starts mid-GOP was numbered from its first packet,
which the decoder drops (nothing before the first keyframe decodes): in a
segment cut 1/3 into 60 frames, index 0 to 8 all gave the first keyframe's
picture, every later index came 8 frames early and the last 8 raised
``stream ended``; ``video_start_time`` was the dropped packet's time, so
each view's audio played 0.32 s before its frames. The reader now counts
and times the stream from its first keyframe
(:func:`~mmavcl.datasets.media.probe.scan_video`). The wrap needed
nothing: FFmpeg unwraps the timestamps of every stream of the program
alike (those before the wrap go negative when the file starts within 60 s
of it, else those after it go past 2^33).
"""
import av
import numpy as np
import pytest
from mmcv.transforms import Compose

import mmavcl.datasets  # noqa: F401  (registers the transforms)
from mmavcl.datasets.media import PyAVVideoReader, write_video
from mmavcl.datasets.video_dataset import build_pipeline
from mmavcl.testing import (chirp, chirp_time_errors, cut_mpegts,
                            decode_frame_index, make_av_video,
                            mpegts_packet_size, timestamp_frames)

FPS, N = 25.0, 60
#: the PES clock's period (s)
WRAP = 2**33 / 90000
#: x264 with B-frames every GOP of 12 (no scene cuts: the bands change
#: every frame)
X264 = {'x264-params': 'scenecut=0'}
M2TS = {'mpegts_m2ts_mode': '1'}
#: name -> (file name, make_av_video's keywords, cut 1/3 into the stream)
FILES = {
    'bluray-m2ts': ('disc.m2ts', dict(start_time=1.4,
                                      container_options=M2TS), False),
    'avchd-mts-ac3': ('00001.MTS', dict(start_time=1.4, audio_codec='ac3',
                                        sample_rate=48000,
                                        container_options=M2TS), False),
    'segment-10s-cut': ('seg.ts', dict(start_time=10.0), True),
    'across-wrap-late-audio': ('wrap.ts', dict(start_time=WRAP - 1.0,
                                               audio_delay=0.3), False),
    'across-wrap-cut-early-audio': ('wrapcut.ts', dict(
        start_time=WRAP - 1.5, audio_delay=-0.3), True),
}


def _write(root, name):
    file, kwargs, cut = FILES[name]
    kwargs = dict(kwargs)
    rate = kwargs.pop('sample_rate', 16000)
    path = str(root / file)
    make_av_video(path + '.full.ts' if cut else path, N, FPS, (32, 32),
                  keyint=12, sample_rate=rate, video_options=X264, **kwargs)
    if cut:
        cut_mpegts(path + '.full.ts', path)
    return path


@pytest.fixture(scope='module')
def ts_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('streams')
    return {name: _write(root, name) for name in FILES}


def _sequential(path):
    """Every picture the decoder returns, in order, and the first one's
    time (s)."""
    with av.open(path) as c:
        stream = c.streams.video[0]
        frames, start = [], None
        for f in c.decode(stream):
            if start is None:
                start = float(f.pts * stream.time_base)
            frames.append(f.to_ndarray(format='rgb24'))
    return np.stack(frames), start


def _first_frame_shown(path):
    """The index the first decoded picture spells (0 unless cut), and its
    time (s)."""
    frames, start = _sequential(path)
    return int(decode_frame_index(frames[0])), start


@pytest.mark.parametrize('name', list(FILES))
def test_every_index_is_its_picture(ts_files, name):
    path = ts_files[name]
    ref, start = _sequential(path)
    shown = decode_frame_index(ref)
    first = int(shown[0])
    assert shown.tolist() == list(range(first, N))
    if FILES[name][2]:  # cut: the stream starts in the middle of a GOP
        assert first > 0 and first % 12 == 0
        with av.open(path) as c:
            packet = next(p for p in c.demux(video=0) if p.size)
            assert not packet.is_keyframe
    if 'container_options' in FILES[name][1]:  # Blu-ray, AVCHD
        assert mpegts_packet_size(path) == 192
    reader = PyAVVideoReader(path)
    assert reader.num_frames == len(ref)
    assert reader.start_time == pytest.approx(start, abs=1e-6)
    for i in range(len(ref)):
        fresh = PyAVVideoReader(path)
        got = fresh.get_batch([i])[0]
        fresh.close()
        np.testing.assert_array_equal(
            got, ref[i],
            err_msg=f'index {i}: frame {int(decode_frame_index(got))}, '
            f'not {first + i}')
    batch = np.random.default_rng(0).permutation(len(ref))
    np.testing.assert_array_equal(reader.get_batch(batch), ref[batch])
    # each frame's time, from the first one shown
    np.testing.assert_allclose(reader.last_frame_times, batch / FPS,
                               atol=1e-6)
    reader.close()


def test_the_files_cross_the_wrap(ts_files):
    """The wrap files' PES timestamps do wrap: FFmpeg gives the frames
    before it negative times (the file starts within 60 s of it)."""
    for name in ('across-wrap-late-audio', 'across-wrap-cut-early-audio'):
        with av.open(ts_files[name]) as c:
            pts = [p.pts for p in c.demux(video=0) if p.size]
        assert min(pts) < 0 < max(pts), name


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
@pytest.mark.parametrize('where', ['start', 'end'])
@pytest.mark.parametrize('name', list(FILES))
def test_views_audio_plays_with_its_frames(ts_files, name, where, backend):
    """A clip of 12 frames at frame 3, or ending at the last frame (a seek
    near the end), decodes the frames it names (from the pixels, counted
    from the first picture shown), its span starts at its first frame's
    time and its audio is the chirp of that time (late audio padded, early
    audio before the first frame not played)."""
    path = ts_files[name]
    kwargs = FILES[name][1]
    rate = kwargs.get('sample_rate', 16000)
    delay = kwargs.get('audio_delay', 0.0)
    first, start = _first_frame_shown(path)
    clip = 12
    pipeline = Compose(build_pipeline([
        dict(type='VideoInit', backend=backend),
        dict(type='SampleClips', clip_len=clip, mode='fixed',
             start_frame=3 if where == 'start' else N - first - clip,
             audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews', sample_rate=rate)]))
    results = pipeline(dict(filename=path, modality='video'))
    assert results['total_frames'] == N - first
    assert results['video_start_time'] == pytest.approx(start, abs=1e-6)
    view, = results['video_views']
    k = int(view['frame_inds'][0])
    frames = decode_frame_index(results['video_imgs'][0])
    assert frames.tolist() == list(range(first + k, first + k + clip))
    (t0, t1), = [v['time_span'] for v in results['audio_views']]
    assert (t0, t1) == pytest.approx((k / FPS, (k + clip) / FPS), abs=1e-6)
    # the chirp's time 0 is at start_time + delay on the PES clock, which
    # FFmpeg unwraps by a multiple of its period (the first frame's time
    # is start_time rounded to the frame grid)
    chirp_start = (kwargs['start_time'] + delay - start + WRAP / 2) % WRAP \
        - WRAP / 2
    errors = np.abs(chirp_time_errors(results['audio_wavs'][0], rate, t0,
                                      chirp_start, N / FPS))
    assert errors.size, 'the view holds no chirp'
    assert np.median(errors) < 1e-3 and errors.max() < 5e-3, (t0, errors)


def test_a_long_recording_across_the_wrap(tmp_path):
    """A recording that reaches the wrap 61 s in (2 fps): FFmpeg carries the
    timestamps after it past 2^33; every index by a fresh reader is its
    picture, and a view after the wrap plays its chirp (100 Hz/s, so that
    70 s stay below 8 kHz) on time."""
    path = str(tmp_path / 'long.ts')
    fps, n, rate, sweep = 2, 140, 16000, 100.0
    start = WRAP - 61.0
    write_video(path, timestamp_frames(n, (32, 32)), fps=fps, keyint=10,
                audio=chirp(n / fps, rate, rate=sweep), sample_rate=rate,
                start_time=start)
    with av.open(path) as c:
        pts = [p.pts for p in c.demux(video=0) if p.size]
    assert min(pts) < 2**33 < max(pts)
    reader = PyAVVideoReader(path)
    assert reader.num_frames == n
    # start rounded to the frame grid: the chirp's time 0 is that after it
    assert reader.start_time == pytest.approx(start, abs=0.5 / fps)
    chirp_start = start - reader.start_time
    for i in [0, 1, 60, 121, 122, 123, 130, n - 1]:
        fresh = PyAVVideoReader(path)
        assert int(decode_frame_index(fresh.get_batch([i])[0])) == i
        fresh.close()
    reader.close()
    pipeline = Compose(build_pipeline([
        dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=8, mode='fixed', start_frame=125,
             audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews', sample_rate=rate)]))
    results = pipeline(dict(filename=path, modality='video'))
    assert decode_frame_index(results['video_imgs'][0]).tolist() == \
        list(range(125, 133))
    (t0, _), = [v['time_span'] for v in results['audio_views']]
    errors = np.abs(chirp_time_errors(results['audio_wavs'][0], rate, t0,
                                      chirp_start, window=0.256,
                                      rate=sweep))
    assert errors.size and np.median(errors) < 1e-3, errors
