"""Registered metrics inside mmengine's Evaluator, and from feature files."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from mmavcl.evaluation.functional import (knn_classify, retrieval_recall,
                                          save_features)
from mmavcl.registry import METRICS
from mmavcl.structures import AVDataSample


def _evaluator(*cfgs):
    return Evaluator([METRICS.build(c) for c in cfgs])


def _sample(label, vid, **fields):
    s = AVDataSample(metainfo=dict(video_id=vid)).set_gt_label(label)
    for k, v in fields.items():
        s.set_field(torch.as_tensor(v, dtype=torch.float32), k)
    return s


def test_accuracy_hand_counted_clip_and_video():
    metric = METRICS.build(dict(type='AccuracyMetric', topk=(1, 2)))
    ev = Evaluator(metric)
    # video a (label 0): clips [.6 .3 .1] and [.2 .5 .3] -> mean [.4 .4 .2]
    #   video: tie between 0 and 1 counts against -> top1 miss, top2 hit
    #   clips: hit; [.2 .5 .3] has two classes above -> top1/top2 miss
    # video b (label 2): clip scores [.1 .2 .7] -> all hits
    # video c (label 1): two predictions of one clip each, mean [.45 .35 .2]
    #   -> top1 miss, top2 hit; clips: [.5 .3 .2] miss/hit, [.4 .4 .2] tie
    #   -> miss/hit
    ev.process([
        _sample(0, 'a', clip_scores=[[.6, .3, .1], [.2, .5, .3]],
                pred_score=[.4, .4, .2]),
        _sample(2, 'b', pred_score=[.1, .2, .7]),
        _sample(1, 'c', pred_score=[.5, .3, .2]),
        _sample(1, 'c', pred_score=[.4, .4, .2]),
    ])
    out = ev.evaluate(4)
    assert out['acc/top1'] == pytest.approx(100 / 3)
    assert out['acc/top2'] == pytest.approx(100.0)
    # mean class: class 0 -> 0, class 1 -> 0, class 2 -> 1
    assert out['acc/mean_class'] == pytest.approx(100 / 3)
    # clip rows: a1 hit, a2 miss, b hit, c1 miss, c2 miss -> 2/5 top1;
    # top2 misses only a2 -> 4/5
    assert out['acc/clip_top1'] == pytest.approx(40.0)
    assert out['acc/clip_top2'] == pytest.approx(80.0)
    # clip mean class: class0 1/2, class1 0/2, class2 1/1 -> 0.5
    assert out['acc/clip_mean_class'] == pytest.approx(50.0)


def _feature_samples(feats, labels, ids, views):
    out = []
    for i in range(0, len(feats), views):
        out.append(_sample(int(labels[i]), str(ids[i]),
                           features=feats[i:i + views]))
    return out


@pytest.mark.parametrize('mode', ['video_mean', 'clip'])
def test_retrieval_and_knn_in_evaluator_match_functions(tmp_path, mode):
    rng = np.random.default_rng(0)
    views = 3
    # gallery (train) of 8 videos, queries (test) of 5 videos
    gy = np.repeat(rng.integers(0, 3, 8), views)
    qy = np.repeat(rng.integers(0, 3, 5), views)
    gf = rng.normal(size=(8 * views, 6)).astype(np.float32)
    qf = rng.normal(size=(5 * views, 6)).astype(np.float32)
    gid = np.repeat([f'train{i}' for i in range(8)], views)
    qid = np.repeat([f'test{i}' for i in range(5)], views)
    gfile = save_features(str(tmp_path / 'train.npz'), gf, gy, gid,
                          np.repeat(np.arange(8), views),
                          np.tile(np.arange(views), 8))
    ev = _evaluator(
        dict(type='RetrievalMetric', mode=mode, gallery_file=gfile,
             topk=(1, 5, 50)),
        dict(type='KNNAccuracy', mode=mode, gallery_file=gfile, k=4,
             temperature=0.1, num_classes=3))
    ev.process(_feature_samples(qf, qy, qid, views))
    out = ev.evaluate(5)
    if mode == 'video_mean':
        def mean(f):
            f = f / np.linalg.norm(f, axis=1, keepdims=True)
            return f.reshape(-1, views, f.shape[1]).mean(1)
        q, g, qyy, gyy = mean(qf), mean(gf), qy[::views], gy[::views]
    else:
        q, g, qyy, gyy = qf, gf, qy, gy
    rec = retrieval_recall(q, qyy, g, gyy, (1, 5, 50))
    knn = knn_classify(q, qyy, g, gyy, k=4, temperature=0.1, num_classes=3)
    assert {k: out[f'retrieval/{k}'] for k in rec} == pytest.approx(rec)
    assert {k: out[f'knn/{k}'] for k in knn} == pytest.approx(knn)


def test_leave_one_video_out_without_gallery():
    # two videos per class, features identical within a class: leaving the
    # query's own video out still finds the other one
    f = np.repeat(np.eye(2), 2, axis=0).astype(np.float32)
    y = np.array([0, 0, 1, 1])
    ids = ['a', 'b', 'c', 'd']
    ev = _evaluator(dict(type='RetrievalMetric', topk=(1, )))
    ev.process(_feature_samples(f, y, ids, 1))
    assert ev.evaluate(4) == {'retrieval/R@1': 100.0}
    # each class has only one video: nothing left to find
    ev = _evaluator(dict(type='RetrievalMetric', topk=(1, 3), mode='clip'))
    ev.process(_feature_samples(f, y, ['a', 'a', 'b', 'b'], 2))
    assert ev.evaluate(2) == {'retrieval/R@1': 0.0, 'retrieval/R@3': 0.0}


def test_missing_features_is_explained():
    ev = _evaluator(dict(type='KNNAccuracy'))
    with pytest.raises(KeyError, match='needs `features`'):
        ev.process([_sample(0, 'a', pred_score=[1.0])])
    with pytest.raises(ValueError, match='video_mean'):
        METRICS.build(dict(type='RetrievalMetric', mode='mean'))


def test_chunked_10k_by_10k_stays_linear_in_memory():
    """10k queries x 10k gallery with the default (automatic) block size: a
    full float64 similarity matrix alone would be 800 MB (and its masks and
    reductions several times that); the blocks take about 140 MB."""
    code = textwrap.dedent("""
        import resource, numpy as np, torch
        from mmavcl.evaluation.functional import retrieval_recall
        torch.set_num_threads(2)
        rng = np.random.default_rng(0)
        f = rng.normal(size=(10000, 8)).astype(np.float32)
        y = rng.integers(0, 100, 10000)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = retrieval_recall(f, y, f[::-1].copy(), y[::-1].copy())
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) / 1024, out['R@1'])
    """)
    res = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=300, env=dict(os.environ))
    assert res.returncode == 0, res.stderr
    grown_mb, r1 = map(float, res.stdout.split())
    assert grown_mb < 300, f'peak memory grew by {grown_mb:.0f} MB'
    assert r1 == 100.0  # every query finds itself (reversed gallery)
