"""Retrieval / kNN functions against slow loop references and hand cases."""
import math

import numpy as np
import pytest
import torch

from mmavcl.evaluation.functional import (average_by_video, knn_classify,
                                          retrieval_recall, topk_correct)


def _cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def ref_recall(q, qy, g, gy, ks, q_ids=None, g_ids=None):
    """Sort the gallery by similarity, negatives first among equals; a hit
    at k is a positive among the first k (items of the query's own video
    are dropped)."""
    hits = {k: 0 for k in ks}
    for i in range(len(q)):
        items = [(-_cos(q[i], g[j]), gy[j] == qy[i]) for j in range(len(g))
                 if q_ids is None or q_ids[i] != g_ids[j]]
        items.sort(key=lambda t: (t[0], t[1]))  # False (negative) first
        for k in ks:
            hits[k] += any(p for _, p in items[:k])
    return {f'R@{k}': 100.0 * hits[k] / len(q) for k in ks}


def ref_knn(q, qy, g, gy, k, t, ncls, ms, q_ids=None, g_ids=None):
    hits = {m: 0 for m in ms}
    for i in range(len(q)):
        items = [(-_cos(q[i], g[j]), j) for j in range(len(g))
                 if q_ids is None or q_ids[i] != g_ids[j]]
        items.sort()
        votes = [0.0] * ncls
        for negs, j in items[:k]:
            votes[gy[j]] += math.exp(-negs / t)
        rank = sum(1 for c in range(ncls)
                   if c != qy[i] and votes[c] >= votes[qy[i]])
        for m in ms:
            hits[m] += rank < m
    return {f'top{m}': 100.0 * hits[m] / len(q) for m in ms}


KS = (1, 5, 10, 20, 50)


@pytest.mark.parametrize('seed', [0, 1])
@pytest.mark.parametrize('chunk', [1, 7, 4096])
def test_recall_matches_reference_random(seed, chunk):
    rng = np.random.default_rng(seed)
    q, g = rng.normal(size=(23, 6)), rng.normal(size=(31, 6))
    qy, gy = rng.integers(0, 5, 23), rng.integers(0, 5, 31)
    got = retrieval_recall(q, qy, g, gy, KS, chunk_size=chunk)
    # k = 50 exceeds the 31-item gallery
    assert got == pytest.approx(ref_recall(q, qy, g, gy, KS))
    assert got['R@50'] == 100.0 * np.isin(qy, gy).mean()


def test_recall_ties_count_against_query():
    # one-hot features make every similarity exactly 0 or 1
    e = np.eye(3)
    g = np.stack([e[0], e[0], e[1], e[0]])
    gy = np.array([1, 0, 0, 0])  # item 0 is the only other-class twin
    q, qy = e[[0, 1]], np.array([0, 2])
    got = retrieval_recall(q, qy, g, gy, (1, 2, 3, 10))
    # query 0: positives 1, 3 tie (sim 1) with negative 0 -> rank 1;
    # query 1 (class 2) has no positive in the gallery: never a hit.
    assert got == {'R@1': 0.0, 'R@2': 50.0, 'R@3': 50.0, 'R@10': 50.0}
    assert got == pytest.approx(ref_recall(q, qy, g, gy, (1, 2, 3, 10)))
    # a collapsed representation scores 0 while a negative exists
    const = np.ones((5, 4))
    y = np.array([0, 0, 1, 1, 1])
    collapsed = retrieval_recall(const, y, const, y, (1, 2, 3, 4),
                                 query_ids=list('abcde'),
                                 gallery_ids=list('abcde'))
    # class 0 queries see 3 negatives, class 1 queries see 2
    assert collapsed == {'R@1': 0.0, 'R@2': 0.0, 'R@3': 60.0, 'R@4': 100.0}


def test_recall_leave_one_out_and_clip_ids():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(12, 5))
    y = rng.integers(0, 3, 12)
    ids = np.repeat(['v0', 'v1', 'v2', 'v3'], 3)
    y = np.repeat(y[::3], 3)
    got = retrieval_recall(f, y, f, y, (1, 3), query_ids=ids,
                           gallery_ids=ids, chunk_size=5)
    assert got == pytest.approx(ref_recall(f, y, f, y, (1, 3), ids, ids))


@pytest.mark.parametrize('k,t', [(1, 0.07), (4, 0.1), (200, 0.5)])
@pytest.mark.parametrize('chunk', [3, 1000])
def test_knn_matches_reference_random(k, t, chunk):
    rng = np.random.default_rng(k)
    q, g = rng.normal(size=(17, 8)), rng.normal(size=(29, 8))
    qy, gy = rng.integers(0, 6, 17), rng.integers(0, 6, 29)
    got = knn_classify(q, qy, g, gy, k=k, temperature=t, num_classes=6,
                       topk=(1, 2, 5), chunk_size=chunk)
    assert got == pytest.approx(ref_knn(q, qy, g, gy, k, t, 6, (1, 2, 5)))


def test_knn_hand_case_and_ties():
    e = np.eye(2)
    d = np.array([1.0, 1.0]) / math.sqrt(2)
    # query e0: neighbours e0 (class 1, sim 1), d (class 0, sim .707),
    # d (class 0), e1 (class 1, sim 0)
    g = np.stack([e[0], d, d, e[1]])
    gy = np.array([1, 0, 0, 1])
    q, qy = e[[0]], np.array([0])
    s = 1 / math.sqrt(2)
    # k=1: only class 1 votes -> wrong
    assert knn_classify(q, qy, g, gy, k=1, temperature=1.0)['top1'] == 0
    # k=3, t=1: class 0 gets 2 e^.707 = 4.06 > e^1 = 2.72 -> right
    assert 2 * math.exp(s) > math.exp(1)
    assert knn_classify(q, qy, g, gy, k=3, temperature=1.0)['top1'] == 100
    # k=3, t=0.1: e^10 beats 2 e^7.07 -> wrong
    assert knn_classify(q, qy, g, gy, k=3, temperature=0.1)['top1'] == 0
    # equal similarities: the lower gallery index is the neighbour, and a
    # tie in the vote counts against the query
    g2, gy2 = np.stack([e[0], e[0]]), np.array([1, 0])
    assert knn_classify(q, qy, g2, gy2, k=1, temperature=1.0,
                        topk=(1, 2)) == {'top1': 0.0, 'top2': 100.0}
    assert knn_classify(q, qy, g2, gy2, k=2, temperature=1.0,
                        topk=(1, 2)) == {'top1': 0.0, 'top2': 100.0}
    gy3 = np.array([0, 1])
    assert knn_classify(q, qy, g2, gy3, k=1, temperature=1.0)['top1'] == 100


def test_knn_leave_one_out():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(10, 4))
    y = rng.integers(0, 3, 10)
    ids = [f'v{i}' for i in range(10)]
    got = knn_classify(f, y, f, y, k=3, temperature=0.2, num_classes=3,
                       query_ids=ids, gallery_ids=ids)
    assert got == pytest.approx(
        ref_knn(f, y, f, y, 3, 0.2, 3, (1, 5), ids, ids))


def test_topk_correct_hand_counted():
    s = torch.tensor([[0.1, 0.5, 0.4], [0.3, 0.3, 0.4], [1., 1., 1.],
                      [0.2, 0.1, 0.7]])
    y = torch.tensor([1, 0, 2, 0])
    assert topk_correct(s, y, 1).tolist() == [True, False, False, False]
    assert topk_correct(s, y, 2).tolist() == [True, False, False, True]
    assert topk_correct(s, y, 3).tolist() == [True, True, True, True]


def test_average_by_video():
    f = np.array([[3.0, 4.0], [0.0, 2.0], [1.0, 0.0]])
    mean, y, ids = average_by_video(f, [1, 1, 0], ['b', 'b', 'a'])
    assert ids.tolist() == ['b', 'a'] and y.tolist() == [1, 0]
    assert mean.numpy() == pytest.approx(
        np.array([[0.3, 0.9], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="video 'b'"):
        average_by_video(f, [1, 2, 0], ['b', 'b', 'a'])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match='gallery: 3 features but 2'):
        retrieval_recall(np.ones((2, 3)), [0, 1], np.ones((3, 3)), [0, 1])
    with pytest.raises(ValueError, match='temperature'):
        knn_classify(np.ones((2, 3)), [0, 1], np.ones((2, 3)), [0, 1],
                     temperature=0)


def test_automatic_block_size_follows_gallery(monkeypatch):
    from mmavcl.evaluation.functional import retrieval as mod
    rng = np.random.default_rng(7)
    q, g = rng.normal(size=(9, 3)), rng.normal(size=(13, 3))
    qy, gy = rng.integers(0, 3, 9), rng.integers(0, 3, 13)
    full = retrieval_recall(q, qy, g, gy, (1, 3))
    knn = knn_classify(q, qy, g, gy, k=3, num_classes=3)
    assert mod._rows_per_block(13, None) == mod.BLOCK_ELEMENTS // 13
    monkeypatch.setattr(mod, 'BLOCK_ELEMENTS', 30)  # 2 query rows per block
    assert mod._rows_per_block(13, None) == 2
    assert retrieval_recall(q, qy, g, gy, (1, 3)) == full
    assert knn_classify(q, qy, g, gy, k=3, num_classes=3) == knn
    with pytest.raises(ValueError, match='chunk_size must be >= 1'):
        retrieval_recall(q, qy, g, gy, chunk_size=0)
