"""Sound-source localization scores (#24 item 1, metric part): cIoU of
hand-built maps with known boxes, cIoU@0.5 and AUC of a hand-made list,
and SoundLocalizationMetric through process / compute_metrics."""
import numpy as np
import pytest
import torch

from mmavcl.evaluation import SoundLocalizationMetric
from mmavcl.evaluation.functional import ciou_summary, consensus_iou


def _box(y0, y1, x0, x1, value=1.0, size=8):
    m = np.zeros((size, size))
    m[y0:y1, x0:x1] = value
    return m


def test_ciou_of_hand_built_maps():
    gt = _box(0, 4, 0, 4)                        # 16 px
    pred = _box(0, 4, 0, 6)                      # 24 px, covers the box
    # 16 / (16 + 8 predicted outside the box)
    assert consensus_iou(pred, gt, threshold=0.5) == pytest.approx(2 / 3)
    # soft consensus 0.5 on the box: 8 / (8 + 8)
    assert consensus_iou(pred, _box(0, 4, 0, 4, 0.5),
                         threshold=0.5) == pytest.approx(0.5)
    # default threshold: the median value; pixels strictly above it
    ranks = np.arange(64, dtype=float).reshape(8, 8)   # value 32 at (4, 0)
    assert consensus_iou(ranks, _box(4, 8, 0, 8)) == pytest.approx(31 / 32)
    # nothing predicted inside the box
    assert consensus_iou(_box(4, 8, 4, 8), gt, threshold=0.5) == 0.0
    with pytest.raises(ValueError, match='one size'):
        consensus_iou(np.zeros((8, 8)), np.zeros((4, 4)))


def test_ciou_at_half_and_auc():
    out = ciou_summary([0.22, 0.52, 0.77, 1.0])
    assert out['cIoU@0.5'] == pytest.approx(75.0)
    # success over t = 0, 0.05, ..., 1: 1 (5 thresholds), 0.75 (6),
    # 0.5 (5), 0.25 (5); trapezoids of width 0.05
    s = [1] * 5 + [.75] * 6 + [.5] * 5 + [.25] * 5
    auc = sum((a + b) / 2 * 0.05 for a, b in zip(s[:-1], s[1:]))
    assert auc == pytest.approx(0.63125)
    assert out['AUC'] == pytest.approx(100 * auc)
    assert out['mean_cIoU'] == pytest.approx(100 * np.mean(
        [0.22, 0.52, 0.77, 1.0]))


def test_metric_from_predictions():
    metric = SoundLocalizationMetric()
    ranks = torch.arange(64, dtype=torch.float32).reshape(8, 8)
    metric.process({}, [
        dict(pred_heatmap=ranks, gt_heatmap=torch.from_numpy(
            _box(4, 8, 0, 8))),                  # 31/32
        dict(pred_heatmap=ranks, gt_heatmap=torch.from_numpy(
            _box(0, 4, 0, 8))),                  # 0
    ])
    out = metric.compute_metrics(metric.results)
    assert out['cIoU@0.5'] == pytest.approx(50.0)
    assert out['mean_cIoU'] == pytest.approx(100 * 31 / 64)
    with pytest.raises(KeyError, match='gt_heatmap'):
        metric.process({}, [dict(pred_heatmap=ranks)])


def test_ground_truth_consensus_of_three_annotators():
    """A 4x4 frame, three annotators (Flickr-SoundNet has three): A marks
    the left half, B the top-left quarter, C the top-left quarter twice
    (two overlapping boxes). Box counts per pixel: top-left quarter 4
    (A, B, C, C), bottom-left quarter 1, right half 0."""
    from mmavcl.evaluation.metrics import box_map
    left = [0, 0, 0.5, 1]
    top_left = [0, 0, 0.5, 0.5]
    annotators = [[left], [top_left], [top_left, top_left]]
    q = np.zeros((4, 4))
    tl, bl = q.copy(), q.copy()
    tl[:2, :2] = 1
    bl[2:, :2] = 1
    # Flickr's evaluation: min(count / 2, 1)
    flickr = box_map(annotators, (4, 4), (4, 4), consensus='flickr')
    np.testing.assert_array_equal(flickr, tl * 1 + bl * 0.5)
    # VGG-SS: any box
    union = box_map(annotators, (4, 4), (4, 4), consensus='union')
    np.testing.assert_array_equal(union, tl + bl)
    # mean over annotators of each one's union: top-left 3/3, bottom-left 1/3
    mean = box_map(annotators, (4, 4), (4, 4), consensus='mean')
    np.testing.assert_allclose(mean, tl + bl / 3)
    # one annotator, one box: its 0/1 mask, but half weight under Flickr's
    # rule (one box is half a consensus there)
    for rule in ('union', 'mean'):
        np.testing.assert_array_equal(
            box_map([[top_left]], (4, 4), (4, 4), consensus=rule), tl)
    np.testing.assert_array_equal(
        box_map([[top_left]], (4, 4), (4, 4), consensus='flickr'), tl / 2)
    with pytest.raises(ValueError, match='consensus'):
        box_map(annotators, (4, 4), (4, 4), consensus='vote')
    # the cIoU this changes: a prediction of the left half
    pred = np.zeros((4, 4))
    pred[:, :2] = 1
    from mmavcl.evaluation.functional import consensus_iou
    assert consensus_iou(pred, flickr, threshold=0.5) == pytest.approx(
        (4 * 1 + 4 * 0.5) / (4 * 1 + 4 * 0.5))
    assert consensus_iou(pred, mean, threshold=0.5) == pytest.approx(1.0)
    # a prediction of the top-left quarter only
    pred = tl.copy()
    assert consensus_iou(pred, flickr, threshold=0.5) == pytest.approx(
        4 / (4 + 4 * 0.5))
    assert consensus_iou(pred, mean, threshold=0.5) == pytest.approx(
        4 / (4 + 4 / 3))
