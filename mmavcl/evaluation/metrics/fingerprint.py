"""Video fingerprinting metric (AVTSS): R@k and mAP per edit type."""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.fileio import get_local_path

from mmavcl.evaluation.functional import fingerprint_scores, load_features
from mmavcl.registry import METRICS
from .retrieval import _FeatureMetric, prepare_features

__all__ = ['FingerprintMetric', 'load_fingerprint_list', 'load_data_list',
           'ORIGINAL']

#: the ``edit`` of a gallery (unedited) video in a fingerprint list
ORIGINAL = 'original'


def load_data_list(path: str, what: str) -> list:
    """The records of a JSON annotation list that
    :class:`~mmavcl.datasets.AVVideoDataset` reads too: ``{"metainfo":
    {...}, "data_list": [...]}`` or the bare list (any URI mmengine's
    fileio reads). ``what`` names the list in errors."""
    with get_local_path(path) as local:
        if not osp.isfile(local):
            raise FileNotFoundError(f'{what} {path} does not exist')
        with open(local, encoding='utf-8') as f:
            data = json.load(f)
    records = data.get('data_list') if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise ValueError(f'{path}: expected a list of records or a dict '
                         'with "data_list"')
    return records


def load_fingerprint_list(path: str) -> Dict[str, Tuple[str, str]]:
    """``{filename: (source, edit)}`` of a fingerprint list.

    The list is the JSON that ``tools/data/make_fingerprint_queries.py``
    writes, read by :class:`~mmavcl.datasets.AVVideoDataset` as well (which
    ignores the extra keys): ``{"metainfo": {...}, "data_list": [{"filename":
    "fingerprint/crop/videos/a.mp4", "source": "videos/a.mp4", "edit":
    "crop"}, ...]}`` (or the bare list), the originals with ``"edit":
    "original"`` and ``"source"`` their own filename.

    Raises:
        FileNotFoundError / ValueError: naming the file and the record.
    """
    records = load_data_list(path, 'fingerprint list')
    out = {}
    for i, rec in enumerate(records, 1):
        if not isinstance(rec, dict) or not all(
                isinstance(rec.get(k), str) and rec[k]
                for k in ('filename', 'source', 'edit')):
            raise ValueError(f'{path}: record {i} ({rec!r}) needs string '
                             '"filename", "source" and "edit"')
        if rec['edit'] == ORIGINAL and rec['source'] != rec['filename']:
            raise ValueError(f'{path}: record {i}: an original\'s source '
                             f'must be itself, got {rec["source"]!r}')
        out[rec['filename']] = (rec['source'], rec['edit'])
    return out


@METRICS.register_module()
class FingerprintMetric(_FeatureMetric):
    """Robust video fingerprinting: find the original of an edited copy.

    The evaluated set is a fingerprint list (``ann_file``): original videos
    (``edit == 'original'``, the gallery) and their edited copies (the
    queries). Features come from a feature-mode :class:`AVRecognizer`, as
    for :class:`RetrievalMetric` (clip rows averaged per video with
    ``mode='video_mean'``); each query ranks the gallery by cosine
    similarity (:func:`mmavcl.evaluation.functional.fingerprint_scores`:
    ties count against the query). With ``gallery_file`` (features of the
    originals from ``tools/extract_features.py``, ids = the sources'
    filenames) the gallery comes from that file and the evaluated list may
    hold queries only.

    Args:
        ann_file: The fingerprint list the test dataset reads (path as the
            metric sees it, i.e. with the data root).
        topk: ``k`` values of R@k, default ``(1, )``.
        mode: ``'video_mean'`` or ``'clip'`` (see :class:`RetrievalMetric`;
            with ``'clip'`` every clip row of a query is ranked).
        gallery_file: Optional gallery features ``.npz``.
        chunk_size: Queries per similarity block.
        collect_device, prefix: As for mmengine's ``BaseMetric``.

    Keys (prefix ``fingerprint``): ``R@k``, ``mAP`` over all queries and
    ``<edit>/R@k``, ``<edit>/mAP`` per edit type (percent).
    """
    default_prefix: Optional[str] = 'fingerprint'

    def __init__(self,
                 ann_file: str,
                 topk: Sequence[int] = (1, ),
                 **kwargs) -> None:
        super().__init__(topk, **kwargs)
        self.ann_file = ann_file

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        listing = load_fingerprint_list(self.ann_file)
        feats, labels, ids = self._collect(results)
        feats, _, ids = prepare_features(feats, np.zeros_like(labels), ids,
                                         self.mode)
        feats = np.asarray(feats)
        unknown = sorted(set(ids) - set(listing))
        if unknown:
            raise KeyError(f'{self.ann_file}: no record for evaluated '
                           f'video(s) {unknown[:3]}; test the list the '
                           'metric reads')
        source = np.array([listing[v][0] for v in ids])
        edit = np.array([listing[v][1] for v in ids])
        is_orig = edit == ORIGINAL
        if self.gallery_file is None:
            g_feats, g_ids = feats[is_orig], ids[is_orig]
        else:
            data = load_features(self.gallery_file)
            g_feats, _, g_ids = prepare_features(
                data['features'], np.zeros_like(data['labels']),
                data['video_ids'], self.mode)
        if not len(g_ids) or is_orig.all():
            raise ValueError(f'{self.ann_file}: need originals (gallery) '
                             f'and edited copies (queries); got '
                             f'{int(is_orig.sum())} originals and '
                             f'{int((~is_orig).sum())} copies')
        q = ~is_orig
        return fingerprint_scores(feats[q], source[q], edit[q], g_feats,
                                  g_ids, topk=self.topk,
                                  chunk_size=self.chunk_size)
