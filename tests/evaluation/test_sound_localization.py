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
