"""Run a backbone once, keep its features, evaluate several protocols.

``extract_features`` writes the rows of a features file (see
:mod:`mmavcl.evaluation.functional.feature_file`); ``evaluate_feature_files``
runs retrieval and kNN from a gallery file (train split) and a query file
(test split) without touching the model again.
"""
import sys
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import collect_results, get_dist_info
from mmengine.utils import ProgressBar

from mmavcl.evaluation.functional import load_features
from mmavcl.evaluation.metrics import KNNAccuracy, RetrievalMetric

__all__ = ['extract_features', 'evaluate_feature_files']


@torch.no_grad()
def extract_features(model: torch.nn.Module, dataloader,
                     progress: bool = True,
                     keep_meta: bool = False
                     ) -> Optional[Dict[str, np.ndarray]]:
    """Pooled backbone features of every view of every sample.

    Works under ``torch.distributed``: each rank runs its share of the
    (``DefaultSampler``-split) data and rank 0 gets the rows of the whole
    dataset back in dataset order; the other ranks get ``None``.

    Args:
        model: An :class:`~mmavcl.models.AVRecognizer` (its ``predict``
            must set ``features`` ``(V, C)``); switched to eval mode.
        dataloader: A test-style dataloader (no shuffling).
        progress: Show a progress bar on rank 0.
        keep_meta: Also return ``total_frames (M,)`` and ``fps (M,)`` of
            each row's video (from the data samples' metainfo; -1 if
            absent).

    Returns:
        ``features (M, C)``, ``labels (M,)``, ``video_ids (M,)``,
        ``sample_idx (M,)``, ``view_idx (M,)`` with ``M = N x V`` (a
        sample's views may differ in number, e.g. per-snippet views).
    """
    if not hasattr(model, 'test_cfg') or not hasattr(model,
                                                     'pooled_features'):
        raise TypeError(f'{type(model).__name__} cannot extract features: '
                        'use a config whose model is an AVRecognizer')
    model.eval()
    model.test_cfg['keep_features'] = True
    rank, world = get_dist_info()
    dataset = dataloader.dataset
    # the current sys.stdout, not the one of mmengine's import time
    bar = ProgressBar(len(dataset), file=sys.stdout) \
        if progress and rank == 0 else None
    records = []
    for data in dataloader:
        samples = model.test_step(data)
        for ds in samples:
            feats = ds.features.detach().float().cpu().numpy()
            label = int(ds.gt_label.reshape(-1)[0]) if 'gt_label' in ds \
                else -1
            records.append(
                dict(features=feats, label=label,
                     video_id=str(ds.metainfo.get('video_id', '')),
                     sample_idx=int(ds.metainfo.get('sample_idx', -1)),
                     total_frames=int(ds.metainfo.get('total_frames', -1)),
                     fps=float(ds.metainfo.get('fps', -1))))
        if bar is not None:
            for _ in range(len(samples) * world):
                bar.update()
    if world > 1:
        records = collect_results(records, len(dataset), device='cpu')
        if rank != 0:
            return None
    if bar is not None:
        print()
    if not records:
        raise RuntimeError('the dataloader produced no samples')
    views = [len(r['features']) for r in records]
    out = dict(
        features=np.concatenate([r['features'] for r in records]),
        labels=np.repeat([r['label'] for r in records], views),
        video_ids=np.repeat([r['video_id'] for r in records], views),
        sample_idx=np.repeat([
            r['sample_idx'] if r['sample_idx'] >= 0 else i
            for i, r in enumerate(records)
        ], views),
        view_idx=np.concatenate([np.arange(v) for v in views]))
    if keep_meta:
        out['total_frames'] = np.repeat([r['total_frames'] for r in records],
                                        views)
        out['fps'] = np.repeat([r['fps'] for r in records], views)
    return out


def evaluate_feature_files(query_file: str,
                           gallery_file: str,
                           mode: str = 'video_mean',
                           topk: Sequence[int] = (1, 5, 10, 20, 50),
                           knn_k: Sequence[int] = (20, 200),
                           knn_temperature: float = 0.07,
                           chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Retrieval recall@k and weighted-kNN accuracy from two features files.

    Args:
        query_file: Features of the queries (e.g. the test split).
        gallery_file: Features of the gallery (e.g. the train split).
        mode: ``'video_mean'`` or ``'clip'`` (see :class:`RetrievalMetric`).
        topk: Recall cut-offs.
        knn_k: Neighbour counts; one kNN result per value.
        knn_temperature: kNN vote temperature.

    Returns:
        ``{'retrieval/R@k': ..., 'knn{k}/top1': ..., 'knn{k}/top5': ...}``.
    """
    q = load_features(query_file)
    g = load_features(gallery_file)
    if q['features'].shape[1] != g['features'].shape[1]:
        raise ValueError(f'{query_file} has {q["features"].shape[1]}-d '
                         f'features but {gallery_file} has '
                         f'{g["features"].shape[1]}-d ones')
    query = (q['features'], q['labels'], q['video_ids'])
    gallery = (g['features'], g['labels'], g['video_ids'])
    out = {}
    ret = RetrievalMetric(topk=topk, mode=mode, chunk_size=chunk_size)
    for k, v in ret.compute_from_arrays(query, gallery).items():
        out[f'retrieval/{k}'] = v
    for k in knn_k:
        knn = KNNAccuracy(k=k, temperature=knn_temperature, mode=mode,
                          chunk_size=chunk_size)
        for name, v in knn.compute_from_arrays(query, gallery).items():
            out[f'knn{k}/{name}'] = v
    return out
