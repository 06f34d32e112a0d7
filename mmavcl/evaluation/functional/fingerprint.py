"""Video fingerprinting (copy detection): find the source of an edited copy.

The protocol of AVTSS (Jenni et al., AAAI 2023, robust video
fingerprinting): the gallery holds the original videos, each query is an
edited copy of one of them (crop, blur, re-encode, speed change ...), and a
query is answered by ranking the gallery by cosine similarity. Its relevant
items are the gallery entries with the query's source id (normally exactly
one).

Ranks are pessimistic, as in :func:`.retrieval.retrieval_recall`: a
negative that ties a relevant item is ranked before it, so a collapsed
representation (all features equal) scores R@1 = 0 and AP = 1/G rather than
a lucky order.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch

from .retrieval import _as_tensor, _rows_per_block, l2_normalize

__all__ = ['fingerprint_ranks', 'fingerprint_scores']


def fingerprint_ranks(query_feats,
                      query_sources: Sequence[str],
                      gallery_feats,
                      gallery_ids: Sequence[str],
                      chunk_size: Optional[int] = None
                      ) -> Tuple[np.ndarray, np.ndarray]:
    """Per-query rank of the source and average precision.

    With ``P`` the gallery items whose id equals the query's source and
    ``s_1 >= s_2 >= ... >= s_|P|`` their cosine similarities to the query,
    the ``j``-th relevant item's position is ``j + n_j`` with ``n_j =
    |{g not in P : cos(q, g) >= s_j}|`` (ties against the query), and

        AP(q) = (1 / |P|) * sum_j j / (j + n_j)

    (``1 / (1 + n_1)`` for one relevant item, i.e. the reciprocal rank).

    Args:
        query_feats: ``(Q, D)`` query (edited copy) features.
        query_sources: ``(Q,)`` id of each query's source video.
        gallery_feats: ``(G, D)`` original-video features.
        gallery_ids: ``(G,)`` their ids.
        chunk_size: Queries per similarity block (memory ``chunk x G``).

    Returns:
        ``first_rank`` int64 ``(Q,)``: ``n_1``, the negatives ranked before
        the best relevant item (0: a hit at 1); ``ap`` float64 ``(Q,)``.

    Raises:
        ValueError: a query whose source is not in the gallery (its id is
            named), or mismatched shapes.
    """
    q = l2_normalize(_as_tensor(query_feats))
    g = l2_normalize(_as_tensor(gallery_feats))
    q_src = np.asarray(query_sources).astype(str)
    g_ids = np.asarray(gallery_ids).astype(str)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f'query features {tuple(q.shape)} and gallery '
                         f'features {tuple(g.shape)} must be (N, D) with '
                         'the same D')
    if len(q_src) != q.shape[0] or len(g_ids) != g.shape[0]:
        raise ValueError(f'{q.shape[0]} queries with {len(q_src)} source '
                         f'ids, {g.shape[0]} gallery rows with '
                         f'{len(g_ids)} ids')
    missing = sorted(set(q_src) - set(g_ids))
    if missing:
        raise ValueError(f'{len(missing)} query source(s) are not in the '
                         f'gallery, e.g. {missing[:3]}')
    num_g = g.shape[0]
    first = np.zeros(q.shape[0], dtype=np.int64)
    ap = np.zeros(q.shape[0], dtype=np.float64)
    rows = _rows_per_block(num_g, chunk_size)
    for start in range(0, q.shape[0], rows):
        stop = min(start + rows, q.shape[0])
        sim = q[start:stop] @ g.T  # (c, G)
        pos = torch.from_numpy(q_src[start:stop, None] == g_ids[None, :])
        # negatives sorted ascending; -inf where the item is relevant, so
        # it is never counted as ">= s_j"
        neg = sim.masked_fill(pos, float('-inf')).sort(dim=1).values
        num_pos = pos.sum(dim=1)
        p_max = int(num_pos.max())
        pos_sims = sim.masked_fill(~pos, float('-inf')).topk(
            p_max, dim=1).values  # (c, P) descending
        valid = torch.isfinite(pos_sims)
        # n_j = G - (number of negatives < s_j)
        n = num_g - torch.searchsorted(neg.contiguous(),
                                       pos_sims.contiguous(), side='left')
        j = torch.arange(1, p_max + 1, dtype=torch.float64)[None]
        prec = torch.where(valid, j / (j + n.to(torch.float64)),
                           torch.zeros((), dtype=torch.float64))
        ap[start:stop] = (prec.sum(dim=1) / num_pos.to(torch.float64)).numpy()
        first[start:stop] = n[:, 0].numpy()
    return first, ap


def fingerprint_scores(query_feats,
                       query_sources: Sequence[str],
                       query_edits: Sequence[str],
                       gallery_feats,
                       gallery_ids: Sequence[str],
                       topk: Sequence[int] = (1, ),
                       chunk_size: Optional[int] = None
                       ) -> Dict[str, float]:
    """R@k and mAP (percent) over all queries and per edit type.

    See :func:`fingerprint_ranks`; a query is a hit at ``k`` when fewer
    than ``k`` negatives rank before its best relevant item.

    Returns:
        ``{'R@k': ..., 'mAP': ..., '<edit>/R@k': ..., '<edit>/mAP': ...}``,
        edits in order of first appearance.
    """
    first, ap = fingerprint_ranks(query_feats, query_sources, gallery_feats,
                                  gallery_ids, chunk_size)
    edits = np.asarray(query_edits).astype(str)
    if len(edits) != len(first):
        raise ValueError(f'{len(first)} queries but {len(edits)} edit types')
    groups = OrderedDict([('', np.ones(len(first), dtype=bool))])
    for e in dict.fromkeys(edits.tolist()):
        groups[f'{e}/'] = edits == e
    out = {}
    for name, sel in groups.items():
        for k in topk:
            out[f'{name}R@{k}'] = float((first[sel] < k).mean() * 100)
        out[f'{name}mAP'] = float(ap[sel].mean() * 100)
    return out
