"""Every configs/*/benchmarks/*.py loads, names registered parts, points at
the split/fold its name says, and its model builds and runs a tiny input."""
import functools
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmavcl.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmavcl.structures import AVDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', 'benchmarks',
                                    '*.py')))
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
           'gallery_dataloader')


def _rel(path):
    return osp.relpath(path, ROOT)


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def test_there_are_benchmarks_for_every_protocol():
    names = [osp.basename(c) for c in CONFIGS]
    for proto in ('linear_ucf101-split', 'finetune_ucf101-split',
                  'linear_hmdb51-split', 'finetune_hmdb51-split'):
        for s in (1, 2, 3):
            assert any(f'{proto}{s}.py' in n for n in names), (proto, s)
    assert any('linear_k400' in n for n in names)
    assert any('retrieval_ucf101' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_is_consistent(path):
    cfg = _load(path)
    name = osp.basename(path)
    assert cfg.model.type == 'AVRecognizer', _rel(path)
    head = cfg.model.cls_head
    for key in LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        ds = loader.dataset
        assert DATASETS.get(ds.type) is not None, (key, ds.type)
        for t in ds.pipeline:
            assert TRANSFORMS.get(t['type']) is not None, (key, t['type'])
        if head is not None:
            assert ds.num_classes == head.num_classes, key
        m = re.search(r'split(\d)', name)
        if m:
            assert f'_split_{m.group(1)}_' in ds.ann_file, (key, ds.ann_file)
        m = re.search(r'fold(\d)', name)
        if m:
            assert ds.ann_file.endswith(f'fold{m.group(1)}.txt'), key
    for key in ('val_evaluator', 'test_evaluator'):
        ev = cfg.get(key)
        for m in (ev if isinstance(ev, list) else [ev] if ev else []):
            assert METRICS.get(m['type']) is not None, (key, m['type'])
    if 'linear' in name or 'retrieval' in name:
        assert cfg.model.frozen is True
    if 'finetune' in name:
        assert cfg.model.frozen is False


def _distinct_models():
    """One model per backbone (with a head where a config has one): configs
    that differ only in class count, dropout, freezing or head presence
    share a build (the consistency test checks the rest)."""
    seen = {}
    for path in CONFIGS:
        model = _load(path).model
        key = repr((model.backbone.to_dict(), model.modality))
        if key not in seen or seen[key][1].cls_head is None:
            seen[key] = (path, model)
    return list(seen.values())


@pytest.mark.parametrize('path,model_cfg', _distinct_models(),
                         ids=lambda x: _rel(x) if isinstance(x, str) else '')
def test_model_builds_and_runs_tiny_input(path, model_cfg):
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    model.eval()
    if model.modality == 'video':
        views = [torch.randint(0, 255, (3, 8, 16, 16), dtype=torch.uint8)
                 for _ in range(2)]
    else:
        views = [torch.randn(16000) for _ in range(2)]
    data = dict(inputs={model.modality: [[v] for v in views]},
                data_samples=[AVDataSample().set_gt_label(0)])
    with torch.no_grad():
        out = model.test_step(data)[0]
    if model.cls_head is None:
        assert out.features.shape[0] == 2
        assert torch.isfinite(out.features).all()
    else:
        assert out.pred_score.shape == (model.cls_head.num_classes, )
        assert torch.allclose(out.pred_score.sum(), torch.tensor(1.0),
                              atol=1e-5)
