"""tools/extract_features.py on real toy videos: single process and 2-rank
gloo give the same rows in dataset order, features are the loaded
backbone's, and eval_features reads the files back."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmavcl.evaluation.functional import load_features
from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY = dict(type='ResNet3d', depth=18, base_channels=4, num_stages=1,
            out_indices=(0, ), stage_blocks=(1, ), conv1_kernel=(3, 3, 3),
            with_pool2=False)


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    """11 train + 4 val real H.264 videos, a config and a checkpoint."""
    root = str(tmp_path_factory.mktemp('toy'))
    load_script('tools/data/make_toy_dataset.py').make_toy_dataset(
        root, num_per_class=4, size=32, fps=8.0, duration=1.0, workers=1)
    with open(osp.join(root, 'train.txt')) as f:
        lines = f.read().split('\n')
    # an odd count: the distributed sampler pads, the gather must unpad
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('\n'.join(lines[:11]) + '\n')
    pipeline = [
        dict(type='VideoInit'),
        dict(type='SampleClips', clip_len=4, num_clips=2, mode='linspace'),
        dict(type='DecodeVideoViews'),
        dict(type='CenterCropViews', size=32),
        dict(type='PackAVInputs'),
    ]

    def loader(ann):
        return dict(batch_size=3, num_workers=0,
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(type='AVVideoDataset', ann_file=ann,
                                 data_prefix=dict(video=root),
                                 audio_source='none', with_label=True,
                                 pipeline=pipeline, test_mode=True))
    cfg = dict(default_scope='mmavcl',
               model=dict(type='AVRecognizer', backbone=TINY, cls_head=None,
                          frozen=True),
               gallery_dataloader=loader(osp.join(root, 'train.txt')),
               test_dataloader=loader(osp.join(root, 'val.txt')))
    cfg_path = osp.join(root, 'extract_cfg.py')
    with open(cfg_path, 'w') as f:
        f.write('\n'.join(f'{k} = {v!r}' for k, v in cfg.items()))
    from mmavcl.models.backbones import ResNet3d
    torch.manual_seed(3)
    bb = ResNet3d(**{k: v for k, v in TINY.items() if k != 'type'})
    with torch.no_grad():
        for p in bb.state_dict().values():
            if p.is_floating_point():
                p.add_(torch.rand_like(p) * 0.5)  # BN gammas no longer 0/1
    ckpt = osp.join(root, 'pretrained.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in bb.state_dict().items()}), ckpt)
    return root, cfg_path, ckpt, bb


def test_extract_single_process_matches_direct_forward(toy):
    root, cfg_path, ckpt, bb = toy
    out = osp.join(root, 'train_feats.npz')
    load_script('tools/extract_features.py').main(
        [cfg_path, ckpt, '--split', 'gallery', '--out', out, '--no-progress'])
    data = load_features(out)
    lines = open(osp.join(root, 'train.txt')).read().split()
    names, labels = lines[0::2], [int(x) for x in lines[1::2]]
    assert data['features'].shape == (22, 4)  # 11 videos x 2 views
    assert data['video_ids'].tolist() == [n for n in names for _ in (0, 1)]
    assert data['labels'].tolist() == [y for y in labels for _ in (0, 1)]
    assert data['view_idx'].tolist() == [0, 1] * 11
    # the same sample through dataset -> preprocessor -> loaded backbone
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmavcl.registry import DATASETS, MODELS
    from mmengine.config import Config
    init_default_scope('mmavcl')
    cfg = Config.fromfile(cfg_path)
    ds = DATASETS.build(cfg.gallery_dataloader.dataset)
    pre = MODELS.build(dict(type='AVDataPreprocessor'))
    batch = pre(pseudo_collate([ds[7]]), False)
    bb.eval()
    with torch.no_grad():
        ref = [bb(v).flatten(2).mean(2)[0].numpy()
               for v in batch['inputs']['video']]
    np.testing.assert_allclose(data['features'][14:16], np.stack(ref),
                               rtol=1e-4, atol=1e-5)
    # eval_features reads two files back
    test_out = osp.join(root, 'val_feats.npz')
    load_script('tools/extract_features.py').main(
        [cfg_path, ckpt, '--out', test_out, '--no-progress'])
    res = load_script('tools/analysis/eval_features.py').main(
        [out, test_out, '--knn-k', '3', '--out',
         osp.join(root, 'metrics.json')])
    assert set(res) == {'retrieval/R@1', 'retrieval/R@5', 'retrieval/R@10',
                        'retrieval/R@20', 'retrieval/R@50', 'knn3/top1',
                        'knn3/top5'}
    assert res['retrieval/R@50'] == 100.0  # every class is in the gallery
    assert json.load(open(osp.join(root, 'metrics.json')))['mode'] == \
        'video_mean'


def test_extract_distributed_two_ranks_gloo(toy):
    root, cfg_path, ckpt, _ = toy
    single = osp.join(root, 'single.npz')
    load_script('tools/extract_features.py').main(
        [cfg_path, ckpt, '--split', 'gallery', '--out', single,
         '--no-progress'])
    dist_out = osp.join(root, 'dist.npz')
    with socket.socket() as sock:  # a free port: tests may run in parallel
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    res = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={port}', 'tools/extract_features.py', cfg_path, ckpt,
         '--split', 'gallery', '--out', dist_out, '--launcher', 'pytorch'],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = load_features(single), load_features(dist_out)
    assert b['video_ids'].tolist() == a['video_ids'].tolist()
    np.testing.assert_allclose(b['features'], a['features'], rtol=1e-4,
                               atol=1e-5)
    assert '22 rows of 4-d features from 11 videos' in res.stdout
