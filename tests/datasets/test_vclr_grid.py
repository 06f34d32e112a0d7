"""VCLR's segments on the official 30 fps grid (issue #20, section 3).

VCLR's data is JPEG frames written by ``ffmpeg -filter:v fps=fps=30 -s
340x256``, exactly 300 per video (short videos repeat their last frame)
[CODE tools/data/k400/extract_frames.py]. The reference here is FFmpeg's
own ``fps`` filter, run in-process through PyAV's filter graph on the same
time-coded file and fed as the ``ffmpeg`` CLI feeds it (times from the
file's start, ``cfr`` output), so every claim is about decoded pixels: the
frames the config's pipeline decodes for segment s must be frames the
official extraction puts in segment s, at 25, 30 and 60 fps, in a
variable-frame-rate file, where the grid is laid on the frames' real times,
and where the video starts after its audio.
"""
import copy
import os.path as osp
from fractions import Fraction

import av
import numpy as np
import pytest
from mmengine.config import Config

import mmavcl.datasets  # noqa: F401
from mmavcl.datasets.media import decord_available, write_video
from mmavcl.datasets.transforms import SampleSegments
from mmavcl.registry import TRANSFORMS
from mmavcl.testing.media import (chirp, decode_frame_index, mp4_edit_list,
                                  set_mp4_edit_list, timestamp_frames,
                                  write_vfr_video)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', '_base_', 'datasets',
               'k400_vclr_segments.py')
BITS = 10            # frame codes up to 1023 (a 12 s 60 fps video: 720)
SLOTS, SEG = 300, 100
SAMPLES = 40

# (fps, seconds): K400-like 10 s clips, one longer (truncated at 10 s) and
# one shorter (padded) than the official 300 frames
VIDEOS = [(25, 10.0), (30, 10.0), (60, 10.0), (25, 12.0), (30, 4.0)]


BACKENDS = ['pyav', pytest.param('decord', marks=pytest.mark.skipif(
    not decord_available(), reason='decord is not installed'))]


def ffmpeg_fps30_codes(path: str) -> np.ndarray:
    """Codes of the frames ``-filter:v fps=fps=30`` writes for ``path``,
    first 300, short output padded with its last frame (the official
    extraction; see test_padding_repeats_the_last_frame for its quirk)."""
    codes = [int(decode_frame_index(f, bits=BITS))
             for f in ffmpeg_fps30_frames(path)[:SLOTS]]
    return np.array(codes + [codes[-1]] * (SLOTS - len(codes)))


def ffmpeg_fps30_frames(path: str) -> np.ndarray:
    """uint8 ``(S, H, W, 3)``: the frames ``ffmpeg -i path -filter:v
    fps=fps=30 %05d.jpg`` writes, in file order, RGB: FFmpeg's own ``fps``
    filter, fed as the CLI feeds it.

    * The CLI (without ``-copyts``) shifts every packet's timestamps by
      minus the input's start time, the earliest start of all its streams
      (``ts_offset`` in fftools' ``ffmpeg_demux.c``; ``-copyts``: "do not
      remove the initial start time offset value"), so the filter rounds
      the frames' times from the file's start, not from the first frame.
    * The image2 muxer has no ``AVFMT_VARIABLE_FPS``, so the default
      ``-fps_mode auto`` is ``cfr`` (``vscfr`` for a one-stream input),
      whose sync (``video_sync_process``) starts the output at 0 and
      repeats the first frame over the slots before it; ``vscfr`` starts
      at the first frame. The files are numbered from 1 in output order.
    """
    out = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        # AV_TIME_BASE us -> stream ticks, rounded as av_rescale_q does
        shift = round(Fraction(container.start_time or 0, 1000000) / tb)
        cfr = len(container.streams) > 1
        graph = av.filter.Graph()
        src = graph.add_buffer(template=stream)
        fps = graph.add('fps', 'fps=30')
        sink = graph.add('buffersink')
        src.link_to(fps)
        fps.link_to(sink)
        graph.configure()
        state = dict(next_pts=0, last=None)

        def emit(frame):
            # the CLI's cfr/vscfr sync for frames of duration 1 (fps=30's
            # output, in its 1/30 s time base)
            delta0 = frame.pts - state['next_pts']
            if not cfr and state['last'] is None and delta0 >= 0.5:
                state['next_pts'], delta0 = frame.pts, 0
            delta = delta0 + 1
            img = frame.to_ndarray(format='rgb24')
            copies, prev = 1, 0
            if delta < -1.1:
                copies = 0
            elif delta > 1.1:
                copies = int(np.rint(delta))
                prev = int(np.rint(delta0 - 0.6)) if delta0 > 1.1 else 0
            for i in range(copies):
                use_prev = i < prev and state['last'] is not None
                out.append(state['last'] if use_prev else img)
            state['next_pts'] += copies
            state['last'] = img

        def drain():
            while True:
                try:
                    emit(graph.pull())
                except (av.BlockingIOError, av.EOFError):
                    return

        for frame in container.decode(stream):
            frame.pts -= shift
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
    return np.stack(out)


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('vclr_grid')
    out = {}
    for fps, sec in VIDEOS:
        path = str(root / f'v{fps}_{sec:g}s.mp4')
        n = int(round(fps * sec))
        write_video(path, timestamp_frames(n, (64, 80), bits=BITS), fps=fps,
                    keyint=fps)
        out[(fps, sec)] = dict(path=path, n=n,
                               official=ffmpeg_fps30_codes(path))
    return out


def config_pipeline():
    """VideoInit -> SampleSegments -> DecodeVideoViews of the paper config,
    unshuffled so that tuple position t is segment t."""
    cfg = Config.fromfile(CFG)
    steps = []
    for t in copy.deepcopy(cfg.train_pipeline):
        if t['type'] == 'SampleSegments':
            t['shuffle_prob'] = 0.0
        if t['type'] in ('VideoInit', 'SampleSegments', 'DecodeVideoViews'):
            steps.append(TRANSFORMS.build(t))
    return steps


def run(steps, path):
    results = dict(filename=path)
    for t in steps:
        results = t(results)
    return results


def tuples(results):
    """Decoded codes of the query and key tuples, ``(K,)`` each."""
    codes = [int(decode_frame_index(img, bits=BITS)[0])
             for img in results['video_imgs']]
    roles = [v['role'] for v in results['video_views']]
    q = [c for c, r in zip(codes, roles) if r == 'query']
    k = [c for c, r in zip(codes, roles) if r == 'key']
    return np.array(q), np.array(k)


def test_grid_to_source_is_ffmpeg_fps_filter(videos):
    """Every one of the 300 slots decodes to the frame FFmpeg's fps=30
    filter writes there (25 fps: some slots repeat a frame; 60 fps: every
    other frame; short video: the last frame repeated)."""
    init = TRANSFORMS.build(dict(type='VideoInit', backend='pyav'))
    for (fps, sec), v in videos.items():
        res = init(dict(filename=v['path']))
        reader = res['video_reader']
        assert res['fps'] == pytest.approx(fps)
        inds = SampleSegments.grid_to_source(
            np.arange(SLOTS), res['fps'], 30, res['total_frames'])
        decoded = decode_frame_index(reader.get_batch(inds), bits=BITS)
        reader.close()
        np.testing.assert_array_equal(decoded, v['official'],
                                      err_msg=f'{fps} fps, {sec} s')


@pytest.mark.parametrize('fps,sec', VIDEOS, ids=lambda x: str(x))
def test_segments_decode_official_grid_frames(videos, fps, sec):
    v = videos[(fps, sec)]
    official = v['official']
    steps = config_pipeline()
    np.random.seed(0)
    seen = [set() for _ in range(3)]
    for _ in range(SAMPLES):
        res = run(steps, v['path'])
        # decoded at VCLR's 340x256 (W x H), whatever the source size
        assert all(img.shape == (1, 256, 340, 3)
                   for img in res['video_imgs'])
        q, k = tuples(res)
        for s in range(3):
            allowed = official[s * SEG:(s + 1) * SEG]
            assert q[s] in allowed and k[s] in allowed, (s, q, k)
            if q[s] == k[s]:
                # only where two official slots of the segment show the
                # same frame (25 fps, padding), never otherwise
                assert (allowed == q[s]).sum() >= 2, (s, q, k)
            seen[s].update((int(q[s]), int(k[s])))
    # the first 10 s are covered: the draws reach the grid's first and
    # last slots' frames, and nothing past slot 299 (12 s video)
    assert min(seen[0]) <= official[5]
    assert max(seen[2]) >= official[SLOTS - 6]
    assert max(seen[2]) <= official[-1]
    if sec >= 10:
        assert max(seen[2]) / fps > 9.6   # the old sampler: 5 s at 60 fps


@pytest.mark.parametrize('fps', [30, 60])
def test_no_query_key_duplicates_where_the_grid_has_none(videos, fps):
    """At 30 and 60 fps the grid's 300 slots are 300 distinct frames: the
    two tuples never share a frame. (On native indices a 10 s, 25 fps
    video clamped both draws of the last segment onto frame 249 in 24.7 %
    of samples.)"""
    v = videos[(fps, 10.0)]
    assert len(set(v['official'].tolist())) == SLOTS
    steps = config_pipeline()
    np.random.seed(1)
    for _ in range(SAMPLES):
        q, k = tuples(run(steps, v['path']))
        assert not set(q.tolist()) & set(k.tolist()), (q, k)


def test_25fps_duplicates_only_at_the_grids_repeats(videos):
    """25 fps, 10 s: the old native indices put 100 slots of segment 3 on
    frames 200..299 of a 250-frame video; on the grid, a shared frame
    between the tuples can only be one of the grid's repeated frames."""
    v = videos[(25, 10.0)]
    official = v['official']
    steps = config_pipeline()
    np.random.seed(2)
    shared = last = 0
    for _ in range(3 * SAMPLES):
        q, k = tuples(run(steps, v['path']))
        for s in range(3):
            if q[s] == k[s]:
                shared += 1
                seg = official[s * SEG:(s + 1) * SEG]
                assert (seg == q[s]).sum() == 2
        last += int(q[2] == v['n'] - 1) + int(k[2] == v['n'] - 1)
    # about 0.34 % of a segment's slot pairs share a frame on the grid
    # (old: 24.7 % of the last segment's); the last frame is 1 slot of 100
    # (old: half of the last segment's draws)
    assert shared <= 3
    assert last <= 0.05 * 2 * 3 * SAMPLES


def test_padding_repeats_the_last_frame(videos):
    """A 4 s, 30 fps video (120 frames): slots 120..299 show frame 119, so
    segment 3 is all last frame and segment 2 is the real frames 100..119
    or the last frame. (The official script copies frame L-1 over slots
    L..300, i.e. it repeats the second-to-last written frame; we repeat the
    last one, see configs/vclr/README.md.)"""
    v = videos[(30, 4.0)]
    assert v['official'][120:].tolist() == [119] * 180
    steps = config_pipeline()
    np.random.seed(3)
    for _ in range(SAMPLES):
        q, k = tuples(run(steps, v['path']))
        assert q[2] == k[2] == 119
        assert 100 <= q[1] <= 119 and 100 <= k[1] <= 119
        assert q[0] != k[0] and q[0] < 100 and k[0] < 100


# ------------------------------------------------------------------ VFR
@pytest.fixture(scope='module')
def vfr_videos(tmp_path_factory):
    """ext -> a file of 300 frames of 20, 33 or 50 ms (28.1 fps mean,
    10.7 s) and every frame FFmpeg's fps=30 filter makes of it (321)."""
    root = tmp_path_factory.mktemp('vclr_vfr')
    out = {}
    for ext in ('mp4', 'mkv'):
        path = str(root / f'vfr.{ext}')
        times = write_vfr_video(path, 300, (64, 80), bits=BITS)
        official = ffmpeg_fps30_frames(path)
        out[ext] = dict(path=path, times=times, official=official,
                        codes=decode_frame_index(official, bits=BITS))
    return out


@pytest.fixture
def vfr_video(vfr_videos):
    return vfr_videos['mp4']


@pytest.mark.parametrize('ext', ['mp4', 'mkv'])
@pytest.mark.parametrize('backend', BACKENDS)
def test_vfr_grid_is_ffmpeg_fps_filter(vfr_videos, backend, ext):
    """On a variable-frame-rate file every slot of the grid, laid on the
    reader's timetable, decodes to FFmpeg's fps=30 frame pixel for pixel
    (through the mean rate only 215 of the 321 slots did). MKV: the PyAV
    reader tells the rate varies from the packets it counts (its header's
    rates look constant)."""
    vfr_video = vfr_videos[ext]
    official = vfr_video['official']
    res = TRANSFORMS.build(dict(type='VideoInit', backend=backend))(
        dict(filename=vfr_video['path']))
    reader = res['video_reader']
    assert res['vfr']
    times = reader.frame_times()
    np.testing.assert_allclose(times, vfr_video['times'], atol=1e-6)
    slots = np.arange(len(official))
    inds = SampleSegments.grid_to_shown(slots, times, 30)
    frames = reader.get_batch(inds, by_order=True)
    reader.close()
    np.testing.assert_array_equal(
        decode_frame_index(frames, bits=BITS), vfr_video['codes'])
    np.testing.assert_array_equal(frames, official)
    # FFmpeg's rule by hand: the last frame whose time rounds (halves up)
    # to the slot or before it
    by_hand = [max(i for i, t in enumerate(vfr_video['times'])
                   if np.floor(t * 30 + 0.5 + 1e-9) <= j) for j in slots]
    np.testing.assert_array_equal(inds, by_hand)
    # the mean-rate mapping misses about a third of the slots
    mean_rate = SampleSegments.grid_to_source(slots, res['fps'], 30,
                                              res['total_frames'])
    assert (mean_rate != inds).sum() > 0.25 * len(slots)


@pytest.mark.parametrize('backend', BACKENDS)
def test_vfr_segments_decode_official_grid_frames(vfr_video, backend):
    """The paper config's pipeline on the VFR file: each tuple's item of
    segment s is one of the frames FFmpeg's extraction puts in segment s,
    decoded at the time the file shows it."""
    official = vfr_video['codes'][:SLOTS]
    steps = config_pipeline()
    steps[0] = TRANSFORMS.build(dict(type='VideoInit', backend=backend,
                                     decode_size=(340, 256)))
    np.random.seed(4)
    for _ in range(SAMPLES // 2):
        res = run(steps, vfr_video['path'])
        assert 'frames_by_order' not in res
        q, k = tuples(res)
        for s in range(3):
            allowed = official[s * SEG:(s + 1) * SEG]
            assert q[s] in allowed and k[s] in allowed, (s, q, k)
        for view in res['video_views']:
            # frame k's code is k: the views index the frames shown
            np.testing.assert_array_equal(official[view['grid_slots']],
                                          view['frame_inds'])
            np.testing.assert_allclose(
                view['frame_times'], vfr_video['times'][view['frame_inds']],
                atol=1e-6)


def test_constant_rate_files_keep_time_indices(videos):
    """A constant-rate file's grid stays the closed form on time indices:
    no timetable is read (PyAV would demux the whole stream for it, 0.9 ms
    of a 10.6 ms sample here) and the views' frames are those of
    ``grid_to_source``."""
    v = videos[(25, 10.0)]
    init, sampler = config_pipeline()[:2]
    res = sampler(init(dict(filename=v['path'])))
    assert not res['vfr'] and 'frames_by_order' not in res
    assert res['video_reader'].num_seeks == 0
    for view in res['video_views']:
        np.testing.assert_array_equal(view['frame_inds'],
                                      SampleSegments.grid_to_source(
                                          view['grid_slots'], 25, 30, 250))
    res['video_reader'].close()


@pytest.mark.parametrize('fps', [24, 25, 29.97, 30, 50, 60])
def test_grid_to_shown_on_even_times_is_the_closed_form(fps):
    """The timetable rule on frames ``i / fps`` apart is
    ``grid_to_source``, also where frames sit on slots' half-points."""
    n = int(round(12 * fps))
    slots = np.arange(400)
    np.testing.assert_array_equal(
        SampleSegments.grid_to_shown(slots, np.arange(n) / fps, 30),
        SampleSegments.grid_to_source(slots, fps, 30, n))


# ------------------------------------------ video starting after the file
LEADS = [0.02, 0.05]   # s from the file's (the audio's) start to the video's
LATE_SEC = 3.0


def late_cfr_video(path: str, fps: int, lead: float) -> str:
    """A constant-rate MP4 whose audio starts at 0 and whose video starts
    ``lead`` s later (an empty edit, as MP4s cut with the audio first
    have): the video is written one frame late, then its empty edit set to
    ``lead``."""
    n = int(round(fps * LATE_SEC))
    write_video(path, timestamp_frames(n, (64, 80), bits=BITS), fps=fps,
                keyint=fps, audio=chirp(LATE_SEC + 0.2, 16000),
                start_time=1 / fps, audio_delay=-1 / fps)
    empty, media = mp4_edit_list(path, 'vide')
    assert empty[1] == -1, empty
    return set_mp4_edit_list(path, [(lead, -1), media], 'vide')


@pytest.fixture(scope='module')
def late_videos(tmp_path_factory):
    """(kind, lead) -> a file whose video starts ``lead`` s after its
    audio, and the frames the FFmpeg CLI extracts from it; kind is the
    rate (25, 30, 60) or ``'vfr.mp4'`` / ``'vfr.mkv'`` (100 frames of 20,
    33 or 50 ms)."""
    root = tmp_path_factory.mktemp('vclr_late')
    out = {}
    for lead in LEADS:
        for fps in (25, 30, 60):
            path = late_cfr_video(str(root / f'late{fps}_{lead}.mp4'), fps,
                                  lead)
            out[(fps, lead)] = path
        for ext in ('mp4', 'mkv'):
            path = str(root / f'late_vfr_{lead}.{ext}')
            write_vfr_video(path, 100, (64, 80), bits=BITS,
                            audio=lambda d: chirp(d, 16000), start=lead)
            out[(f'vfr.{ext}', lead)] = path
    return {key: dict(path=path, official=ffmpeg_fps30_frames(path))
            for key, path in out.items()}


LATE = [(kind, lead) for lead in LEADS
        for kind in (25, 30, 60, 'vfr.mp4', 'vfr.mkv')]


@pytest.mark.parametrize('kind,lead', LATE, ids=str)
@pytest.mark.parametrize('backend', BACKENDS)
def test_late_video_grid_is_ffmpeg_cli(late_videos, backend, kind, lead):
    """A video starting ``lead`` s after its file (the audio first): every
    slot of the grid decodes to the frame the FFmpeg CLI writes there,
    which rounds the frames' times from the file's start and starts its
    output at the file's start, the first frame repeated before it. The
    grid on times from the first frame (the sampler before) put most slots
    on a neighbouring frame."""
    v = late_videos[(kind, lead)]
    official = v['official']
    codes = decode_frame_index(official, bits=BITS)
    res = TRANSFORMS.build(dict(type='VideoInit', backend=backend))(
        dict(filename=v['path']))
    reader = res['video_reader']
    assert res['vfr'] == isinstance(kind, str)
    with av.open(v['path']) as container:
        assert container.start_time == 0
    assert res['video_start_time'] == pytest.approx(lead, abs=1e-3)
    assert reader.file_start_time == 0.0
    assert reader.start_lead == pytest.approx(lead, abs=1e-3)
    sampler = SampleSegments(grid_fps=30, num_frames=len(official))
    slots = np.arange(len(official))
    inds = sampler.grid_frames(res, slots)
    frames = reader.get_batch(inds, by_order=res['vfr'])
    reader.close()
    np.testing.assert_array_equal(decode_frame_index(frames, bits=BITS),
                                  codes)
    np.testing.assert_array_equal(frames, official)
    # the filter's first frame fills the slots before the video's (frame
    # 1 at 60 fps, where frames 0 and 1 round to one slot)
    first = int(np.floor(lead * 30 + 0.5))
    assert first >= 1 and (codes[:first + 1] == codes[first]).all()
    assert codes[first] == (1 if kind == 60 else 0)
    # times from the first frame: off by one or two frames on most slots
    before = (SampleSegments.grid_to_shown(
        slots, reader.frame_times(), 30) if res['vfr'] else
        SampleSegments.grid_to_source(slots, res['fps'], 30,
                                      res['total_frames']))
    assert (before != codes).mean() > 0.3


@pytest.mark.parametrize('kind', [25, 'vfr.mp4'], ids=str)
def test_late_video_segments_decode_official_grid_frames(late_videos, kind):
    """The paper config's pipeline on a late video: each view's frames are
    the official frames of its grid slots."""
    v = late_videos[(kind, 0.05)]
    codes = decode_frame_index(v['official'], bits=BITS)
    steps = config_pipeline()
    np.random.seed(5)
    for _ in range(SAMPLES // 4):
        res = run(steps, v['path'])
        for view, img in zip(res['video_views'], res['video_imgs']):
            slot = view['grid_slots'][0]
            assert decode_frame_index(img, bits=BITS)[0] == \
                codes[min(slot, len(codes) - 1)], view
