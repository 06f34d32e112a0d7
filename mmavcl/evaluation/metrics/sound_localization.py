"""Sound-source localization metric (Flickr-SoundNet / VGG-SS)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmavcl.evaluation.functional import ciou_summary, consensus_iou
from mmavcl.registry import METRICS

__all__ = ['SoundLocalizationMetric']


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


@METRICS.register_module()
class SoundLocalizationMetric(BaseMetric):
    """cIoU@0.5 and AUC of predicted sounding-object maps.

    Each prediction carries ``pred_heatmap`` ``(H, W)`` (audio-visual
    similarity per location, at the ground truth's size) and ``gt_heatmap``
    ``(H, W)`` in ``[0, 1]``; see
    :func:`mmavcl.evaluation.functional.consensus_iou` (median threshold)
    and :func:`~mmavcl.evaluation.functional.ciou_summary`.

    Keys (prefix ``sound_loc``): ``cIoU@0.5``, ``AUC``, ``mean_cIoU``
    (percent).
    """
    default_prefix: Optional[str] = 'sound_loc'

    def __init__(self, at: float = 0.5,
                 thresholds: Optional[Sequence[float]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.at = at
        self.thresholds = thresholds

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            for key in ('pred_heatmap', 'gt_heatmap'):
                if key not in ds:
                    raise KeyError(f'SoundLocalizationMetric needs '
                                   f'`{key}` in every prediction')
            self.results.append(consensus_iou(_np(ds['pred_heatmap']),
                                              _np(ds['gt_heatmap'])))

    def compute_metrics(self, results: List[float]) -> Dict[str, float]:
        return ciou_summary(results, self.at, self.thresholds)
