"""Every view's audio covers its video view's real span (issue #20 s1, s4).

Real encoded files made here (H.264 + AAC, 64x64): 24, 25, 29.97, 30 and
60 fps, a variable-frame-rate file, a file whose clock starts at 1.6 s, one
whose audio starts 0.5 s after its video, and one whose audio is shorter
than its video. The shipped K400 train pipelines of GLCL, AVTSS, VCLR,
CtrlAug and the baselines (MoCo/SimCLR video-only, the two-clip AV base,
the AVC baseline) are loaded from the configs and run on them; only crops
(full frame), flips (off) and data paths are overridden, as the band code
of the frames survives resizing but not crops or flips.

Everything is asserted from decoded content, never from what the sampler
wrote:

* frames spell their index (``timestamp_frames``); the file's written
  presentation times turn indices into seconds, so a view's video span is
  ``[first frame, last frame + one frame step)`` of what was decoded;
* the audio is a sawtooth chirp in the audio's own clock: frequency
  ``F_LO + RATE * (t mod PERIOD)``. Played at speed s it sounds s times
  higher, so each window of a decoded audio view tells the source time it
  came from; a line through those times gives the audio view's start, end,
  speed and direction (:func:`audio_axis`);
* AVTSS's order labels must be the relations of those measured spans;
* GLCL's per-frame audio bags: each frame's audio plays one of four tones
  (frame index mod 4), and the middle one of the three log-mel steps of
  frame t's bag must show frame t's tone.
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
from mmavcl.datasets.transforms import temporal_relation
from mmavcl.datasets.video_dataset import build_pipeline
from mmavcl.registry import MODELS
from mmavcl.testing import (decode_chirp_time, decode_frame_index,
                            timestamp_frames, write_vfr_video, write_video)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SR = 16000
SIZE = (64, 64)
F_LO, RATE, PERIOD = 200.0, 350.0, 2.0   # sawtooth chirp: 200 -> 900 Hz
TONES = (500.0, 1000.0, 2000.0, 4000.0)  # GLCL files: frame index mod 4


# ----------------------------------------------------------------- media
def sawtooth_chirp(duration: float) -> np.ndarray:
    """float32 ``(L,)``; frequency ``F_LO + RATE * (t mod PERIOD)``, phase
    continuous. The highest frequency, 900 Hz, stays below 16 kHz audio's
    anti-alias cut-off even played 8x faster (7.2 kHz)."""
    t = np.arange(int(round(duration * SR))) / SR
    f = F_LO + RATE * np.mod(t, PERIOD)
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)


def frame_tones(times: np.ndarray, duration: float) -> np.ndarray:
    """float32 ``(L,)``: during frame k (from ``times[k]`` to the next
    frame) a tone of ``TONES[k % 4]``."""
    t = np.arange(int(round(duration * SR))) / SR
    k = np.searchsorted(times, t, side='right') - 1
    f = np.asarray(TONES)[np.maximum(k, 0) % 4]
    return (0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR)).astype(np.float32)


#: name -> (fps, frames, write_video options, audio seconds or None)
CFR = {
    'fps24': (24.0, 144, {}, None),
    'fps25': (25.0, 150, {}, None),
    'fps29.97': (30000 / 1001, 180, {}, None),
    'fps30': (30.0, 180, {}, None),
    'fps60': (60.0, 255, {}, None),
    'late_start': (25.0, 150, dict(start_time=1.6), None),
    'late_audio': (30.0, 180, dict(audio_delay=0.5), None),
    'short_audio': (25.0, 150, {}, 3.0),
}
FILES = list(CFR) + ['vfr']


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """name -> dict(path, fps, times: written presentation time (s from
    the first frame) of every frame, delay: the audio's start (s) on that
    clock). Written once per module."""
    root = str(tmp_path_factory.mktemp('audio_follows_views'))
    out = {}
    for name, (fps, n, opts, adur) in CFR.items():
        path = osp.join(root, f'{name}.mp4')
        delay = opts.get('audio_delay', 0.0)
        wave = sawtooth_chirp(adur if adur else n / fps - delay)
        write_video(path, timestamp_frames(n, SIZE), fps=fps, audio=wave,
                    sample_rate=SR, **opts)
        out[name] = dict(path=path, fps=fps, times=np.arange(n) / fps,
                         delay=delay, audio_end=delay + len(wave) / SR)
    path = osp.join(root, 'vfr.mp4')
    times = write_vfr_video(path, 170, SIZE, audio=sawtooth_chirp)
    out['vfr'] = dict(path=path, fps=None, times=times, delay=0.0,
                      audio_end=float('inf'))
    for fps in (24.0, 25.0, 30.0, 60.0):  # GLCL's per-frame bags
        # PCM: AAC smears its first ~20 ms, a frame or more at 60 fps
        path = osp.join(root, f'tones{fps:g}.mkv')
        times = np.arange(40) / fps
        write_video(path, timestamp_frames(40, SIZE), fps=fps,
                    audio=frame_tones(times, 40 / fps), sample_rate=SR,
                    audio_codec='pcm_s16le')
        out[f'tones{fps:g}'] = dict(path=path, fps=fps, times=times,
                                    delay=0.0)
    # the same on a VFR file (frames of 20, 33 and 50 ms); written twice,
    # as the tones need the frames' times (seeded, so the same times)
    path = osp.join(root, 'tones_vfr.mkv')
    times = write_vfr_video(path, 48, SIZE)
    write_vfr_video(path, 48, SIZE, audio=lambda d: frame_tones(times, d),
                    audio_codec='pcm_s16le')
    out['tones_vfr'] = dict(path=path, fps=None, times=times, delay=0.0)
    return out


# ----------------------------------------------------------- measuring
def audio_axis(wav: np.ndarray, t_ref: float, delay: float,
               speeds=(1, 2, 4, 8)):
    """Measure an audio view from its chirp content.

    Each window's frequency gives a source time modulo ``PERIOD`` for a
    hypothesised speed and direction; times are unwrapped next to
    ``t_ref`` (the expected start: off by less than PERIOD / 2 = 1 s,
    which the old fixed durations were) and a line is fitted through
    them. The one hypothesis whose line has its own slope (speed) and a
    small residual is the answer.

    Returns:
        ``(speed, reversed, t0, t1)``: source span in the video's clock;
        ``None`` when under 0.25 s of it sounds (a view mostly past the
        end of short audio, or before late audio starts).
    """
    found = []
    for rev, s in itertools.product((False, True), speeds):
        x = wav[::-1] if rev else wav
        w = int(0.1 * SR / s)  # 100 ms of source per window
        cs, ts = [], []
        for lo in range(0, len(x) - w + 1, w // 2):
            win = x[lo:lo + w]
            if min(np.sqrt(np.mean(q**2))
                   for q in np.array_split(win, 4)) < 0.25:
                continue  # (partly) padding: late or short audio
            f = decode_chirp_time(win, SR, f0=0.0, rate=1.0) / s
            c = (lo + w / 2) / SR
            pred = t_ref - delay + s * c
            t = pred + np.mod((f - F_LO) / RATE - pred + PERIOD / 2,
                              PERIOD) - PERIOD / 2
            cs.append(c)
            ts.append(t)
        if len(cs) < 3:
            continue
        cs, ts = np.array(cs), np.array(ts)
        err = ts - (t_ref - delay + s * cs)
        ok = np.abs(err - np.median(err)) < 0.008  # windows across a reset
        if ok.sum() < max(3, 0.6 * len(ok)):
            continue
        b, a = np.polyfit(cs[ok], ts[ok], 1)
        resid = ts[ok] - (a + b * cs[ok])
        if abs(b - s) < 0.02 * s and np.sqrt(np.mean(resid**2)) < 0.003:
            found.append((s, rev, a + delay, a + delay + b * len(wav) / SR))
    if not found and np.sum(np.abs(wav) > 0.05) < 0.25 * SR:
        return None  # under 0.25 s of sound: too little to measure
    assert len(found) == 1, f'audio not identified: {found}'
    return found[0]


def check_content_edges(wav: np.ndarray, span, speed: int, rev: bool,
                        info: dict, tol: float) -> None:
    """For a view with too little audio to measure: where its samples are
    silent and where they sound must match the video span laid over the
    file's audio ``[delay, audio_end)``."""
    on = np.flatnonzero(np.abs(wav) > 0.05)
    lo, hi = max(span[0], info['delay']), min(span[1], info['audio_end'])
    if hi <= lo + tol:  # the span holds (almost) no audio
        assert len(on) * speed / SR < tol + 0.005, (span, len(on))
        return
    k = np.array([on[0], on[-1] + 1]) * speed / SR
    got = np.sort(span[1] - k if rev else span[0] + k)
    assert abs(got[0] - lo) < tol and abs(got[1] - hi) < tol, (got, lo, hi)


def video_axis(imgs: np.ndarray, times: np.ndarray, frame_interval: int,
               cfr: bool):
    """``(step, reversed, t0, t1, indices)`` of a view from its frames'
    band codes: the written frame numbers, their times, and the span from
    the first frame to the last plus one frame step (the decoded index
    step in a constant-rate file; ``frame_interval * speed`` frames of
    the average rate in the VFR file, with the speed from the audio)."""
    idx = decode_frame_index(imgs, channel_last=False)
    d = np.diff(idx)
    rev = bool(len(d) and np.median(d) < 0)
    fwd = idx[::-1] if rev else idx
    step = int(np.median(np.abs(d))) if cfr and len(d) else frame_interval
    return step, rev, float(times[fwd[0]]), float(times[fwd[-1]]), idx


def vfr_reference(times: np.ndarray, fps: float, inds) -> np.ndarray:
    """Frame the file shows at index i: the first frame at or after
    ``i / fps`` (index rounded as the readers round presentation times)."""
    pos = np.round(times * fps).astype(int)
    return np.array([int(np.argmax(pos >= i)) if (pos >= i).any() else
                     len(times) - 1 for i in inds])


def vfr_speed_bound(times: np.ndarray, fps: float, steps: int) -> float:
    """How far from its label ``s`` the speed a VFR clip's frames play at
    may be, ``(last frame's time - first's) * fps / steps`` for a clip
    whose indices are ``steps * s`` apart.

    Index ``i`` shows the first frame whose time rounds to ``i / fps`` or
    later: a frame at ``i / fps + e`` with ``-1 / (2 fps) <= e < g -
    1 / (2 fps)``, ``g`` the longest time between frames (the next frame
    comes within ``g``). Both ends' ``e`` lie in one interval of width
    ``g``, so the frames' span is within ``g`` of ``steps * s / fps``:
    the played speed within ``g * fps / steps`` of ``s`` (at speed 1,
    15 steps, frames up to 50 ms and 28 fps: 9 %, where the nearest
    speed allowed 41 %). The audio plays at ``s`` exactly: its span is
    resampled by ``s``."""
    return float(np.diff(times).max()) * fps / steps


def relations_within(a, b, tol: float) -> set:
    """Labels :func:`temporal_relation` gives when every endpoint may be
    off by ``tol`` (measurement error)."""
    out = set()
    for da0, da1, db0, db1 in itertools.product((-tol, tol), repeat=4):
        out.add(temporal_relation((a[0] + da0, a[1] + da1),
                                  (b[0] + db0, b[1] + db1)))
    return out


# ------------------------------------------------------------ pipelines
#: name -> (config, view types with audio, frame interval of the clips)
PIPELINES = {
    'glcl': 'configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py',
    'avtss': 'configs/avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py',
    'av_2clip': 'configs/_base_/datasets/k400_ssl_2clip_av.py',
    'avc': 'configs/baselines/'
    'avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py',
    'moco': 'configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py',
    'simclr': 'configs/baselines/simclr_r3d-18_8xb32-16x2x2-200e_k400.py',
    'vclr': 'configs/vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py',
    'ctrlaug': 'configs/_base_/datasets/k400_ctrlaug_global_local.py',
}


@functools.lru_cache(maxsize=None)
def load_pipeline(name: str):
    """The config's train pipeline, crops made full-frame and flips off
    (the frames' band code does not survive them), built with the
    dataset's own builder. Built once per config and reused, as a dataset
    reuses its pipeline for every sample (a third of an AVTSS test's time
    went to parsing the config again for each of its 12 samples)."""
    cfg = Config.fromfile(osp.join(ROOT, PIPELINES[name]))
    steps = []
    for t in cfg.train_dataloader.dataset.pipeline:
        t = dict(t)
        if t['type'] == 'RandomResizedCropViews':
            t.update(scale=(1.0, 1.0), ratio=(1.0, 1.0))
        elif t['type'] == 'FlipViews':
            t.update(flip_prob=0.0)
        elif t['type'] == 'VideoInit' and name == 'vclr':
            t.update(decode_short_side=64)  # 256 px: slow, same frames
        steps.append(t)
    return Compose(build_pipeline(steps)), cfg


def run(name: str, info: dict, seed: int):
    pipe, _ = load_pipeline(name)
    np.random.seed(seed)
    return pipe(dict(filename=info['path'], label=-1, sample_idx=0))


def check_sample(out: dict, info: dict, name: str):
    """Frames, audio spans, speed and direction of one packed sample, from
    content; returns the measured ``(video spans, audio spans, video
    (step, reversed, first frame's time, last frame's time), audio (speed,
    reversed))``."""
    sample = out['data_samples']
    cfr = info['fps'] is not None
    fps = sample.fps
    times = info['times']
    frame_interval = {'glcl': 1, 'avtss': 1}.get(name, 2)
    vspans, aspans, vaxes, aaxes = [], [], [], []
    for view, imgs in zip(sample.view_meta, out['inputs'].get('video', [])):
        step, rev, t_first, t_last, idx = video_axis(
            imgs.numpy(), times, frame_interval, cfr)
        vaxes.append((step, rev, t_first, t_last))
        # frames: what the file shows at each sampled index (CFR: the index)
        want = view['frame_inds'] if cfr else vfr_reference(
            times, fps, view['frame_inds'])
        np.testing.assert_array_equal(idx, want)
        if view.get('view_type') == 'global':
            vspans.append(None)  # sparse frames sampling a window
            continue
        if not cfr:
            step = frame_interval * view['speed']
        vspans.append((t_first, t_last + step / fps))
    for aview, wav in zip(sample.audio_meta, out['inputs'].get('audio', [])):
        j = aview['video_view']
        t_ref = vspans[j][0] if j >= 0 else aview['time_span'][0]
        axis = audio_axis(wav.numpy(), t_ref, info['delay'])
        if axis is None:  # mostly silence: check where the silence is
            if j >= 0:
                speed = vaxes[j][0] // frame_interval if cfr else \
                    sample.view_meta[j]['speed']
                check_content_edges(wav.numpy(), vspans[j], speed,
                                    vaxes[j][1], info, 1 / fps)
            aspans.append(None)
            aaxes.append(None)
            continue
        s, rev, t0, t1 = axis
        aspans.append((t0, t1))
        aaxes.append((s, rev))
        if j < 0:
            continue
        # the audio of a clip: its span within one frame, its speed and
        # direction those of the frames
        vs, vr = vaxes[j][:2]
        assert rev == vr
        if cfr:
            assert s * frame_interval == vs
        v0, v1 = vspans[j]
        tol = 1 / fps
        assert abs(t0 - v0) < tol and abs(t1 - v1) < tol, (
            name, j, (t0, t1), (v0, v1))
    return vspans, aspans, vaxes, aaxes


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize('file', FILES)
@pytest.mark.parametrize('name', ['glcl', 'av_2clip', 'avc'])
def test_clip_audio_follows_the_frames(media, name, file):
    """GLCL and the audio-visual baselines: the audio of every clip covers
    the clip's real span (first frame to last + one frame), at every rate,
    in the VFR file, with a late start, late audio and short audio."""
    info = media[file]
    for seed in range(2):
        out = run(name, info, seed)
        check_sample(out, info, name)


@pytest.mark.parametrize('file', FILES)
def test_avtss_spans_speed_direction_and_order_labels(media, file):
    """AVTSS: the speed and direction labels of both clips and both audio
    views are the decoded ones; audio 0 covers clip 0's real span at clip
    0's speed and direction; audio 1 plays at clip 1's speed and
    direction; every order
    label is the relation of the decoded spans (or masked, -1, all
    together); the three labels are not one label."""
    info = media[file]
    _, cfg = load_pipeline('avtss')
    speeds = next(t['speeds'] for t in cfg.train_dataloader.dataset.pipeline
                  if t['type'] == 'SampleTemporalPairs')  # label -> speed
    triples, masked = set(), 0
    for seed in range(12):
        out = run('avtss', info, seed)
        vspans, aspans, vaxes, aaxes = check_sample(out, info, 'avtss')
        sample = out['data_samples']
        lab = sample.pretext_labels
        # the speed and direction labels are what the frames and the audio
        # show: the decoded frame step (VFR: the speed the frames play
        # at, see vfr_speed_bound), the order of the codes, and the
        # audio's chirp rate and direction
        for i in range(2):
            step, rev, t_first, t_last = vaxes[i]
            assert lab[f'direction_v{i}'] == int(rev)
            label = speeds[lab[f'speed_v{i}']]
            if info['fps'] is None:
                played = (t_last - t_first) * sample.fps / 15
                bound = vfr_speed_bound(info['times'], sample.fps, 15)
                assert abs(played - label) <= bound, (i, played, label)
                continue
            assert label == step, (i, step, lab)
            if aaxes[i] is not None:
                assert speeds[lab[f'speed_a{i}']] == aaxes[i][0]
                assert lab[f'direction_a{i}'] == int(aaxes[i][1])
        # audio 1, placed on its own: clip 1's speed and direction
        if aaxes[1] is not None:
            assert aaxes[1][1] == vaxes[1][1]
            if info['fps'] is not None:
                assert aaxes[1][0] == vaxes[1][0]
        orders = [lab['order_vv'], lab['order_aa'], lab['order_va']]
        if min(orders) < 0:
            assert orders == [-1, -1, -1]
            masked += 1
            continue
        tol = 0.01  # chirp-time precision
        assert lab['order_vv'] in relations_within(vspans[0], vspans[1], tol)
        if None not in aspans:  # else an audio clip is mostly silence
            assert lab['order_aa'] in relations_within(aspans[0], aspans[1],
                                                       tol)
            assert lab['order_va'] in relations_within(vspans[1], aspans[1],
                                                       tol)
        triples.add(tuple(orders))
    assert masked < 12
    assert any(t[2] != t[0] for t in triples), triples


def test_avtss_order_labels_are_independent_of_the_speeds():
    """Relations that cannot occur for a pair of speeds (two 8x clips of 16
    frames cannot be disjoint in 250 frames) are masked, so among labelled
    samples the order distribution is the same at every speed; and the
    inter-modal label differs from both intra-modal ones."""
    from mmavcl.datasets.transforms import SampleTemporalPairs
    np.random.seed(0)
    sampler = SampleTemporalPairs(clip_len=16)
    counts = {}
    for _ in range(6000):
        lab = sampler(dict(total_frames=250, fps=25.0))['pretext_labels']
        key = (lab['speed_v0'], lab['speed_v1'])
        # clip 0, clip 1 and audio 1 (clip 1's length) need not fit
        # disjoint in 250 frames when 16 * (s0 + 2 s1) > 250
        fits = 16 * (2**key[0] + 2 * 2**key[1]) <= 250
        assert (lab['order_vv'] >= 0) == fits, key
        if not fits:
            continue
        counts.setdefault(key, np.zeros((3, 3)))
        for r, name in enumerate(('order_vv', 'order_aa', 'order_va')):
            counts[key][r, lab[name]] += 1
    for key, c in counts.items():
        frac = c / c.sum(axis=1, keepdims=True)
        # 19 possible combinations: each label 6/19, 6/19, 7/19
        np.testing.assert_allclose(frac, [[6 / 19, 6 / 19, 7 / 19]] * 3,
                                   atol=0.08)


@pytest.mark.parametrize('file', ['fps30', 'vfr', 'late_start'])
@pytest.mark.parametrize('name', ['moco', 'simclr', 'vclr', 'ctrlaug'])
def test_video_only_pipelines_show_the_sampled_frames(media, name, file):
    """Video-only K400 pipelines: each view's frames are the ones the file
    shows for its indices, and every clip's time span is its frames'."""
    info = media[file]
    out = run(name, info, 0)
    sample = out['data_samples']
    fps = sample.fps
    cfr = info['fps'] is not None
    for view, imgs in zip(sample.view_meta, out['inputs']['video']):
        idx = decode_frame_index(imgs.numpy(), channel_last=False)
        # VCLR's grid (grid_slots) indexes a VFR file's frames in display
        # order (FFmpeg's fps filter on their times), the others by time
        by_time = not cfr and 'grid_slots' not in view
        want = vfr_reference(info['times'], fps, view['frame_inds']) \
            if by_time else view['frame_inds']
        np.testing.assert_array_equal(idx, want)
        if view['view_type'] == 'global':
            continue  # sparse frames that sample a window: keeps it
        # the span starts at the first frame shown; a clip's ends one
        # frame step (in a constant-rate file: the decoded index step)
        # after its last frame
        t = info['times'][idx]
        assert view['time_span'][0] == pytest.approx(t.min(), abs=1e-3)
        # (frames clamped at the end repeat, d = 0; VCLR's 30 fps grid
        # over a 25 fps file steps 1, 2, 2, ... frames: no one step)
        d = np.abs(np.diff(idx))
        if cfr and d.any() and len(set(d[d > 0])) == 1:
            step = d[d > 0][0] / fps
            assert view['time_span'][1] == pytest.approx(t.max() + step,
                                                         abs=1e-3)


def _tone_code(mel_col: torch.Tensor, bins: list) -> int:
    """Which of ``TONES`` dominates a log-mel column."""
    peak = int(mel_col.argmax())
    return int(np.argmin([abs(peak - b) for b in bins]))


def glcl_bag_tones(info: dict, reverse: bool = False):
    """GLCL's pipeline (``reverse``: its clip played backwards, frames and
    audio, by the pipeline's own transforms) and data preprocessor on
    ``info``'s tones file: ``(the written frame shown at each of the
    clip's T_v frames in playback order, the tone (index into TONES) of
    each of the 3 T_v log-mel steps)``."""
    import torchaudio
    from mmavcl.datasets import av_collate
    from mmavcl.datasets.transforms import (DecodeAudioViews,
                                            DecodeVideoViews, PackAVInputs,
                                            SampleClips, VideoInit)
    pipe, cfg = load_pipeline('glcl')
    if reverse:
        res = VideoInit(backend='pyav')(dict(filename=info['path']))
        res = SampleClips(clip_len=32, mode='fixed', audio=True)(res)
        view, audio = res['video_views'][0], res['audio_views'][0]
        view.update(frame_inds=view['frame_inds'][::-1].copy(),
                    reversed=True)
        audio['reversed'] = True
        res = DecodeAudioViews(sample_rate=SR)(DecodeVideoViews()(res))
        packed = PackAVInputs()(res)
    else:
        packed = pipe(dict(filename=info['path'], label=-1, sample_idx=0))
    batch = av_collate([packed])
    pre = MODELS.build(cfg.model.data_preprocessor)
    data = pre(batch, training=False)
    video, mel = data['inputs']['video'][0], data['inputs']['audio'][0]
    t_v = video.shape[2]
    assert mel.shape[-1] == 3 * t_v
    idx = decode_frame_index(batch['inputs']['video'][0][0].numpy(),
                             channel_last=False)
    a = cfg.model.data_preprocessor.audio_cfg
    fb = torchaudio.functional.melscale_fbanks(
        a['n_fft'] // 2 + 1, 0.0, SR / 2, a['n_mels'], SR)
    bins = [int(fb[int(round(f * a['n_fft'] / SR))].argmax())
            for f in TONES]
    codes = [_tone_code(mel[0, 0, :, u], bins) for u in range(3 * t_v)]
    return idx, np.array(codes).reshape(t_v, 3)


@pytest.mark.parametrize('reverse', [False, True])
def test_glcl_local_bags_follow_vfr_frames(media, reverse):
    """GLCL's local bags in a VFR file (frames of 20, 33 and 50 ms): the
    bag of frame t (log-mel steps 3t..3t+2, ``time_window_bags``) holds
    the audio of the time frame t is on screen, not the t-th 32nd of the
    clip's span; its middle step plays frame t's tone.

    Measured on this file: before the fix (the clip's log-mel resized
    evenly) the middle step held frame t's tone in 23 of 32 bags (72 %),
    a neighbour's in 9; now in 30 of 32. A 20 ms frame is shorter than
    the 25 ms log-mel window, so a tenth of the middle steps may still
    show a neighbour's tone, never one two frames away.

    The clip played backwards (frames and audio, as AVTSS plays them):
    14 of 32 before, 27 now. Nearest resizing takes the source step at
    or before each step's start, up to a hop (10 ms) early in playback
    order; the middle step sits a third into its frame in playback order,
    two thirds into it in the file's time, so played backwards the early
    step lands later in the file, past the end of a 20 ms frame more
    often: a fifth may show a neighbour's tone."""
    info = media['tones_vfr']
    idx, codes = glcl_bag_tones(info, reverse)
    times = info['times']
    # a picture may be returned for two consecutive indices: both bags
    # then hold a part of its time on screen
    own = np.mean(codes[:, 1] == idx % 4)
    assert own >= (0.8 if reverse else 0.9), (own, codes[:, 1], idx % 4)
    for t, c in enumerate(codes[:, 1]):
        # the tone of a frame within one frame of the one shown
        near = {(idx[t] + d) % 4 for d in (-1, 0, 1)}
        assert c in near, (t, c, idx[t], times[idx[t]])


@pytest.mark.parametrize('fps', [24.0, 25.0, 30.0, 60.0])
def test_glcl_local_bags_hold_their_frames_audio(media, fps):
    """GLCL's audio axis, as its code has it: the clip's log-mel cut to the
    clip span and resized to 3 steps per frame (nearest), so the local bag
    of frame t (audio steps 3t..3t+2, ``time_window_bags``) holds frame t's
    audio: its middle step plays frame t's tone and no step plays a tone
    of a frame two or more away.

    At 60 fps a frame (16.7 ms) is shorter than the 25 ms window and the
    10 ms hop is coarser than an output step (5.6 ms): nearest resizing,
    the code's, takes the source step at or before an output step's
    position, up to 10 ms early, so a middle step may show the previous
    frame (2 of 32 bags here); never one further away."""
    from mmavcl.models.losses.mil_nce import time_window_bags
    idx, codes = glcl_bag_tones(media[f'tones{fps:g}'])
    t_v = len(idx)
    bags = time_window_bags(t_v, 3 * t_v)
    own = 0
    for t, bag in enumerate(bags.tolist()):
        assert bag == [3 * t, 3 * t + 1, 3 * t + 2]
        own += codes[t, 1] == idx[t] % 4
        if fps <= 30:
            assert codes[t, 1] == idx[t] % 4, (t, codes[t], idx[t])
        else:
            assert (codes[t, 1] - idx[t]) % 4 in (0, 3), (t, codes[t],
                                                          idx[t])
        for c in codes[t]:
            assert (c - idx[t]) % 4 in (0, 1, 3), (t, codes[t])
    assert own >= 0.9 * t_v


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
@pytest.mark.parametrize('file', ['vfr', 'fps29.97', 'late_start'])
def test_readers_report_the_times_of_the_frames_they_return(
        media, backend, file):
    """Both readers give each returned frame's presentation time (s from
    the first frame), which is the written time of the frame its band code
    spells; the clip's span and its audio's are cut from them."""
    from mmavcl.datasets.transforms import (DecodeVideoViews, SampleClips,
                                            VideoInit)
    info = media[file]
    res = VideoInit(backend=backend)(dict(filename=info['path']))
    np.random.seed(0)
    res = SampleClips(clip_len=12, frame_interval=3, num_clips=3,
                      mode='linspace', audio=True)(res)
    res = DecodeVideoViews()(res)
    for view, aview, imgs in zip(res['video_views'], res['audio_views'],
                                 res['video_imgs']):
        idx = decode_frame_index(imgs)
        np.testing.assert_allclose(view['frame_times'], info['times'][idx],
                                   atol=1e-3)
        span = (info['times'][idx[0]],
                info['times'][idx[-1]] + 3 / res['fps'])
        np.testing.assert_allclose(view['time_span'], span, atol=1e-3)
        np.testing.assert_allclose(aview['time_span'], span, atol=1e-3)
