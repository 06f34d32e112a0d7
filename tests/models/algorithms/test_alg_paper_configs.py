"""Every paper (and baseline) config builds and trains one step on CPU.

The model, optimiser and train pipeline come from the config itself; only
sizes shrink: a real 64x64 H.264 + AAC file made with PyAV, crops of 32 px,
batch 2, SyncBN reverted, pretrained weights not loaded. Each loss term is
checked against an independent reference in the per-method tests; here
every expected term must be present and finite and the parameters must
move.
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper

from mmavcl.registry import DATASETS, MODELS
from mmavcl.testing.media import make_av_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
CROP = 16

CONFIGS = {
    'vclr_r3d_k400.py':  # the user entry point
    ('loss_inter', 'loss_intra', 'loss_segment', 'loss_order'),
    'vclr/vclr_tsn-r50_8xb32-1x1x10-400e_k400.py':
    ('loss_inter', 'loss_intra', 'loss_segment', 'loss_order'),
    'glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py':
    ('loss_global', 'loss_local'),
    'ctrlaug/ctrlaug_r3d-18_8xb32-16x1x4-200e_k400.py':
    ('loss_clip', 'loss_region', 'loss_mi', 'loss_order'),
    'avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py':
    ('loss_vv', 'loss_va', 'loss_speed_v', 'loss_speed_a',
     'loss_direction_v', 'loss_direction_a', 'loss_order_vv',
     'loss_order_aa', 'loss_order_va'),
    'baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py': ('loss_clip', ),
    'baselines/simclr_r3d-18_8xb32-16x2x2-200e_k400.py': ('loss_clip', ),
    'baselines/avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py':
    ('loss_va', ),
}


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('k400')
    for i in range(2):
        make_av_video(str(root / f'v{i}.mp4'), num_frames=100, fps=25.0,
                      size=(64, 64), pattern='noise', seed=i)
    (root / 'list.txt').write_text('v0.mp4 0\nv1.mp4 1\n')
    return root


def shrink_pipeline(pipeline, min_frames=2):
    """Same transforms and view structure, fewer frames and pixels."""
    out = []
    for t in copy.deepcopy(pipeline):
        if t['type'] == 'VideoInit':
            t.pop('decode_short_side', None)
        for key in ('clip_len', 'local_len', 'global_len'):
            if t.get(key, 1) > 1:
                t[key] = min_frames
        if t['type'] in ('RandomResizedCropViews', 'CenterCropViews'):
            t['size'] = CROP
        out.append(t)
    return out


def drop_pretrained(cfg):
    if isinstance(cfg, dict):
        if cfg.get('init_cfg', {}) and \
                cfg['init_cfg'].get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for v in cfg.values():
            drop_pretrained(v)


# variants of a config tested above: built (and their data read) only
BUILD_ONLY = ['vclr/vclr_r3d-50_8xb16-8x2x10-200e_k400.py']


@pytest.mark.parametrize('name', BUILD_ONLY)
def test_variant_config_builds(name, video_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root=str(video_root), ann_file='list.txt',
              data_prefix=dict(video=''),
              pipeline=shrink_pipeline(ds.pipeline))
    sample = DATASETS.build(ds)[0]
    model_cfg = cfg.model.to_dict()
    drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    k = model.num_segments
    assert len(sample['inputs']['video']) == (
        2 * k + 1 if model.reuse_query_views else 3 * k + 1)
    build_optim_wrapper(model, cfg.optim_wrapper)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_paper_config_one_train_step(name, video_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name))
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root=str(video_root), ann_file='list.txt',
              data_prefix=dict(video=''),
              pipeline=shrink_pipeline(
                  ds.pipeline,
                  # the slow pathway takes every alpha-th frame
                  min_frames=cfg.model.backbone.get('alpha', 2)))
    dataset = DATASETS.build(ds)
    torch.manual_seed(0)
    data = pseudo_collate([dataset[0], dataset[1]])

    model_cfg = cfg.model.to_dict()
    drop_pretrained(model_cfg)
    model = revert_sync_batchnorm(MODELS.build(model_cfg))
    model.init_weights()
    model.train()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    log = model.train_step(data, wrapper)

    for key in CONFIGS[name]:
        assert key in log, f'{name}: {key} missing from {sorted(log)}'
    for key, value in log.items():
        assert torch.isfinite(value).all(), f'{name}: {key} = {value}'
    moved = [k for k, v in model.named_parameters()
             if v.requires_grad and not torch.equal(v, before[k])]
    assert moved, f'{name}: no parameter changed'
