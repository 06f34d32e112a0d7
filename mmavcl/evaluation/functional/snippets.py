"""Per-snippet features for temporal action localizers.

A localizer (BMN, BSN, G-TAD, ActionFormer ...) reads one file per video
holding a ``(N, C)`` sequence of snippet features. Two layouts are common:

* **ActivityNet** (BSN/BMN): the sequence rescaled to a fixed ``N = 100``
  (:func:`rescale_snippets`), written as CSV with a header row of column
  names, one snippet per row: what MMAction2's ``LoadLocalizationFeature``
  reads (``np.loadtxt(..., delimiter=',', skiprows=1)``, then transposed
  to ``(C, N)``), ``<video name>.csv``.
* **THUMOS14** (G-TAD, ActionFormer, TriDet): every snippet at a fixed
  frame stride, ``(N, C)`` float32 ``<video name>.npy``; snippet ``i``
  starts at frame ``i * stride``.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict

import numpy as np

__all__ = ['rescale_snippets', 'group_snippets', 'write_snippet_file',
           'snippet_file_name', 'SNIPPET_LAYOUTS']

#: layout -> default file format
SNIPPET_LAYOUTS = {'activitynet': 'csv', 'thumos14': 'npy'}


def rescale_snippets(feats: np.ndarray, num: int = 100,
                     samples_per_bin: int = 3,
                     eps: float = 1e-4) -> np.ndarray:
    """Resample a ``(N, C)`` snippet sequence to ``(num, C)``.

    The sequence is read as a piecewise-linear function of the snippet
    index ``x in [0, N - 1]``. The range ``[eps, N - 1 - eps]`` is cut into
    ``num`` equal bins of width ``w``; output ``k`` is the mean of the
    function at ``samples_per_bin`` points ``eps + k w + j w /
    samples_per_bin``, ``j = 0 .. samples_per_bin - 1``. This is the
    rescaling behind the BSN/BMN ActivityNet features (MMAction2's
    ``tools/data/activitynet/activitynet_feature_postprocessing.py``,
    ``pool_feature`` with mean pooling), so features from here and theirs
    have the same temporal meaning. A one-snippet sequence is repeated.

    Returns:
        float32 ``(num, C)``.
    """
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or not len(feats):
        raise ValueError(f'expected (N, C) with N >= 1, got {feats.shape}')
    if len(feats) == 1:
        return np.repeat(feats, num, axis=0).astype(np.float32)
    start, end = eps, len(feats) - 1 - eps
    width = (end - start) / num
    x = (start + width * np.arange(num)[:, None] +
         width * np.arange(samples_per_bin)[None] / samples_per_bin)
    lo = np.clip(np.floor(x).astype(np.int64), 0, len(feats) - 2)
    frac = (x - lo)[..., None]  # (num, S, 1)
    values = feats[lo] * (1 - frac) + feats[lo + 1] * frac  # (num, S, C)
    return values.mean(axis=1).astype(np.float32)


def group_snippets(features: np.ndarray, video_ids: np.ndarray,
                   view_idx: np.ndarray) -> Dict[str, np.ndarray]:
    """Rows of a features file (one per view) -> ``{video_id: (N, C)}``,
    snippets in view order, videos in order of first appearance."""
    ids = np.asarray(video_ids).astype(str)
    out = OrderedDict()
    for vid in dict.fromkeys(ids.tolist()):
        rows = np.flatnonzero(ids == vid)
        order = np.argsort(np.asarray(view_idx)[rows], kind='stable')
        out[vid] = np.asarray(features)[rows[order]]
    return out


def snippet_file_name(video_id: str, fmt: str) -> str:
    """``videos/v_abc.mp4`` -> ``v_abc.csv``: localizers look a video's
    features up by its bare name."""
    return osp.splitext(osp.basename(video_id))[0] + '.' + fmt


def write_snippet_file(path: str, feats: np.ndarray) -> str:
    """Write ``(N, C)`` features as ``.csv`` (header ``f0,...``, one row per
    snippet) or ``.npy`` (float32), by the extension."""
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2:
        raise ValueError(f'{path}: expected (N, C) features, got '
                         f'{feats.shape}')
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    if path.endswith('.npy'):
        np.save(path, feats)
    elif path.endswith('.csv'):
        header = ','.join(f'f{i}' for i in range(feats.shape[1]))
        np.savetxt(path, feats, delimiter=',', header=header, comments='',
                   fmt='%.8g')
    else:
        raise ValueError(f'{path}: snippet files are .csv or .npy')
    return path
