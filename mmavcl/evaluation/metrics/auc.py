"""Binary ROC AUC of a two-class recognizer (deepfake detection)."""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

import torch

from mmavcl.evaluation.functional import binary_auc
from mmavcl.registry import METRICS
from .accuracy import AccuracyMetric

__all__ = ['BinaryAUCMetric']


@METRICS.register_module()
class BinaryAUCMetric(AccuracyMetric):
    """ROC AUC of the positive class's score, per video and per clip.

    Reads what :class:`AccuracyMetric` reads (``pred_score`` or
    ``clip_scores``, ``gt_label``, ``video_id``) and groups the same way:
    at video level the score rows of a video (its clips, and every
    prediction sharing its ``video_id``) are averaged first, as the
    video-level AUC of FaceForensics++ / DFDC evaluations is; at clip level
    every row counts. The AUC is that of ``score[:, positive_index]``
    against ``label == positive_index``
    (:func:`mmavcl.evaluation.functional.binary_auc`: ties count one half).

    Keys (prefix ``binary``): ``auc`` (video level), ``clip_auc``
    (percent).

    Args:
        positive_index: The class whose score ranks the samples (``1`` =
            fake in the deepfake configs).
        levels: Any of ``'video'`` and ``'clip'``.
    """
    default_prefix: Optional[str] = 'binary'

    def __init__(self,
                 positive_index: int = 1,
                 levels: Sequence[str] = ('video', ),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(topk=(1, ), levels=levels,
                         collect_device=collect_device, prefix=prefix)
        self.positive_index = int(positive_index)

    def _scores(self, scores: torch.Tensor, labels: torch.Tensor,
                tag: str) -> Dict[str, float]:
        if not 0 <= self.positive_index < scores.shape[1]:
            raise ValueError(f'positive_index {self.positive_index} outside '
                             f'the {scores.shape[1]} scored classes')
        pos = self.positive_index
        return OrderedDict({
            f'{tag}auc': binary_auc(scores[:, pos].double().numpy(),
                                    (labels == pos).long().numpy())
        })
