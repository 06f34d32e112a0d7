"""View samplers: counts, shapes and labels checked against hand-computed
values (no decoding needed: samplers only read total_frames and fps)."""
import itertools

import numpy as np
import pytest

from mmavcl.datasets.transforms import (ORDER_AFTER, ORDER_BEFORE,
                                        ORDER_OVERLAP, SampleAudioClips,
                                        SampleClips, SampleGlobalLocal,
                                        SampleSegments, SampleTemporalPairs,
                                        temporal_relation)

FPS = 25.0


def _res(total=100, fps=FPS):
    return dict(total_frames=total, fps=fps, filename='x.mp4')


@pytest.mark.parametrize('mode', ['random', 'uniform', 'linspace', 'fixed'])
def test_sample_clips_shapes(mode):
    np.random.seed(0)
    out = SampleClips(
        clip_len=8, frame_interval=2, num_clips=3, mode=mode, audio=True,
        start_frame=5)(_res())
    views = out['video_views']
    assert len(views) == 3 and len(out['audio_views']) == 3
    for i, v in enumerate(views):
        assert v['frame_inds'].dtype == np.int64
        assert v['frame_inds'].shape == (8, )
        assert np.all(np.diff(v['frame_inds']) == 2)
        s = v['frame_inds'][0]
        assert v['time_span'] == pytest.approx((s / FPS, (s + 16) / FPS))
        assert v['view_type'] == 'clip' and v['clip_index'] == i
        assert out['audio_views'][i]['time_span'] == v['time_span']
        assert out['audio_views'][i]['video_view'] == i
    starts = [int(v['frame_inds'][0]) for v in views]
    if mode == 'uniform':  # MMAction2 test sampling, by hand: avg = 85/3
        assert starts == [int(85 / 3 * k + 85 / 6) for k in range(3)]
    if mode == 'linspace':
        assert starts == [0, 42, 84]
    if mode == 'fixed':
        assert starts == [5, 5, 5]


def test_retrieval_protocol_centres():
    """Xu et al.: 10 clips of 16 frames centred at linspace(8, L-8, 10)."""
    total = 150
    out = SampleClips(clip_len=16, num_clips=10, mode='linspace')(
        _res(total))
    centres = [v['frame_inds'][0] + 8 for v in out['video_views']]
    np.testing.assert_allclose(
        centres, np.linspace(8, total - 8, 10), atol=0.5)


def test_short_video_clamps_and_keeps_nominal_span():
    out = SampleClips(clip_len=8, frame_interval=2, mode='random')(_res(10))
    v = out['video_views'][0]
    assert v['frame_inds'].tolist() == [0, 2, 4, 6, 8, 9, 9, 9]
    assert v['time_span'] == pytest.approx((0, 16 / FPS))
    out = SampleClips(
        clip_len=8, frame_interval=2, out_of_bound='loop')(_res(10))
    assert out['video_views'][0]['frame_inds'].tolist() == [
        0, 2, 4, 6, 8, 0, 2, 4
    ]


def test_segments_vclr():
    np.random.seed(0)
    k = 3
    sampler = SampleSegments(num_segments=k, num_frames=300)
    counts = np.zeros(4, int)
    identity, reverse = (0, 1, 2), (2, 1, 0)
    for _ in range(200):
        out = sampler(_res(total=250))
        views = out['video_views']
        assert len(views) == 3 * k + 1
        roles = [v['role'] for v in views]
        assert roles == (['anchor', 'anchor_pos'] + ['intra_pos'] * 2 +
                         ['query'] * 3 + ['key'] * 3)
        lab = out['pretext_labels']
        assert lab['order'] == lab['order_q'] + 2 * lab['order_k']
        counts[lab['order']] += 1
        q, kk = views[4:7], views[7:10]
        for tup, flag in ((q, lab['order_q']), (kk, lab['order_k'])):
            perm = tuple(v['segment'] for v in tup)
            assert sorted(perm) == [0, 1, 2]
            if flag:
                assert perm not in (identity, reverse)
            else:
                assert perm == identity
            for v in tup:  # each item lies in its segment of 300 frames
                lo, hi = v['segment'] * 100, (v['segment'] + 1) * 100
                nominal = v['time_span'][0] * FPS
                assert lo <= nominal < hi
                # frames past the real 250 repeat the last one (VCLR)
                assert v['frame_inds'][0] == min(round(nominal), 249)
                assert v['view_type'] == 'frame'
        # query and key draw distinct frames of each segment
        qs = {v['segment']: v['time_span'][0] for v in q}
        ks = {v['segment']: v['time_span'][0] for v in kk}
        assert all(qs[s] != ks[s] for s in range(3))
        # anchor and anchor_pos are the same query item of segment 0 or 2
        a, ap = views[0], views[1]
        assert a['segment'] == ap['segment'] == lab['anchor_segment']
        assert a['segment'] in (0, 2)
        assert a['time_span'] == ap['time_span']
        assert a['time_span'][0] == qs[a['segment']]
        assert {v['segment'] for v in views[2:4]} == {0, 1, 2} - {
            a['segment']
        }
    assert counts.min() > 25  # all four classes occur (~50 each)


def test_segments_clips_and_errors():
    out = SampleSegments(num_segments=4, clip_len=4, anchor_views=False)(
        _res(total=200))
    assert len(out['video_views']) == 8
    for v in out['video_views']:
        assert v['frame_inds'].shape == (4, )
        assert v['view_type'] == 'segment'
    with pytest.raises(ValueError, match='>= 3'):
        SampleSegments(num_segments=2)


def test_global_local_overlap_and_order():
    np.random.seed(0)
    sampler = SampleGlobalLocal(
        global_len=8,
        num_local=3,
        local_len=4,
        local_interval=(1, 2),
        local_overlap=(0.25, 0.5),
        shuffle_local=True,
        num_bins=4)
    perms = list(itertools.permutations(range(3)))
    for _ in range(50):
        out = sampler(_res(total=200))
        g, *locs = out['video_views']
        assert g['view_type'] == 'global' and g['frame_inds'].shape == (8, )
        assert g['time_span'] == pytest.approx((0, 200 / FPS))
        # global frames: one per eighth of the video, at its centre
        np.testing.assert_array_equal(g['frame_inds'],
                                      np.floor(np.arange(8) * 25 + 12.5))
        assert [v['view_type'] for v in locs] == ['local'] * 3
        order = tuple(v['local_index'] for v in locs)
        assert perms.index(order) == out['pretext_labels']['lg_order']
        by_time = sorted(locs, key=lambda v: v['local_index'])
        for a, b in zip(by_time, by_time[1:]):
            (a0, a1), (b0, _) = a['time_span'], b['time_span']
            ov = (a1 - b0) / (a1 - a0)
            assert 0.25 - 0.13 <= ov <= 0.5 + 0.13  # rounding to frames
            assert b0 > a0
        c = np.mean(by_time[0]['time_span']) * FPS
        assert out['pretext_labels']['lg_bin'] == min(int(c / 50), 3)


def test_global_local_window():
    np.random.seed(1)
    out = SampleGlobalLocal(
        global_len=4, global_span=(0.5, 0.5), num_local=2, local_len=4,
        audio=True)(_res(total=100))
    g, l1, l2 = out['video_views']
    t0, t1 = g['time_span']
    assert (t1 - t0) * FPS == pytest.approx(50)
    for v in (l1, l2):
        assert t0 <= v['time_span'][0] and v['time_span'][1] <= t1 + 1e-9
    assert len(out['audio_views']) == 3
    assert 'lg_order' not in out['pretext_labels']


def test_temporal_relation():
    assert temporal_relation((0, 1), (1, 2)) == ORDER_BEFORE
    assert temporal_relation((2, 3), (0, 1)) == ORDER_AFTER
    assert temporal_relation((0, 2), (1, 3)) == ORDER_OVERLAP


def test_temporal_pairs():
    np.random.seed(0)
    speeds = (1, 2, 4, 8)
    sampler = SampleTemporalPairs(clip_len=4, speeds=speeds)
    seen = set()
    for _ in range(300):
        out = sampler(_res(total=200))
        lab = out['pretext_labels']
        v0, v1 = out['video_views']
        a0, a1 = out['audio_views']
        for i, v in enumerate((v0, v1)):
            step = speeds[lab[f'speed_v{i}']]
            assert v['speed'] == step
            d = np.diff(v['frame_inds'])
            rev = lab[f'direction_v{i}'] == 1
            assert v['reversed'] == rev
            assert np.all(d == (-step if rev else step))
            span = v['time_span']
            assert (span[1] - span[0]) * FPS == pytest.approx(4 * step)
        # audio 'same': the speed and direction of its clip; audio 0
        # follows clip 0, audio 1 is a clip of its own of clip 1's length
        for a, v in ((a0, v0), (a1, v1)):
            assert (a['speed'], a['reversed']) == (v['speed'],
                                                   v['reversed'])
        assert a0['time_span'] == pytest.approx(v0['time_span'])
        assert a0['video_view'] == 0 and a1['video_view'] == -1
        assert np.diff(a1['time_span']) == pytest.approx(
            np.diff(v1['time_span']))

        def rel(x, y):  # independent re-derivation from spans
            (x0, x1), (y0, y1) = x['time_span'], y['time_span']
            return 0 if x1 <= y0 + 1e-9 else 1 if y1 <= x0 + 1e-9 else 2

        assert lab['order_vv'] == rel(v0, v1)
        assert lab['order_aa'] == rel(a0, a1)
        assert lab['order_va'] == rel(v1, a1)
        assert lab['order_av'] == rel(a0, v1)
        seen.add((lab['order_vv'], lab['order_aa'], lab['order_va']))
    # the inter-modal label is its own variable: all 19 combinations that
    # three intervals can show occur (3 spans of <= 32 frames fit in 200)
    assert len(seen) == 19


def test_temporal_pairs_independent_audio():
    np.random.seed(2)
    out = SampleTemporalPairs(
        clip_len=4, speeds=(1, 2), audio_transform='independent')(_res())
    for i, (a, v) in enumerate(zip(out['audio_views'],
                                   out['video_views'])):
        if i == 0:  # audio 0 starts with clip 0; audio 1 is placed alone
            assert a['time_span'][0] == v['time_span'][0]
        k = out['pretext_labels'][f'speed_a{i}']
        assert (a['time_span'][1] - a['time_span'][0]) * FPS == \
            pytest.approx(4 * (1, 2)[k])


def test_audio_clips():
    out = SampleAudioClips(clip_duration=2.0, num_clips=4,
                           mode='linspace')(dict(audio_duration=5.0))
    spans = np.array([a['time_span'] for a in out['audio_views']])
    np.testing.assert_allclose(spans, [(0, 2), (1, 3), (2, 4), (3, 5)])
    assert out['video_views'] == []
