"""Feature-space evaluation: nearest-neighbour retrieval and weighted kNN.

Both work on L2-normalised features with cosine similarity, and both process
the queries in chunks of ``chunk_size`` rows so that the similarity matrix is
never held whole: ``Q x G`` queries against a gallery cost
``chunk_size x G`` floats of memory, not ``Q x G``.

Ties are resolved by explicit, order-independent rules (stated in each
function) so that a collapsed representation, where every feature is the
same, cannot score well by luck of the gallery order.
"""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    'BLOCK_ELEMENTS', 'l2_normalize', 'average_by_video', 'retrieval_recall', 'knn_classify',
    'topk_correct'
]


def l2_normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Row-wise L2 normalisation of ``(N, D)`` features (float64)."""
    return F.normalize(x.to(torch.float64), dim=1, eps=eps)


def _as_tensor(x, dtype=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        t = torch.from_numpy(np.ascontiguousarray(np.asarray(x)))
    return t.to(dtype) if dtype is not None else t


def average_by_video(features, labels, video_ids: Sequence[str]
                     ) -> Tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Average the clip features of each video into one vector.

    This is the ``video_mean`` retrieval protocol of the VCOP code
    (Xu et al., CVPR 2019, ``retrieve_clips.py``): each clip feature is
    L2-normalised, the clips of a video are averaged, and the mean is
    normalised again by the caller.

    Args:
        features: ``(M, D)`` clip features.
        labels: ``(M,)`` class labels; all clips of a video must agree.
        video_ids: ``(M,)`` video identifiers.

    Returns:
        ``(V, D)`` mean features, ``(V,)`` labels and ``(V,)`` ids, in order
        of first appearance.
    """
    feats = l2_normalize(_as_tensor(features))
    labels = _as_tensor(labels, torch.long).reshape(-1)
    ids = np.asarray(video_ids).astype(str)
    if not (len(ids) == len(labels) == feats.shape[0]):
        raise ValueError(f'features ({feats.shape[0]}), labels ({len(labels)})'
                         f' and video ids ({len(ids)}) must have equal length')
    uniq, first, inverse = np.unique(ids, return_index=True,
                                     return_inverse=True)
    order = np.argsort(first, kind='stable')  # first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = torch.from_numpy(rank[inverse].astype(np.int64))
    num = len(uniq)
    sums = torch.zeros(num, feats.shape[1], dtype=feats.dtype)
    sums.index_add_(0, group, feats)
    counts = torch.bincount(group, minlength=num).to(feats.dtype)
    vid_labels = torch.full((num, ), -1, dtype=torch.long)
    vid_labels[group] = labels
    clash = vid_labels[group] != labels
    if clash.any():
        bad = str(ids[int(torch.nonzero(clash)[0])])
        raise ValueError(f'video {bad!r} has clips with different labels')
    return sums / counts[:, None], vid_labels, uniq[order]


def _exclusion(q_ids: Optional[np.ndarray], g_ids: Optional[np.ndarray],
               start: int, stop: int) -> Optional[torch.Tensor]:
    if q_ids is None or g_ids is None:
        return None
    return torch.from_numpy(q_ids[start:stop, None] == g_ids[None, :])


#: similarity entries per block when ``chunk_size`` is not given: 32 MB of
#: float64 similarities, about 4x that at peak with the masks and sorts of a
#: block (measured: +140 MB for 10k x 10k); rows per block shrink as the
#: gallery grows, so memory does not depend on the gallery size
BLOCK_ELEMENTS = 1 << 22


def _rows_per_block(gallery_size: int, chunk_size: Optional[int]) -> int:
    if chunk_size is not None:
        if chunk_size < 1:
            raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
        return chunk_size
    return max(1, BLOCK_ELEMENTS // max(gallery_size, 1))


def _check(name, feats, labels):
    if feats.ndim != 2:
        raise ValueError(f'{name} features must be (N, D), got '
                         f'{tuple(feats.shape)}')
    if labels.shape[0] != feats.shape[0]:
        raise ValueError(f'{name}: {feats.shape[0]} features but '
                         f'{labels.shape[0]} labels')


def _normalized_pairs(query_feats, query_labels, gallery_feats,
                      gallery_labels) -> Tuple[torch.Tensor, ...]:
    """L2-normalised ``(q (Nq, D), qy (Nq,), g (Ng, D), gy (Ng,))``, with
    the shapes checked."""
    q = l2_normalize(_as_tensor(query_feats))
    g = l2_normalize(_as_tensor(gallery_feats))
    qy = _as_tensor(query_labels, torch.long).reshape(-1)
    gy = _as_tensor(gallery_labels, torch.long).reshape(-1)
    _check('query', q, qy)
    _check('gallery', g, gy)
    return q, qy, g, gy


def retrieval_recall(query_feats,
                     query_labels,
                     gallery_feats,
                     gallery_labels,
                     topk: Sequence[int] = (1, 5, 10, 20, 50),
                     query_ids: Optional[Sequence[str]] = None,
                     gallery_ids: Optional[Sequence[str]] = None,
                     chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Recall@k of class-level retrieval with cosine similarity.

    A query is a hit at ``k`` when one of the ``k`` gallery items most
    similar to it has the query's class. With ``s* = max_{g: y_g = y_q}
    cos(q, g)`` (the best same-class item), the query's rank is

        r(q) = |{g : y_g != y_q, cos(q, g) >= s*}|

    i.e. ties between the best positive and a negative count against the
    query, and ``hit@k = [r(q) < k]``. A query whose class is absent from the
    gallery is never a hit; ``k`` larger than the gallery is allowed (every
    query with a positive is then a hit).

    Args:
        query_feats: ``(Q, D)`` query features (normalised here).
        query_labels: ``(Q,)`` labels.
        gallery_feats: ``(G, D)`` gallery features.
        gallery_labels: ``(G,)`` labels.
        topk: The ``k`` values to report.
        query_ids, gallery_ids: Optional video ids; a gallery item with the
            query's id is excluded from that query's ranking (leave-one-out
            when queries and gallery are the same set).
        chunk_size: Queries per similarity block (memory ``chunk x G``);
            default: as many as fit in :data:`BLOCK_ELEMENTS` entries.

    Returns:
        ``{'R@k': percent}`` for every ``k``.
    """
    q, qy, g, gy = _normalized_pairs(query_feats, query_labels,
                                     gallery_feats, gallery_labels)
    if q.shape[1] != g.shape[1]:
        raise ValueError(f'query dim {q.shape[1]} != gallery dim {g.shape[1]}')
    q_ids = None if query_ids is None else np.asarray(query_ids).astype(str)
    g_ids = None if gallery_ids is None else np.asarray(gallery_ids).astype(
        str)
    ranks = torch.empty(q.shape[0], dtype=torch.float64)
    chunk_size = _rows_per_block(g.shape[0], chunk_size)
    for start in range(0, q.shape[0], chunk_size):
        stop = min(start + chunk_size, q.shape[0])
        sim = q[start:stop] @ g.T  # (c, G)
        pos = qy[start:stop, None] == gy[None, :]
        excl = _exclusion(q_ids, g_ids, start, stop)
        if excl is not None:
            sim.masked_fill_(excl, float('-inf'))
            pos &= ~excl
        best_pos = sim.masked_fill(~pos, float('-inf')).amax(dim=1)
        beaten = (sim >= best_pos[:, None]) & ~pos
        if excl is not None:
            beaten &= ~excl
        rank = beaten.sum(dim=1).to(torch.float64)
        rank[~pos.any(dim=1)] = float('inf')
        ranks[start:stop] = rank
    return {
        f'R@{k}': float((ranks < k).to(torch.float64).mean() * 100)
        for k in topk
    }


def topk_correct(scores: torch.Tensor, labels: torch.Tensor,
                 k: int) -> torch.Tensor:
    """Per-row top-k hit with ties counted against the true class.

    The true class ``y`` is within the top ``k`` when fewer than ``k`` other
    classes score at least as high: ``|{c != y : s_c >= s_y}| < k``. (A
    constant score vector is therefore never correct, whatever the class
    order.)

    Args:
        scores: ``(N, C)`` class scores.
        labels: ``(N,)`` true classes.
        k: Rank cut-off.

    Returns:
        Bool ``(N,)``.
    """
    true = scores.gather(1, labels.reshape(-1, 1))
    others = (scores >= true).sum(dim=1) - 1
    return others < k


def knn_classify(query_feats,
                 query_labels,
                 gallery_feats,
                 gallery_labels,
                 k: int = 200,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 topk: Sequence[int] = (1, 5),
                 query_ids: Optional[Sequence[str]] = None,
                 gallery_ids: Optional[Sequence[str]] = None,
                 chunk_size: Optional[int] = None) -> Dict[str, float]:
    """Weighted k-nearest-neighbour classification (Wu et al., CVPR 2018).

    For a query ``q``, ``N_k(q)`` are the ``k`` gallery items with the highest
    cosine similarity ``s_i`` (ties between equal similarities go to the
    lower gallery index). The class scores are

        p_c(q) = sum_{i in N_k(q), y_i = c} exp(s_i / temperature)

    and accuracy@m uses :func:`topk_correct` on ``p`` (ties against the true
    class). ``k`` is clipped to the gallery size.

    Args:
        query_feats, query_labels, gallery_feats, gallery_labels: As in
            :func:`retrieval_recall`.
        k: Neighbours.
        temperature: Softmax temperature ``tau`` of the vote weights.
        num_classes: Number of classes (default: largest label + 1).
        topk: Accuracy cut-offs to report.
        query_ids, gallery_ids: Leave-one-out exclusion by video id.
        chunk_size: Queries per similarity block (see
            :func:`retrieval_recall`).

    Returns:
        ``{'top1': percent, 'top5': percent}`` (one key per ``topk``).
    """
    q, qy, g, gy = _normalized_pairs(query_feats, query_labels,
                                     gallery_feats, gallery_labels)
    if k < 1 or temperature <= 0:
        raise ValueError(f'need k >= 1 and temperature > 0, got k={k}, '
                         f'temperature={temperature}')
    if num_classes is None:
        num_classes = int(max(qy.max(), gy.max())) + 1
    q_ids = None if query_ids is None else np.asarray(query_ids).astype(str)
    g_ids = None if gallery_ids is None else np.asarray(gallery_ids).astype(
        str)
    hits = {m: torch.zeros(q.shape[0], dtype=torch.bool) for m in topk}
    chunk_size = _rows_per_block(g.shape[0], chunk_size)
    for start in range(0, q.shape[0], chunk_size):
        stop = min(start + chunk_size, q.shape[0])
        sim = q[start:stop] @ g.T
        excl = _exclusion(q_ids, g_ids, start, stop)
        if excl is not None:
            sim = sim.masked_fill(excl, float('-inf'))
        kk = min(k, g.shape[0])
        # N_k without a full sort: everything above the k-th largest value,
        # then the lowest-index items equal to it until k are taken
        kth = sim.topk(kk, dim=1).values[:, -1:]
        above = sim > kth
        tied = sim == kth
        room = kk - above.sum(dim=1, keepdim=True)
        chosen = above | (tied & (tied.cumsum(dim=1) <= room))
        if excl is not None:
            chosen &= ~excl  # excluded items never vote
        weight = torch.where(chosen, torch.exp(sim / temperature),
                             torch.zeros((), dtype=sim.dtype))
        votes = torch.zeros(stop - start, num_classes, dtype=torch.float64)
        votes.scatter_add_(1, gy.expand(stop - start, -1), weight)
        for m in topk:
            hits[m][start:stop] = topk_correct(votes, qy[start:stop], m)
    return {
        f'top{m}': float(h.to(torch.float64).mean() * 100)
        for m, h in hits.items()
    }
