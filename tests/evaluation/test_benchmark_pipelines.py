"""The shared benchmark data snippets decode real files into the views the
protocols promise (10 clips x 3 crops; 10 audio crops), and the fold mean
tool reads tools/test.py's logs."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmavcl.registry import DATASETS
from mmavcl.testing import make_audio_file, write_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets')


def _dataset(cfg_file, loader, ann, prefix_key, prefix):
    cfg = Config.fromfile(osp.join(BASE, cfg_file))
    ds_cfg = cfg[loader].dataset
    ds_cfg.ann_file = ann
    ds_cfg.data_prefix = {prefix_key: prefix}
    with DefaultScope.overwrite_default_scope('mmavcl'):
        return DATASETS.build(ds_cfg)


def test_ucf101_test_pipeline_gives_10_clips_x_3_crops(tmp_path):
    frames = np.random.default_rng(0).integers(
        0, 255, (48, 128, 170, 3), dtype=np.uint8)
    write_video(str(tmp_path / 'v' / 'ApplyEyeMakeup' / 'a.mp4'), frames,
                fps=25.0)
    ann = tmp_path / 'list.txt'
    ann.write_text('ApplyEyeMakeup/a.mp4 0\n')
    ds = _dataset('bench_ucf101.py', 'test_dataloader', str(ann), 'video',
                  str(tmp_path / 'v'))
    out = ds[0]
    views = out['inputs']['video']
    assert len(views) == 30
    assert {tuple(v.shape) for v in views} == {(3, 16, 112, 112)}
    meta = out['data_samples'].view_meta
    # views are clip-major: the 3 crops of a clip share their frames
    assert all((meta[3 * c]['frame_inds'] == meta[3 * c + 2]['frame_inds'])
               .all() for c in range(10))
    assert [m['crop_index'] for m in meta[:3]] == [0, 1, 2]
    assert out['data_samples'].gt_label.tolist() == [0]
    ret = _dataset('bench_ucf101_retrieval.py', 'gallery_dataloader',
                   str(ann), 'video', str(tmp_path / 'v'))[0]
    assert len(ret['inputs']['video']) == 10
    starts = [m['frame_inds'][0] for m in ret['data_samples'].view_meta]
    assert starts == list(np.round(np.linspace(0, 48 - 16, 10)).astype(int))


def test_esc50_test_pipeline_gives_10_audio_crops(tmp_path):
    os.makedirs(tmp_path / 'audio')
    make_audio_file(str(tmp_path / 'audio' / '1-100032-A-7.wav'),
                    duration=5.0)
    ann = tmp_path / 'esc50_test_fold1.txt'
    ann.write_text('1-100032-A-7.wav 7\n')
    ds = _dataset('bench_esc50.py', 'test_dataloader', str(ann), 'audio',
                  str(tmp_path / 'audio'))
    out = ds[0]
    wavs = out['inputs']['audio']
    assert len(wavs) == 10 and {tuple(w.shape) for w in wavs} == {(32000, )}
    spans = [m['time_span'] for m in out['data_samples'].audio_meta]
    assert spans[0][0] == pytest.approx(0.0)
    assert spans[-1][1] == pytest.approx(5.0, abs=1e-3)


def test_mean_over_folds(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mean_over_folds',
        osp.join(ROOT, 'tools', 'analysis', 'mean_over_folds.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    dirs = []
    for k, acc in enumerate((70.0, 80.0, 90.0)):
        d = tmp_path / f'fold{k}' / '20260101_000000'
        d.mkdir(parents=True)
        (d / '20260101_000000.json').write_text(
            json.dumps({'acc/top1': acc - 5, 'step': 1}) + '\n' +
            json.dumps({'acc/top1': acc, 'step': 2}) + '\n')
        dirs.append(str(tmp_path / f'fold{k}'))
    res = tool.main(dirs)
    assert res['values'] == [70.0, 80.0, 90.0]
    assert res['mean'] == pytest.approx(80.0)
    with pytest.raises(KeyError, match='no logged `acc/top5`'):
        tool.main(dirs + ['--key', 'acc/top5'])
