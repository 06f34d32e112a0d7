"""Per-snippet features for temporal action localization (VCLR):
SampleSnippets' starts, BSN/BMN's rescaling against an independent
implementation, and tools/extract_features.py --snippets on real toy videos
of two lengths: file names, shapes, rows equal to the ordinary per-view
features, and MMAction2's ActivityNetDataset + BMN reading the CSVs."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmavcl.datasets.transforms import SampleSnippets
from mmavcl.evaluation.functional import load_features, rescale_snippets
from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = 'configs/benchmarks/r3d-18/tal-features_r3d-18_1xb1-8x1-s4_toy.py'


def test_snippet_starts():
    s = SampleSnippets(clip_len=8, frame_interval=1, stride=4)
    views = s.transform(dict(total_frames=37, fps=10.0))['video_views']
    # (37 - 8) // 4 + 1 = 8 snippets inside the video
    assert [v['snippet_start'] for v in views] == list(range(0, 29, 4))
    assert views[-1]['frame_inds'].tolist() == list(range(28, 36))
    short = s.transform(dict(total_frames=5, fps=10.0))['video_views']
    assert len(short) == 1
    assert short[0]['frame_inds'].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    capped = SampleSnippets(clip_len=8, stride=4, max_snippets=7)
    with pytest.raises(ValueError, match='long.mp4'):
        capped.transform(dict(total_frames=37, fps=10.0,
                              filename='long.mp4'))


def _rescale_reference(x, num=100, per_bin=3, eps=1e-4):
    """Bin by bin, point by point, with np.interp per channel."""
    n = len(x)
    grid = np.arange(n)
    width = (n - 1 - 2 * eps) / num
    out = np.zeros((num, x.shape[1]))
    for k in range(num):
        pts = [eps + k * width + j * width / per_bin for j in range(per_bin)]
        for c in range(x.shape[1]):
            out[k, c] = np.mean(np.interp(pts, grid, x[:, c]))
    return out


@pytest.mark.parametrize('n', [1, 2, 7, 37, 250])
def test_rescale_matches_independent_interpolation(n):
    x = np.random.default_rng(n).normal(size=(n, 6))
    got = rescale_snippets(x, 100)
    assert got.shape == (100, 6) and got.dtype == np.float32
    ref = np.repeat(x, 100, 0) if n == 1 else _rescale_reference(x)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """4 val videos: 2 of 2 s and 2 of 3 s (32 and 48 frames at 16 fps),
    and a checkpoint of the toy VCLR config."""
    root = tmp_path_factory.mktemp('tal')
    data = str(root / 'toy_av')
    make = load_script('tools/data/make_toy_dataset.py').make_toy_dataset
    lines = []
    for dur, classes in ((2.0, ['horizontal', 'vertical']),
                         (3.0, ['circle_cw', 'circle_ccw'])):
        sub = f'{data}/d{int(dur)}'
        make(sub, num_per_class=1, classes=classes, duration=dur, workers=1)
        with open(f'{sub}/val.txt') as f:
            lines += [f'd{int(dur)}/{ln}' for ln in f.read().split('\n')
                      if ln.strip()]
    # labels 0..1 per sub-set; the toy config wants 4 classes at most
    with open(f'{data}/val.txt', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmavcl.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs/vclr/vclr_r3d-18_toy.py'))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(root / 'vclr_toy.pth')
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return str(root), data, ckpt


def test_extract_snippets_both_layouts(toy):
    root, data, ckpt = toy
    ext = load_script('tools/extract_features.py')
    opts = ['--no-progress', '--cfg-options',
            f'test_dataloader.dataset.data_root={data}']
    cfg = osp.join(ROOT, TOY)
    ext.main([cfg, ckpt, '--out', f'{root}/rows.npz', *opts])
    ext.main([cfg, ckpt, '--out', f'{root}/thumos', '--snippets',
              'thumos14', *opts])
    ext.main([cfg, ckpt, '--out', f'{root}/anet', '--snippets',
              'activitynet', *opts])
    rows = load_features(f'{root}/rows.npz')
    with open(f'{root}/thumos/snippet_info.json') as f:
        info = json.load(f)
    expect = {'horizontal_0000': 32, 'vertical_0000': 32,
              'circle_cw_0000': 48, 'circle_ccw_0000': 48}
    assert sorted(info) == sorted(f'{n}.npy' for n in expect)
    for name, frames in expect.items():
        n = (frames - 8) // 4 + 1  # snippets of 8 frames every 4
        seq = np.load(f'{root}/thumos/{name}.npy')
        assert seq.shape == (n, 64) and seq.dtype == np.float32
        meta = info[f'{name}.npy']
        assert (meta['num_snippets'], meta['duration_frame'],
                meta['feature_frame']) == (n, frames, (n - 1) * 4 + 8)
        # the same rows as the per-view features file, in snippet order
        sel = np.array([v.endswith(f'/{name}.mp4')
                        for v in rows['video_ids']])
        order = np.argsort(rows['view_idx'][sel])
        np.testing.assert_allclose(seq, rows['features'][sel][order],
                                   rtol=1e-5, atol=1e-6)
        # ActivityNet: 100 rows, a header, the rescaled THUMOS sequence
        with open(f'{root}/anet/{name}.csv') as f:
            assert f.readline().strip() == ','.join(
                f'f{i}' for i in range(64))
        anet = np.loadtxt(f'{root}/anet/{name}.csv', delimiter=',',
                          skiprows=1)
        assert anet.shape == (100, 64)
        np.testing.assert_allclose(anet, _rescale_reference(seq),
                                   rtol=1e-5, atol=1e-6)


def test_bmn_in_mmaction2_reads_the_activitynet_files(toy):
    """The documented BMN route: MMAction2's ActivityNetDataset and its
    localization pipeline load the CSVs (C, 100) and BMN computes a loss."""
    root, data, ckpt = toy
    out = f'{root}/anet_bmn'
    load_script('tools/extract_features.py').main([
        osp.join(ROOT, TOY), ckpt, '--out', out, '--snippets', 'activitynet',
        '--no-progress', '--cfg-options',
        f'test_dataloader.dataset.data_root={data}'])
    import mmavcl  # noqa: F401  (stands in for mmaction2's missing module)
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmaction.registry import DATASETS, MODELS
    with open(f'{out}/snippet_info.json') as f:
        info = json.load(f)
    ann = {osp.splitext(k)[0]: dict(
        duration_second=v['duration_frame'] / v['fps'],
        duration_frame=v['duration_frame'],
        feature_frame=v['feature_frame'], fps=v['fps'], rfps=v['fps'],
        annotations=[dict(segment=[0.5, 1.5], label='toy')])
        for k, v in info.items()}
    with open(f'{root}/anet_anno.json', 'w') as f:
        json.dump(ann, f)
    pipe = [dict(type='LoadLocalizationFeature'),
            dict(type='GenerateLocalizationLabels'),
            dict(type='PackLocalizationInputs', keys=('gt_bbox', ),
                 meta_keys=('video_name', ))]
    with DefaultScope.overwrite_default_scope('mmaction'):
        ds = DATASETS.build(dict(type='ActivityNetDataset',
                                 ann_file=f'{root}/anet_anno.json',
                                 data_prefix=dict(video=out),
                                 pipeline=pipe))
        bmn = MODELS.build(dict(
            type='BMN', temporal_dim=100, boundary_ratio=0.5,
            num_samples=32, num_samples_per_bin=3, feat_dim=64,
            soft_nms_alpha=0.4, soft_nms_low_threshold=0.5,
            soft_nms_high_threshold=0.9, post_process_top_k=100))
    assert len(ds) == 4
    batch = pseudo_collate([ds[0], ds[1]])
    assert batch['inputs'][0].shape == (64, 100)
    loss = bmn(batch['inputs'], batch['data_samples'], mode='loss')
    assert torch.isfinite(loss['loss'])
