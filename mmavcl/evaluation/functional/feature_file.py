"""The features file written by ``tools/extract_features.py``.

One ``.npz`` per split with one row per clip (view):

==============  ============  ===============================================
key             shape/dtype   meaning
==============  ============  ===============================================
``features``    (M, D) f32    pooled backbone features, one row per view
``labels``      (M,) int64    class label of the row's video (-1: unlabeled)
``video_ids``   (M,) str      the video each row comes from
``sample_idx``  (M,) int64    dataset index of the sample
``view_idx``    (M,) int64    view number inside the sample
==============  ============  ===============================================
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np

__all__ = ['FEATURE_KEYS', 'save_features', 'load_features']

FEATURE_KEYS = ('features', 'labels', 'video_ids', 'sample_idx', 'view_idx')


def save_features(path: str, features: np.ndarray, labels: np.ndarray,
                  video_ids: np.ndarray, sample_idx: np.ndarray,
                  view_idx: np.ndarray,
                  meta: Optional[Dict[str, str]] = None) -> str:
    """Write a features file (see the module docstring); returns ``path``."""
    extra = {f'meta_{k}': np.asarray(str(v)) for k, v in (meta or {}).items()}
    np.savez(
        path,
        features=np.asarray(features, dtype=np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        video_ids=np.asarray(video_ids).astype(str),
        sample_idx=np.asarray(sample_idx, dtype=np.int64),
        view_idx=np.asarray(view_idx, dtype=np.int64),
        **extra)
    return path


def load_features(path: str) -> Dict[str, np.ndarray]:
    """Read and check a features file; errors name the file and the key."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'features file {path} does not exist')
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in FEATURE_KEYS if k not in data.files]
        if missing:
            raise KeyError(f'{path}: missing key(s) {missing}; a features '
                           'file needs ' + ', '.join(FEATURE_KEYS))
        out = {k: data[k] for k in data.files}
    feats = out['features']
    if feats.ndim != 2:
        raise ValueError(f'{path}: `features` must be (M, D), got '
                         f'{feats.shape}')
    for k in FEATURE_KEYS[1:]:
        if out[k].shape != (feats.shape[0], ):
            raise ValueError(f'{path}: `{k}` has shape {out[k].shape}, '
                             f'expected ({feats.shape[0]},)')
    return out
