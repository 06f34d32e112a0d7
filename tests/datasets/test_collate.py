"""av_collate: each view stacked in the loader's worker."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmavcl.datasets import av_collate
from mmavcl.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AVC_TOY = osp.join(ROOT, 'configs/baselines/avc_r3d-18_toy.py')


@pytest.fixture(scope='module')
def avc_cfg(tiny_toy_av):
    init_default_scope('mmavcl')
    cfg = Config.fromfile(AVC_TOY)
    cfg.train_dataloader.dataset.data_root = tiny_toy_av
    return cfg


def test_views_stacked_like_the_preprocessor_stacks_them(avc_cfg):
    ds = DATASETS.build(avc_cfg.train_dataloader.dataset)
    samples = [ds[i] for i in range(3)]
    # decoders may differ by a sample at span edges: make one shorter
    samples[1]['inputs']['audio'][0] = samples[1]['inputs']['audio'][0][:-2]
    loose = pseudo_collate(samples)
    batch = av_collate(samples)
    video = batch['inputs']['video'][0]
    assert video.dtype == torch.uint8 and video.shape[0] == 3
    for i, s in enumerate(samples):
        assert torch.equal(video[i], s['inputs']['video'][0])
    audio = batch['inputs']['audio'][0]
    length = samples[0]['inputs']['audio'][0].shape[0]
    assert audio.shape == (3, length)
    assert torch.equal(audio[1, -2:], torch.zeros(2))  # zero-padded
    assert len(batch['data_samples']) == 3
    pre = MODELS.build(avc_cfg.model.data_preprocessor)
    a, b = pre(loose, False)['inputs'], pre(batch, False)['inputs']
    for key in ('video', 'audio'):
        for x, y in zip(a[key], b[key]):
            assert torch.equal(x, y), key


def test_a_view_of_mixed_shapes_stays_a_list_and_is_named(avc_cfg):
    samples = [{'inputs': {'video': [torch.zeros(3, 2, s, s)]}}
               for s in (8, 4)]
    batch = av_collate(samples)
    assert isinstance(batch['inputs']['video'][0], (list, tuple))
    pre = MODELS.build(avc_cfg.model.data_preprocessor)
    with pytest.raises(ValueError, match=r'inputs\["video"\]\[0\].*share a '
                       'shape'):
        pre(dict(batch, data_samples=None), False)


def test_config_loader_with_workers_uses_av_collate(avc_cfg):
    dl_cfg = dict(avc_cfg.train_dataloader, batch_size=2, num_workers=2,
                  persistent_workers=False,
                  collate_fn=dict(type='mmavcl.av_collate'))
    batch = next(iter(Runner.build_dataloader(dl_cfg, seed=0)))
    assert isinstance(batch['inputs']['video'][0], torch.Tensor)
    assert batch['inputs']['video'][0].shape[0] == 2
    assert batch['inputs']['audio'][0].shape[0] == 2
