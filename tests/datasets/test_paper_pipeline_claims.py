"""The data claims of VCLR, GLCL and CtrlAug, measured on decoded frames.

The paper pretraining configs' own train pipelines (full-frame crops, no
flips and 80 px frames, as the band code of the frames survives resizing
but not crops or flips) run on K400-like 10 s files written here: 24, 30
and 60 fps, a variable-frame-rate file, and a 30 fps file whose audio
starts 0.5 s after its video (and, for CtrlAug's regression, a 40-frame
file). GLCL's frames are also read where they enter its two pathways,
after the data preprocessor. Every frame spells its index
(``timestamp_frames``), the written presentation times turn indices into
seconds, and every assertion is about those seconds, never about the
indices or labels' bookkeeping alone: the labels are checked against the
decoded times.

Claims measured elsewhere: the audio of GLCL's clip and AVTSS's spans,
speeds, directions and order labels (``test_audio_follows_views.py``);
VCLR's grid against FFmpeg's ``fps=30`` filter at 25, 30 and 60 fps
(``test_vclr_grid.py``).
"""
import functools
import itertools
import os.path as osp

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config

import mmavcl.datasets  # noqa: F401  (registers the transforms)
import mmavcl.models  # noqa: F401  (registers the modules)
from mmavcl.datasets import av_collate
from mmavcl.datasets.video_dataset import build_pipeline
from mmavcl.registry import MODELS
from mmavcl.testing import (chirp, decode_frame_index, timestamp_frames,
                            write_vfr_video, write_video)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BITS = 10            # frame codes up to 1023 (10 s at 60 fps: 600)
SIZE = (80, 80)
SECONDS = 10.0       # a K400 clip
SR = 16000
#: VCLR's timeline: 300 slots of a 30 fps grid, 3 segments of 100 slots
GRID_FPS, SLOTS, SEGMENTS = 30.0, 300, 3

#: name -> (fps, write_video options); 'vfr' is written apart
CFR = {
    'fps24': (24.0, {}),
    'fps30': (30.0, {}),
    'fps60': (60.0, {}),
    'late_audio': (30.0, dict(audio_delay=0.5)),
}
FILES = list(CFR) + ['vfr']

CONFIGS = {
    'vclr_tsn': 'configs/vclr/vclr_tsn-r50_8xb32-1x1x10-400e_k400.py',
    # the R3D-50 config and configs/vclr_r3d_k400.py inherit this pipeline
    'vclr_r3d': 'configs/vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py',
    'glcl': 'configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py',
    'ctrlaug': 'configs/ctrlaug/ctrlaug_r3d-18_8xb32-16x1x4-200e_k400.py',
}


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """name -> dict(path, fps (None: variable), times: written presentation
    time (s) of every frame, gap: the longest time between frames)."""
    root = tmp_path_factory.mktemp('paper_pipeline_claims')
    out = {}
    for name, (fps, opts) in CFR.items():
        path = str(root / f'{name}.mp4')
        n = int(round(SECONDS * fps))
        delay = opts.get('audio_delay', 0.0)
        write_video(path, timestamp_frames(n, SIZE, BITS), fps=fps,
                    audio=chirp(SECONDS - delay, SR), sample_rate=SR,
                    keyint=int(fps), **opts)
        out[name] = dict(path=path, fps=fps, times=np.arange(n) / fps,
                         gap=1 / fps)
    # CtrlAug's regression file: 16 global parts of 2.5 frames
    path = str(root / 'short.mp4')
    write_video(path, timestamp_frames(40, SIZE, BITS), fps=24.0)
    out['short'] = dict(path=path, fps=24.0, times=np.arange(40) / 24,
                        gap=1 / 24)
    path = str(root / 'vfr.mp4')
    times = write_vfr_video(path, 300, SIZE, BITS,
                            audio=lambda d: chirp(d, SR), sample_rate=SR)
    out['vfr'] = dict(path=path, fps=None, times=times,
                      gap=float(np.diff(times).max()))
    return out


@functools.lru_cache(maxsize=None)
def config(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, CONFIGS[name]))


@functools.lru_cache(maxsize=None)
def pipeline(name: str) -> Compose:
    """The config's train pipeline, built once: frames decoded at 80 px,
    crops full-frame at 80 px, flips off."""
    steps = []
    for t in config(name).train_dataloader.dataset.pipeline:
        t = dict(t)
        if t['type'] == 'VideoInit':
            if t.get('decode_size'):
                t['decode_size'] = SIZE[::-1]
            else:
                t['decode_short_side'] = SIZE[0]
        elif t['type'] == 'RandomResizedCropViews':
            t.update(size=SIZE[0], scale=(1.0, 1.0), ratio=(1.0, 1.0))
        elif t['type'] == 'CenterCropViews':
            t.update(size=SIZE[0])
        elif t['type'] == 'FlipViews':
            t.update(flip_prob=0.0)
        steps.append(t)
    return Compose(build_pipeline(steps))


def run(name: str, info: dict, seed: int, packed: bool = False):
    """``(decoded frame times per video view (s, playback order), data
    sample)``, and the packed sample with ``packed``."""
    np.random.seed(seed)
    out = pipeline(name)(dict(filename=info['path'], label=-1,
                              sample_idx=0))
    times = [info['times'][decode_frame_index(v.numpy(), BITS,
                                              channel_last=False)]
             for v in out['inputs']['video']]
    if packed:
        return times, out['data_samples'], out
    return times, out['data_samples']


def time_ranks(first_times) -> tuple:
    """Rank in time of each item, in the order given (ties refused: two
    items starting on one frame have no order)."""
    t = np.asarray(first_times)
    assert len(set(t.tolist())) == len(t), f'items share a start: {t}'
    return tuple(int(r) for r in np.argsort(np.argsort(t)))


# ---------------------------------------------------------------- VCLR
@pytest.mark.parametrize('file', FILES)
@pytest.mark.parametrize('name', ['vclr_tsn', 'vclr_r3d'])
def test_vclr_segments_order_and_anchor(media, name, file):
    """VCLR (METHODS.md s1): the query and the key tuple each take one item
    from each of the 3 segments of the first 10 s (30 fps grid, 300
    slots), drawn apart within a segment; a set order flag is a
    permutation of the decoded times that is neither identity nor
    reversal, unset keeps time order, ``order = s_q + 2 s_k``; a+ shows
    T_q[query_index_anchor], the first or last in time, and p2, p3 the
    other two in time order. R3D variant: an item is 8 frames 2 slots
    (1/15 s) apart inside its segment."""
    info = media[file]
    gap = info['gap']
    cfr = info['fps'] is not None
    seg = SLOTS / SEGMENTS / GRID_FPS      # seconds per segment (3.33)
    clip_len = 1 if name == 'vclr_tsn' else 8
    shared = 0
    for seed in range(6):
        times, sample = run(name, info, seed)
        roles = [v['role'] for v in sample.view_meta]
        assert roles == ['anchor_pos'] + ['query'] * 3 + ['key'] * 3
        lab = sample.pretext_labels
        for t in times:
            assert len(t) == clip_len
            if clip_len == 1:
                continue
            # 2 slots apart: within a source frame; in the VFR file the
            # frames shown at those times (a long frame can fill two)
            d = np.diff(t)
            if cfr:
                assert np.all(np.abs(d - 2 / GRID_FPS) <= gap + 1e-6), d
            else:
                assert np.all(d >= 0) and abs(
                    t[-1] - t[0] - 14 / GRID_FPS) <= 2 * gap, t
        tuples = dict(query=times[1:4], key=times[4:7])
        firsts = {}
        for role, items in tuples.items():
            starts = [t[0] for t in items]
            ranks = time_ranks(starts)
            flag = lab[f'order_{"q" if role == "query" else "k"}']
            if flag:
                assert ranks not in ((0, 1, 2), (2, 1, 0)), (role, ranks)
            else:
                assert ranks == (0, 1, 2), (role, ranks)
            # the k-th item in time lies in segment k: the grid slot the
            # frame shows is at most one source frame after it
            by_time = sorted(items, key=lambda t: t[0])
            for k, t in enumerate(by_time):
                assert k * seg - gap < t.min() and t.max() < (
                    k + 1) * seg + (0 if cfr else gap), (role, k, t)
            firsts[role] = [t[0] for t in by_time]
        assert lab['order'] == lab['order_q'] + 2 * lab['order_k']
        # query and key are two draws per segment (one frame only where
        # the grid repeats a frame: sources under 30 fps)
        same = sum(q == k for q, k in zip(firsts['query'], firsts['key']))
        if cfr and info['fps'] >= GRID_FPS:
            assert same == 0, firsts
        shared += same
        # a, p2, p3 are the query items; a+ shows a's frames
        t_q = tuples['query']
        a = t_q[lab['query_index_anchor']]
        np.testing.assert_array_equal(times[0], a)
        assert a[0] in (min(firsts['query']), max(firsts['query']))
        p2, p3 = t_q[lab['query_index_p2']], t_q[lab['query_index_p3']]
        assert sorted([a[0], p2[0], p3[0]]) == firsts['query']
        assert p2[0] < p3[0]
    assert shared <= 2


# ---------------------------------------------------------------- GLCL
@pytest.mark.parametrize('file', FILES)
def test_glcl_clip_is_the_first_32_frames(media, file):
    """GLCL (METHODS.md s2, [CODE dataset.py]): one clip of 32 consecutive
    frames from the first frame, no jitter, at any rate; in the VFR file
    the frames shown at 0, 1/fps, ... 31/fps of its mean rate. (The
    audio of the clip's span and each frame's audio bag are measured in
    test_audio_follows_views.py.)"""
    info = media[file]
    for seed in range(2):  # no randomness: the same clip every time
        (t, ), sample = run('glcl', info, seed)
        if info['fps'] is not None:
            np.testing.assert_allclose(t, np.arange(32) / info['fps'])
            continue
        fps = sample.fps
        assert t[0] == 0 and np.all(np.diff(t) >= 0)
        nominal = np.arange(32) / fps
        assert np.all(np.abs(t - nominal) <= info['gap']), t - nominal


class _Stop(Exception):
    """Ends a forward pass once the slow pathway's input is recorded."""


@functools.lru_cache(maxsize=None)
def glcl_model():
    """The paper config's data preprocessor and two-pathway backbone."""
    model = config('glcl').model
    return (MODELS.build(model.data_preprocessor),
            MODELS.build(model.backbone).eval())


def test_glcl_pathways_see_the_whole_clip(media):
    """GLCL's global (slow) pathway sees every 8th frame of the clip, the
    first at 0, the last 24 frames on; the local (fast) pathway all 32,
    after the config's data preprocessor: what reaches each pathway,
    un-normalised and read from its bands. (The slicing does not depend
    on the file: one rate.)"""
    info = media['fps24']
    (t, ), _, out = run('glcl', info, 0, packed=True)
    pre, backbone = glcl_model()
    data = pre(av_collate([out]), training=True)
    seen = {}

    def record(name):
        def hook(module, args):
            seen[name] = args[0]
            if name == 'slow':
                raise _Stop
        return hook

    hooks = [backbone.fast_path.register_forward_pre_hook(record('fast')),
             backbone.slow_path.register_forward_pre_hook(record('slow'))]
    try:
        with torch.no_grad(), pytest.raises(_Stop):
            backbone(data['inputs']['video'][0])
    finally:
        for h in hooks:
            h.remove()
    for name, want in (('fast', t), ('slow', t[::8])):
        x = (seen[name][0] * pre.std + pre.mean).numpy()  # (C, T, H, W)
        got = info['times'][decode_frame_index(x, BITS, channel_last=False)]
        np.testing.assert_array_equal(got, want)
    assert len(t) == 32


# ------------------------------------------------------------- CtrlAug
@pytest.mark.parametrize('file', FILES + ['short'])
def test_ctrlaug_global_local_and_order(media, file):
    """CtrlAug (METHODS.md s3, RECON): the global view is 16 frames, one in
    each sixteenth of the whole video, in time order; each local clip is
    16 consecutive frames 1 or 2 apart (one interval per sample), inside
    the global view's window; ``lg_order`` indexes the permutation that
    the emitted clips' decoded start times show (no two clips start on
    one frame: their order would be a coin flip), and ``lg_bin`` is the
    quarter of the window holding the first clip's centre.

    'short' (40 frames, 24 fps) has sixteenths of 2.5 frames and little
    room for the clips: before the fix, the global view took one frame for
    two parts in about half of its samples (0.8 % at 300 frames) and two
    clips shared a start in about a fifth (1 % at 300 frames)."""
    info = media[file]
    gap, cfr = info['gap'], info['fps'] is not None
    perms = list(itertools.permutations(range(3)))
    intervals = set()
    for seed in range(8):
        times, sample = run('ctrlaug', info, seed)
        meta = sample.view_meta
        assert [v['view_type'] for v in meta] == ['global'] + ['local'] * 3
        g, locs = times[0], times[1:]
        duration = sample.total_frames / sample.fps
        w0, w1 = meta[0]['time_span']
        assert (w0, w1) == pytest.approx((0.0, duration))
        # one frame in each sixteenth (in the VFR file: within a frame of
        # it, frames being picked by time)
        parts = np.linspace(0.0, duration, 17)
        tol = 1e-9 if cfr else gap
        assert len(g) == 16 and np.all(np.diff(g) > 0), g
        assert np.all(g >= parts[:-1] - tol) and np.all(g < parts[1:] + tol)
        steps = set()
        for t in locs:
            assert len(t) == 16
            d = np.diff(t)
            assert np.all(d > 0 if cfr else d >= 0)
            if cfr:
                step = set(np.round(d * info['fps']).astype(int).tolist())
                assert len(step) == 1 and step <= {1, 2}, step
                steps |= step
            assert w0 - gap < t[0] and t[-1] < w1 + gap
        assert len(steps) <= 1
        intervals |= steps
        ranks = time_ranks([t[0] for t in locs])
        assert ranks == perms[sample.pretext_labels['lg_order']], ranks
        first = locs[ranks.index(0)]
        period = np.median(np.diff(first))
        centre = (first[0] + first[-1] + period) / 2
        bins = {int(np.clip((c - w0) / (w1 - w0) * 4, 0, 3))
                for c in (centre - gap, centre + gap)}
        assert sample.pretext_labels['lg_bin'] in bins, (centre, bins)
    if cfr:
        assert intervals == {1, 2}
