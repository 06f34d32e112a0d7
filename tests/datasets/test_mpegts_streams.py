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

Found: a stream that starts mid-GOP was counted from its first packet,
and the decoder drops every packet before the first keyframe. In segments
cut 1/3 into 60 frames (4 and 8 packets before the keyframe) the reader
counted 40 and 44 frames for 36 pictures, and the last 4 and 8 indices
raised ``stream ended before frame 36 of 40``. With 25 packets before it
(more than the 16 the reader looks at for the first picture) the start
(``video_start_time``) was the first packet's, 1.0 s before the first
picture, indices 0-25 all gave the keyframe's picture and each later one
came 25 frames early (a clip at index 3: twelve copies of one frame, its
audio 40 ms). In an HEVC segment cut at an open GOP (x265's CRA keyframe
followed by 3 RASL pictures shown before it, which the decoder drops as
well) the start was the first RASL picture's, 0.12 s early: indices 0-3
all gave the keyframe's picture and each later one came 3 frames early.
The reader now counts and times the stream from its first keyframe,
leading pictures left out
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
                            decode_frame_index, decode_sequentially,
                            make_av_video, mpegts_packet_size,
                            timestamp_frames)

FPS, N = 25.0, 60
#: the PES clock's period (s)
WRAP = 2**33 / 90000
#: x264 with B-frames every GOP of 12 (no scene cuts: the bands change
#: every frame)
X264 = {'x264-params': 'scenecut=0'}
M2TS = {'mpegts_m2ts_mode': '1'}
#: name -> (file name, make_av_video's keywords (keyint 12 unless
#: given), the fraction of the stream kept after a cut at a TS packet
#: (None: whole))
FILES = {
    'bluray-m2ts': ('disc.m2ts', dict(start_time=1.4,
                                      container_options=M2TS), None),
    'avchd-mts-ac3': ('00001.MTS', dict(start_time=1.4, audio_codec='ac3',
                                        sample_rate=48000,
                                        container_options=M2TS), None),
    'segment-10s-cut': ('seg.ts', dict(start_time=10.0), 2 / 3),
    # 25 packets before the first keyframe, more than the reader's look
    # for the first frame shown
    'segment-cut-long-gop': ('long_gop.ts', dict(start_time=10.0,
                                                 keyint=40), 0.75),
    # x265's open GOPs: after the keyframe come 3 RASL pictures shown
    # before it, which the decoder drops
    'segment-cut-hevc-open-gop': ('hevc.ts', dict(
        start_time=10.0, video_codec='libx265',
        video_options={'x265-params': 'log-level=error:scenecut=0'}), 2 / 3),
    'across-wrap-late-audio': ('wrap.ts', dict(start_time=WRAP - 1.0,
                                               audio_delay=0.3), None),
    'across-wrap-cut-early-audio': ('wrapcut.ts', dict(
        start_time=WRAP - 1.5, audio_delay=-0.3), 2 / 3),
}


def _write(root, name):
    file, kwargs, keep = FILES[name]
    kwargs = dict(kwargs)
    rate = kwargs.pop('sample_rate', 16000)
    keyint = kwargs.pop('keyint', 12)
    options = kwargs.pop('video_options', X264)
    path = str(root / file)
    make_av_video(path + '.full.ts' if keep else path, N, FPS, (32, 32),
                  keyint=keyint, sample_rate=rate, video_options=options,
                  **kwargs)
    if keep:
        cut_mpegts(path + '.full.ts', path, keep)
    return path


@pytest.fixture(scope='module')
def ts_files(tmp_path_factory):
    root = tmp_path_factory.mktemp('streams')
    return {name: _write(root, name) for name in FILES}


def _first_frame_shown(path):
    """The index the first decoded picture spells (0 unless cut), and its
    time (s)."""
    frames, start = decode_sequentially(path)
    return int(decode_frame_index(frames[0])), start


@pytest.mark.parametrize('name', list(FILES))
def test_every_index_is_its_picture(ts_files, name):
    path = ts_files[name]
    ref, start = decode_sequentially(path)
    shown = decode_frame_index(ref)
    first = int(shown[0])
    assert shown.tolist() == list(range(first, N))
    if FILES[name][2]:  # cut: the stream starts in the middle of a GOP
        assert first > 0 and first % FILES[name][1].get('keyint', 12) == 0
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
