"""Audio-visual event localization (AVE protocol) and binary ROC AUC."""
from typing import Dict, Sequence

import numpy as np

__all__ = ['segment_accuracy', 'binary_auc']


def segment_accuracy(pred: Sequence[np.ndarray], gt: Sequence[np.ndarray],
                     background: int) -> Dict[str, float]:
    """Per-segment accuracy of event localization (percent).

    AVE's metric: every one-second segment of every video is one item, the
    predicted label (an event category or ``background``) is right or
    wrong; the accuracy is the fraction of right items over all segments
    of all videos (not a mean over videos).

    Args:
        pred: Per video, predicted segment labels ``(S,)`` int.
        gt: Per video, ground-truth segment labels ``(S,)`` int.
        background: The background label.

    Returns:
        ``seg_acc`` (all segments), ``event_acc`` (segments whose ground
        truth is an event) and ``bg_acc`` (background segments); a subset
        without segments is left out.
    """
    if len(pred) != len(gt):
        raise ValueError(f'{len(pred)} predictions for {len(gt)} videos')
    p = np.concatenate([np.asarray(x).reshape(-1) for x in pred])
    g = np.concatenate([np.asarray(x).reshape(-1) for x in gt])
    if p.shape != g.shape:
        raise ValueError(f'predicted {p.shape[0]} segments, ground truth '
                         f'has {g.shape[0]}')
    hit = p == g
    out = {'seg_acc': 100.0 * float(hit.mean())}
    for key, mask in (('event_acc', g != background),
                      ('bg_acc', g == background)):
        if mask.any():
            out[key] = 100.0 * float(hit[mask].mean())
    return out


def binary_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of a binary score (percent).

    The Mann-Whitney form: the probability that a random positive scores
    higher than a random negative, a tie counting one half,
    ``(R_pos - P (P + 1) / 2) / (P N)`` with ``R_pos`` the sum of the
    positives' ranks among all scores (tied scores share their mean rank).
    This equals the trapezoidal area under the ROC curve drawn through
    every distinct threshold.

    Args:
        scores: ``(N,)`` higher = more likely positive.
        labels: ``(N,)`` 0/1 (or bool).

    Raises:
        ValueError: labels other than 0/1, or a class with no sample.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f'{s.shape[0]} scores for {y.shape[0]} labels')
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f'binary labels must be 0 or 1, got '
                         f'{sorted(set(y.tolist()))[:5]}')
    y = y.astype(bool)
    num_pos, num_neg = int(y.sum()), int((~y).sum())
    if not num_pos or not num_neg:
        raise ValueError(f'AUC needs both classes: {num_pos} positive, '
                         f'{num_neg} negative samples')
    # mean rank (1-based) of every group of equal scores
    uniq, inverse, counts = np.unique(s, return_inverse=True,
                                      return_counts=True)
    last = np.cumsum(counts)
    mean_rank = last - (counts - 1) / 2.0
    ranks = mean_rank[inverse]
    auc = (ranks[y].sum() - num_pos * (num_pos + 1) / 2.0) / (num_pos *
                                                               num_neg)
    return 100.0 * float(auc)
