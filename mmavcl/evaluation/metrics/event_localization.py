"""Audio-visual event localization metric (AVE protocol)."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmavcl.evaluation.functional import segment_accuracy
from mmavcl.registry import METRICS

__all__ = ['SegmentAccuracyMetric']


def _array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.int64).reshape(-1)


@METRICS.register_module()
class SegmentAccuracyMetric(BaseMetric):
    """Segment accuracy of audio-visual event localization.

    Each video is cut into ``S`` segments (AVE: 10 of one second), each
    labelled with an event category or background. Reads from each
    prediction ``pred_segment_labels`` ``(S,)`` (set by
    :class:`~mmavcl.models.AVEventLocalizer`) and the ground truth
    ``segment_labels`` ``(S,)`` (metainfo, from
    :class:`~mmavcl.datasets.AVEDataset`); the accuracy counts every
    segment of every video once (:func:`segment_accuracy`).

    Keys (prefix ``event_loc``, percent): ``seg_acc`` (AVE's number),
    ``event_acc`` (event segments only), ``bg_acc`` (background segments
    only), ``bg_baseline`` (what predicting background everywhere scores:
    the floor a localizer has to beat).

    Args:
        background: The background label (AVE: 28, after the 28
            categories).
    """
    default_prefix: Optional[str] = 'event_loc'

    def __init__(self,
                 background: int,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.background = int(background)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            for key in ('pred_segment_labels', 'segment_labels'):
                if key not in ds:
                    raise KeyError(
                        f'SegmentAccuracyMetric needs `{key}` in every data '
                        f"sample ({ds.get('video_id', '?')}); the model is "
                        'an AVEventLocalizer and the dataset an AVEDataset')
            self.results.append(
                dict(pred=_array(ds['pred_segment_labels']),
                     gt=_array(ds['segment_labels'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        pred = [r['pred'] for r in results]
        gt = [r['gt'] for r in results]
        out = segment_accuracy(pred, gt, self.background)
        out['bg_baseline'] = segment_accuracy(
            [np.full_like(g, self.background) for g in gt], gt,
            self.background)['seg_acc']
        return out
