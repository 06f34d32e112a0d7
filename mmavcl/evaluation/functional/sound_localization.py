"""Sound-source localization scores: consensus IoU (cIoU) and its AUC.

The Flickr-SoundNet / VGG-SS protocol (Senocak et al., CVPR 2018; Chen et
al., CVPR 2021): a predicted audio-visual similarity map ``s (H, W)`` is
binarised at its median (the top half of the pixels is "sounding"), and
compared with a ground-truth map ``g (H, W)`` in ``[0, 1]`` (the annotators'
consensus; a box mask is a 0/1 map):

    cIoU = sum(p * g) / (sum(g) + sum(p * [g == 0]))

A sample counts as localized at threshold ``t`` when ``cIoU >= t``;
``cIoU@0.5`` is the percentage localized at 0.5, ``AUC`` the area (in
percent) under the success rate over ``t in {0, 0.05, ..., 1}``
(trapezoids).
"""
from typing import Dict, Optional, Sequence

import numpy as np

__all__ = ['consensus_iou', 'ciou_summary']


def consensus_iou(pred: np.ndarray, gt: np.ndarray,
                  threshold: Optional[float] = None) -> float:
    """cIoU of one predicted map against one ground-truth map.

    Args:
        pred: ``(H, W)`` similarity map (any scale).
        gt: ``(H, W)`` ground truth in ``[0, 1]`` (same size as ``pred``).
        threshold: Pixels above it are predicted sounding; default the
            map's median (half of the pixels).

    Returns:
        cIoU in ``[0, 1]``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f'prediction {pred.shape} and ground truth '
                         f'{gt.shape} must be (H, W) maps of one size')
    if threshold is None:
        threshold = float(np.sort(pred.ravel())[pred.size // 2])
    p = (pred > threshold).astype(np.float64)
    denom = gt.sum() + (p * (gt == 0)).sum()
    return float((p * gt).sum() / denom) if denom > 0 else 0.0


def ciou_summary(cious: Sequence[float],
                 at: float = 0.5,
                 thresholds: Optional[Sequence[float]] = None
                 ) -> Dict[str, float]:
    """``{'cIoU@0.5': %, 'AUC': %, 'mean_cIoU': %}`` of per-sample cIoUs."""
    c = np.asarray(cious, dtype=np.float64)
    if not len(c):
        raise ValueError('no cIoU values')
    t = np.linspace(0, 1, 21) if thresholds is None else np.asarray(
        thresholds, dtype=np.float64)
    success = (c[None] >= t[:, None]).mean(axis=1)
    auc = float(np.sum((success[1:] + success[:-1]) / 2 * np.diff(t)))
    return {f'cIoU@{at:g}': float((c >= at).mean() * 100),
            'AUC': auc * 100, 'mean_cIoU': float(c.mean() * 100)}
