"""GLCL's lip reading (LRW) and deepfake detection (FaceForensics++ c23):
the binary ROC AUC against hand-computed values (ties included) and through
BinaryAUCMetric's video grouping, the lists build_file_list writes from the
official layouts / split JSONs, and the configs' dataset and test pipeline
on real (tiny) videos laid out as the datasets are."""
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmavcl.datasets import AVVideoDataset
from mmavcl.evaluation import BinaryAUCMetric, binary_auc
from mmavcl.testing import load_script, make_av_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LRW = glob.glob(osp.join(ROOT, 'configs/benchmarks/r3d-18-2path/'
                         'finetune_*_lrw.py'))[0]
FFPP = glob.glob(osp.join(ROOT, 'configs/benchmarks/r3d-18-2path/'
                          'finetune_*_ffpp-c23.py'))[0]


def test_binary_auc_hand_computed_with_ties():
    # positives 0.9, 0.8, 0.3; negatives 0.8, 0.3, 0.1. Over the 9 pairs:
    # 0.9 beats all three (3); 0.8 ties 0.8 (0.5) and beats two (2.5);
    # 0.3 loses to 0.8, ties 0.3, beats 0.1 (1.5): 7 / 9
    scores = [0.9, 0.8, 0.8, 0.3, 0.3, 0.1]
    labels = [1, 1, 0, 1, 0, 0]
    assert binary_auc(scores, labels) == pytest.approx(100 * 7 / 9)
    assert binary_auc([0.5] * 4, [0, 1, 0, 1]) == pytest.approx(50.0)
    assert binary_auc([1, 2, 3], [0, 1, 1]) == pytest.approx(100.0)
    assert binary_auc([3, 2, 1], [0, 1, 1]) == pytest.approx(0.0)
    with pytest.raises(ValueError, match='both classes'):
        binary_auc([1, 2], [1, 1])
    with pytest.raises(ValueError, match='0 or 1'):
        binary_auc([1, 2], [0, 2])


def test_binary_auc_is_the_trapezoid_under_the_roc_curve():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 6, 60) / 5.0  # many ties
    y = rng.integers(0, 2, 60)
    # ROC points at every distinct threshold, from (0, 0) to (1, 1)
    tpr, fpr = [0.0], [0.0]
    for t in sorted(set(s), reverse=True):
        tpr.append(((s >= t) & (y == 1)).sum() / (y == 1).sum())
        fpr.append(((s >= t) & (y == 0)).sum() / (y == 0).sum())
    area = sum((fpr[i + 1] - fpr[i]) * (tpr[i + 1] + tpr[i]) / 2
               for i in range(len(fpr) - 1))
    assert binary_auc(s, y) == pytest.approx(100 * area)


def test_metric_averages_clips_per_video():
    metric = BinaryAUCMetric(positive_index=1, levels=('video', 'clip'))
    # fake-class probability per clip; videos: a (real), b (fake), c (fake)
    # video means: a 0.5, b 0.5 (a tie with a), c 0.9 -> AUC (0.5 + 1) / 2
    clips = dict(a=[0.2, 0.8], b=[0.6, 0.4], c=[0.9, 0.9])
    label = dict(a=0, b=1, c=1)
    samples = []
    for vid, p in clips.items():
        p = torch.tensor(p)
        samples.append(dict(clip_scores=torch.stack([1 - p, p], 1),
                            gt_label=torch.tensor([label[vid]]),
                            video_id=vid))
    metric.process({}, samples)
    out = metric.compute_metrics(metric.results)
    assert out['auc'] == pytest.approx(75.0)
    # clips: negatives 0.2, 0.8; positives 0.6, 0.4, 0.9, 0.9 -> pairs won
    # 0.6: 1, 0.4: 1, 0.9: 2, 0.9: 2 -> 6 / 8
    assert out['clip_auc'] == pytest.approx(75.0)


def _touch(path):
    import os
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'wb').close()


def test_lrw_and_ffpp_lists(tmp_path):
    build = load_script('tools/data/build_file_list.py')
    lrw = tmp_path / 'lipread_mp4'
    for word in ('ZERO', 'ABOUT'):
        for split in ('train', 'val', 'test'):
            _touch(str(lrw / word / split / f'{word}_00001.mp4'))
    _touch(str(lrw / 'ABOUT' / 'train' / 'ABOUT_00001.txt'))  # metadata
    build.main(['lrw', '--src', str(lrw), '--out-dir', str(tmp_path)])
    assert open(tmp_path / 'lrw_train_list.txt').read() == (
        'ABOUT/train/ABOUT_00001.mp4 0\nZERO/train/ZERO_00001.mp4 1\n')
    assert open(tmp_path / 'lrw_classes.txt').read() == 'ABOUT\nZERO\n'

    splits = tmp_path / 'splits'
    splits.mkdir()
    for split, pairs in (('train', [['071', '054'], ['001', '002']]),
                         ('val', [['003', '004']]), ('test', [['005',
                                                              '006']])):
        (splits / f'{split}.json').write_text(json.dumps(pairs))
    build.main(['ffpp', '--src', str(splits), '--out-dir', str(tmp_path),
                '--methods', 'Deepfakes', 'FaceSwap'])
    test = open(tmp_path / 'ffpp_test_c23.txt').read().split('\n')[:-1]
    assert test == [
        'original_sequences/youtube/c23/videos/005.mp4 0',
        'original_sequences/youtube/c23/videos/006.mp4 0',
        'manipulated_sequences/Deepfakes/c23/videos/005_006.mp4 1',
        'manipulated_sequences/Deepfakes/c23/videos/006_005.mp4 1',
        'manipulated_sequences/FaceSwap/c23/videos/005_006.mp4 1',
        'manipulated_sequences/FaceSwap/c23/videos/006_005.mp4 1',
    ]
    train = open(tmp_path / 'ffpp_train_c23.txt').read().split('\n')[:-1]
    assert len(train) == 2 * (2 + 2 * 2)


def _test_sample(cfg_path, root, rel, opts):
    """The config's test dataset on ``root`` (one real video at ``rel``),
    first sample through its test pipeline."""
    cfg = Config.fromfile(cfg_path)
    ds_cfg = cfg.test_dataloader.dataset
    ann = root / 'list.txt'
    ann.write_text(f'{rel} 1\n')
    ds_cfg.update(ann_file=str(ann), data_prefix=dict(video=str(root)),
                  **opts)
    ds_cfg.pop('type')
    return AVVideoDataset(**ds_cfg), cfg


def test_lrw_config_reads_the_whole_word_clip(tmp_path):
    rel = 'ABOUT/test/ABOUT_00001.mp4'
    make_av_video(str(tmp_path / rel), num_frames=29, fps=25.0,
                  size=(128, 128), audio=False)
    ds, cfg = _test_sample(LRW, tmp_path, rel, dict(num_classes=500))
    assert cfg.model.cls_head.num_classes == 500
    out = ds[0]
    (video, ) = out['inputs']['video']
    assert video.shape == (3, 29, 112, 112)
    assert list(out['data_samples'].view_meta[0]['frame_inds']) == list(
        range(29))


def test_ffpp_config_tests_ten_clips_with_auc(tmp_path):
    # UCF101's test views: 10 clips x 3 crops, averaged per video
    rel = 'manipulated_sequences/Deepfakes/c23/videos/005_006.mp4'
    make_av_video(str(tmp_path / rel), num_frames=60, fps=25.0,
                  size=(128, 160), audio=False)
    ds, cfg = _test_sample(FFPP, tmp_path, rel, dict(num_classes=2))
    out = ds[0]
    assert len(out['inputs']['video']) == 30
    assert out['inputs']['video'][0].shape == (3, 16, 112, 112)
    assert int(out['data_samples'].gt_label) == 1
    types = [m['type'] for m in cfg.test_evaluator]
    assert types == ['AccuracyMetric', 'BinaryAUCMetric']
    assert cfg.model.backbone.type == 'TwoPathwayResNet3d'
