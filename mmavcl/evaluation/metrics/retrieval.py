"""Nearest-neighbour retrieval and kNN metrics on backbone features."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmavcl.evaluation.functional import (average_by_video, knn_classify,
                                          load_features, retrieval_recall)
from mmavcl.registry import METRICS

__all__ = ['RetrievalMetric', 'KNNAccuracy', 'prepare_features']


def prepare_features(features, labels, video_ids, mode: str
                     ) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Rows per clip (``mode='clip'``) or one mean row per video
    (``mode='video_mean'``)."""
    if mode == 'video_mean':
        return average_by_video(features, labels, video_ids)
    if mode == 'clip':
        return (torch.as_tensor(np.asarray(features)),
                torch.as_tensor(np.asarray(labels)).long(),
                np.asarray(video_ids).astype(str))
    raise ValueError(f"mode must be 'video_mean' or 'clip', got {mode!r}")


class _FeatureMetric(BaseMetric):
    """Collects ``features`` ``(V, D)`` (one row per view), ``gt_label`` and
    ``video_id`` from the predictions of a feature-mode recognizer; the
    gallery is a features file or, when ``gallery_file=None``, the evaluated
    set itself with the query's own video left out.

    The arguments every feature metric takes (a subclass names ``topk``
    with its own default and passes the others on as keywords):

    Args:
        topk: Cut-offs ``k`` of the metric's ``@k`` values.
        mode: ``'video_mean'`` or ``'clip'`` (see :class:`RetrievalMetric`).
        gallery_file: Features ``.npz`` of the gallery; ``None`` uses the
            evaluated set leave-one-video-out.
        chunk_size: Queries per similarity block.
        collect_device, prefix: As for mmengine's ``BaseMetric``.
    """

    def __init__(self,
                 topk: Sequence[int],
                 mode: str = 'video_mean',
                 gallery_file: Optional[str] = None,
                 chunk_size: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if mode not in ('video_mean', 'clip'):
            raise ValueError(
                f"mode must be 'video_mean' or 'clip', got {mode!r}")
        self.topk = tuple(int(k) for k in topk)
        self.mode = mode
        self.gallery_file = gallery_file
        self.chunk_size = chunk_size

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for ds in data_samples:
            if 'features' not in ds:
                raise KeyError(
                    f'{type(self).__name__} needs `features` in the '
                    'predictions: use AVRecognizer without a head (or with '
                    'test_cfg.keep_features=True)')
            feats = ds['features']
            feats = (feats.detach().cpu().float().numpy() if isinstance(
                feats, torch.Tensor) else np.asarray(feats, np.float32))
            feats = feats.reshape(-1, feats.shape[-1])
            label = ds.get('gt_label', -1)
            label = int(torch.as_tensor(label).reshape(-1)[0])
            self.results.append(
                dict(features=feats, label=label,
                     video_id=str(ds.get('video_id', len(self.results)))))

    def _collect(self, results: List[dict]):
        feats = np.concatenate([r['features'] for r in results])
        labels = np.concatenate(
            [np.full(len(r['features']), r['label']) for r in results])
        ids = np.concatenate(
            [np.full(len(r['features']), r['video_id']) for r in results])
        return feats, labels, ids

    def compute_from_arrays(self, query: Tuple, gallery: Optional[Tuple]
                            ) -> Dict[str, float]:
        """``query``/``gallery``: ``(features, labels, video_ids)`` rows per
        clip; ``gallery=None`` for leave-one-video-out on the queries."""
        q = prepare_features(*query, self.mode)
        g = q if gallery is None else prepare_features(*gallery, self.mode)
        if (q[1] < 0).any() or (g[1] < 0).any():
            raise ValueError(f'{type(self).__name__}: unlabeled rows (label '
                             '-1) in the query or gallery features')
        return self._evaluate(q, g)

    def _evaluate(self, q, g) -> Dict[str, float]:
        raise NotImplementedError

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        gallery = None
        if self.gallery_file is None:
            print_log(f'{type(self).__name__}: no gallery_file, the evaluated '
                      'set is its own gallery (leave-one-video-out)',
                      logger='current', level=logging.WARNING)
        else:
            data = load_features(self.gallery_file)
            gallery = (data['features'], data['labels'], data['video_ids'])
        return self.compute_from_arrays(self._collect(results), gallery)


@METRICS.register_module()
class RetrievalMetric(_FeatureMetric):
    """Video retrieval recall@k (Xu et al., CVPR 2019 protocol).

    Queries (the evaluated set, usually the test split) are ranked against
    the gallery (``gallery_file``: the train split's features file) by
    cosine similarity; recall@k is the percentage of queries with a
    same-class item among the top ``k`` (ties count against the query, see
    :func:`mmavcl.evaluation.functional.retrieval_recall`).

    Args:
        topk: ``k`` values, default ``(1, 5, 10, 20, 50)``.
        mode: ``'video_mean'`` (clip features averaged per video, as in the
            VCOP/VCLR code) or ``'clip'`` (every clip is a query/gallery
            item; clips of the query's own video are excluded).
        gallery_file: Features ``.npz`` of the gallery; ``None`` uses the
            evaluated set leave-one-video-out.
        chunk_size: Queries per similarity block.
        collect_device, prefix: As for mmengine's ``BaseMetric``.

    Keys (prefix ``retrieval``): ``R@k``.
    """
    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 topk: Sequence[int] = (1, 5, 10, 20, 50),
                 **kwargs) -> None:
        super().__init__(topk, **kwargs)

    def _evaluate(self, q, g) -> Dict[str, float]:
        return retrieval_recall(q[0], q[1], g[0], g[1], topk=self.topk,
                                query_ids=q[2], gallery_ids=g[2],
                                chunk_size=self.chunk_size)


@METRICS.register_module()
class KNNAccuracy(_FeatureMetric):
    """Weighted kNN classification accuracy on frozen features.

    ``p_c(q) = sum_{i in N_k(q), y_i = c} exp(cos(q, g_i) / temperature)``,
    prediction ``argmax_c p_c`` (Wu et al., CVPR 2018; k=200, tau=0.07 are
    their defaults). See :func:`mmavcl.evaluation.functional.knn_classify`.

    Args:
        k: Neighbours.
        temperature: Vote temperature.
        topk: Accuracy cut-offs, default ``(1, 5)``.
        num_classes: Default: largest label + 1.
        mode, gallery_file, chunk_size, collect_device, prefix: As in
            :class:`RetrievalMetric`.

    Keys (prefix ``knn``): ``top1``, ``top5``.
    """
    default_prefix: Optional[str] = 'knn'

    def __init__(self,
                 k: int = 200,
                 temperature: float = 0.07,
                 topk: Sequence[int] = (1, 5),
                 num_classes: Optional[int] = None,
                 **kwargs) -> None:
        super().__init__(topk, **kwargs)
        self.k = k
        self.temperature = temperature
        self.num_classes = num_classes

    def _evaluate(self, q, g) -> Dict[str, float]:
        return knn_classify(q[0], q[1], g[0], g[1], k=self.k,
                            temperature=self.temperature,
                            num_classes=self.num_classes, topk=self.topk,
                            query_ids=q[2], gallery_ids=g[2],
                            chunk_size=self.chunk_size)
