"""Classification accuracy at clip and video level."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmavcl.evaluation.functional import topk_correct
from mmavcl.registry import METRICS


def _to_tensor(x) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    return torch.as_tensor(np.asarray(x))


def mean_class_accuracy(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in ``labels`` of each class's top-1
    recall: ``1/|C| sum_c |{i: y_i = c, hit_i}| / |{i: y_i = c}|`` (%)."""
    hit = topk_correct(scores, labels, 1).to(torch.float64)
    classes = torch.unique(labels)
    per_class = [hit[labels == c].mean() for c in classes]
    return float(torch.stack(per_class).mean() * 100)


@METRICS.register_module()
class AccuracyMetric(BaseMetric):
    """Top-k and mean-class accuracy of a recognizer, per clip and per video.

    Reads from each prediction ``pred_score`` ``(C,)`` (the view-averaged
    score), optionally ``clip_scores`` ``(V, C)`` (one row per test view, set
    by :class:`AVRecognizer` when ``test_cfg.keep_clip_scores``), ``gt_label``
    and ``video_id``.

    * **video level**: the score rows of every prediction that shares a
      ``video_id`` are averaged, then ranked;
    * **clip level**: every score row counts on its own.

    A class is in the top ``k`` when fewer than ``k`` other classes score at
    least as high (ties count against the prediction, so a constant output is
    always wrong).

    Keys (under ``prefix``, default ``acc``): ``top{k}``, ``mean_class``,
    ``clip_top{k}``, ``clip_mean_class``.

    Args:
        topk: Cut-offs, default ``(1, 5)``.
        levels: Any of ``'video'`` and ``'clip'``.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: Key prefix.
    """
    default_prefix: Optional[str] = 'acc'

    def __init__(self,
                 topk: Sequence[int] = (1, 5),
                 levels: Sequence[str] = ('video', 'clip'),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = tuple(int(k) for k in topk)
        bad = set(levels) - {'video', 'clip'}
        if bad or not levels:
            raise ValueError(f'levels must be a non-empty subset of '
                             f"('video', 'clip'), got {levels}")
        self.levels = tuple(levels)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            if 'gt_label' not in ds:
                raise KeyError('AccuracyMetric needs `gt_label` in every '
                               f"data sample ({ds.get('video_id', '?')})")
            if 'clip_scores' in ds:
                scores = _to_tensor(ds['clip_scores']).float()
            else:
                scores = _to_tensor(ds['pred_score']).float().reshape(1, -1)
            self.results.append(
                dict(scores=scores,
                     label=int(_to_tensor(ds['gt_label']).reshape(-1)[0]),
                     video_id=ds.get('video_id')))

    def _scores(self, scores: torch.Tensor, labels: torch.Tensor,
                tag: str) -> Dict[str, float]:
        out = OrderedDict()
        for k in self.topk:
            out[f'{tag}top{k}'] = float(
                topk_correct(scores, labels, k).double().mean() * 100)
        out[f'{tag}mean_class'] = mean_class_accuracy(scores, labels)
        return out

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        out: Dict[str, float] = OrderedDict()
        if 'video' in self.levels:
            groups: Dict[str, List[torch.Tensor]] = OrderedDict()
            labels: Dict[str, int] = {}
            for i, r in enumerate(results):
                vid = r['video_id'] if r['video_id'] is not None else f'#{i}'
                groups.setdefault(vid, []).append(r['scores'])
                if labels.setdefault(vid, r['label']) != r['label']:
                    raise ValueError(f'video {vid!r} has predictions with '
                                     'different labels')
            scores = torch.stack(
                [torch.cat(g).mean(0) for g in groups.values()])
            out.update(
                self._scores(scores, torch.tensor(list(labels.values())), ''))
        if 'clip' in self.levels:
            scores = torch.cat([r['scores'] for r in results])
            labels = torch.cat([
                torch.full((r['scores'].shape[0], ), r['label'])
                for r in results
            ])
            out.update(self._scores(scores, labels, 'clip_'))
        return out
