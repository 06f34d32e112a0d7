"""Sound-source localization metric (Flickr-SoundNet / VGG-SS)."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmavcl.evaluation.functional import ciou_summary, consensus_iou
from mmavcl.registry import METRICS
from .fingerprint import load_data_list

__all__ = ['SoundLocalizationMetric', 'load_sound_localization_boxes',
           'box_map', 'frame_ground_truth']

#: ``{filename: {frame index: [annotator boxes [[x1, y1, x2, y2], ...]]}}``
Boxes = Dict[str, Dict[int, List[List[List[float]]]]]


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def load_sound_localization_boxes(path: str) -> Boxes:
    """Read a sound-localization annotation list.

    The JSON the test dataset reads as well (it ignores the extra key):
    ``{"metainfo": {...}, "data_list": [{"filename": "videos/a.mp4",
    "frames": {"<frame index>": [[[x1, y1, x2, y2], ...], ...]}}]}``: for
    each annotated frame (index among the video's displayed frames), one
    list of boxes per annotator, corners normalised to ``[0, 1]`` by the
    frame's width and height.

    Raises:
        FileNotFoundError / ValueError: naming the file and the record.
    """
    records = load_data_list(path, 'sound-localization list')
    out: Boxes = {}
    for i, rec in enumerate(records, 1):
        frames = rec.get('frames') if isinstance(rec, dict) else None
        if not isinstance(rec.get('filename'), str) or \
                not isinstance(frames, dict):
            raise ValueError(f'{path}: record {i} needs a string "filename" '
                             'and a "frames" dict')
        parsed = {}
        for key, annotators in frames.items():
            boxes = np.asarray([b for a in annotators for b in a],
                               dtype=np.float64)
            if not key.lstrip('-').isdigit() or not annotators or \
                    boxes.ndim != 2 or boxes.shape[1] != 4 or \
                    (boxes < 0).any() or (boxes > 1).any() or \
                    (boxes[:, 2:] <= boxes[:, :2]).any():
                raise ValueError(
                    f'{path}: record {i} ({rec["filename"]}), frame {key!r}: '
                    'expected a frame index and a non-empty list of '
                    'annotators, each a list of [x1, y1, x2, y2] boxes '
                    'with 0 <= x1 < x2 <= 1, 0 <= y1 < y2 <= 1')
            parsed[int(key)] = annotators
        out[rec['filename']] = parsed
    return out


#: how the boxes of one frame make its ground-truth map
CONSENSUS = ('mean', 'flickr', 'union')


def box_map(annotators: Sequence[Sequence[Sequence[float]]],
            source_shape: Tuple[int, int], size: Tuple[int, int],
            crop_box: Optional[Sequence[float]] = None,
            flip: bool = False,
            consensus: str = 'mean') -> np.ndarray:
    """Ground-truth map ``(H, W)`` in ``[0, 1]`` of one annotated frame.

    Each box (normalised to the source frame) is mapped into the view
    (``crop_box`` in source pixels, then resized to ``size``, mirrored if
    ``flip``); a pixel belongs to a box when its centre does. Then, by
    ``consensus``:

    * ``'mean'``: each annotator's boxes united, the mean over annotators;
    * ``'flickr'``: Flickr-SoundNet's evaluation (Senocak et al. 2018, as
      its public evaluation code computes it):
      ``min(n(p) / 2, 1)`` with ``n(p)`` the number of boxes, over all
      annotators, that hold pixel ``p``;
    * ``'union'``: VGG-SS's (one annotation per frame): 1 inside any box.

    One annotator with one box gives its 0/1 mask under ``'mean'`` and
    ``'union'``, half of it under ``'flickr'``.
    """
    if consensus not in CONSENSUS:
        raise ValueError(f'consensus must be one of {CONSENSUS}, got '
                         f'{consensus!r}')
    h, w = size
    src_h, src_w = source_shape
    x1c, y1c, x2c, y2c = crop_box if crop_box is not None else (
        0, 0, src_w, src_h)
    cols = np.arange(w) + 0.5
    rows = np.arange(h) + 0.5
    means = np.zeros((h, w))
    counts = np.zeros((h, w))
    for boxes in annotators:
        union = np.zeros((h, w), dtype=bool)
        for bx1, by1, bx2, by2 in boxes:
            xs = (np.array([bx1, bx2]) * src_w - x1c) * w / (x2c - x1c)
            ys = (np.array([by1, by2]) * src_h - y1c) * h / (y2c - y1c)
            if flip:
                xs = w - xs[::-1]
            inside = (((rows >= ys[0]) & (rows < ys[1]))[:, None]
                      & ((cols >= xs[0]) & (cols < xs[1]))[None, :])
            union |= inside
            counts += inside
        means += union
    if consensus == 'flickr':
        return np.minimum(counts / 2, 1.0)
    if consensus == 'union':
        return (counts > 0).astype(np.float64)
    return means / len(annotators)


def frame_ground_truth(sample: dict, boxes: Boxes,
                       max_frame_gap: Optional[int] = None,
                       consensus: str = 'mean'
                       ) -> List[Tuple[int, np.ndarray, np.ndarray]]:
    """``(frame, predicted map, ground-truth map)`` of every annotated frame
    of one prediction (a data sample as a dict, with ``heatmaps`` ``(V, T,
    H, W)``, ``view_meta``, ``video_id`` and ``source_shape``).

    Each annotated frame takes the map of the nearest sampled frame of any
    view (the clips need not hold it exactly: Flickr-SoundNet and VGG-SS
    annotate one frame per video); with ``max_frame_gap`` a frame farther
    than that from every sampled frame is skipped. ``consensus``: see
    :func:`box_map`.
    """
    for key in ('heatmaps', 'view_meta', 'video_id', 'source_shape'):
        if key not in sample:
            raise KeyError(f'SoundLocalizationMetric(ann_file=...) needs '
                           f'`{key}` in every prediction (SoundLocalizer)')
    vid = sample['video_id']
    if vid not in boxes:
        raise KeyError(f'{vid}: not in the sound-localization list')
    maps = _np(sample['heatmaps'])                        # (V, T, H, W)
    inds = [np.asarray(m['frame_inds']) for m in sample['view_meta']]
    if len(inds) != maps.shape[0] or any(
            len(i) != maps.shape[1] for i in inds):
        raise ValueError(f'{vid}: {maps.shape[:2]} maps for the views '
                         f'{[len(i) for i in inds]} frames')
    flat = np.concatenate(inds)
    out = []
    for frame, annotators in sorted(boxes[vid].items()):
        k = int(np.argmin(np.abs(flat - frame)))
        if max_frame_gap is not None and abs(flat[k] - frame) > \
                max_frame_gap:
            continue
        v, t = divmod(k, maps.shape[1])
        meta = sample['view_meta'][v]
        gt = box_map(annotators, tuple(sample['source_shape']),
                     maps.shape[2:], meta.get('crop_box'),
                     bool(meta.get('flip', False)), consensus)
        out.append((frame, maps[v, t], gt))
    return out


@METRICS.register_module()
class SoundLocalizationMetric(BaseMetric):
    """cIoU@0.5 and AUC of predicted sounding-object maps.

    Two forms of prediction:

    * ``pred_heatmap`` ``(H, W)`` (audio-visual similarity per location, at
      the ground truth's size) and ``gt_heatmap`` ``(H, W)`` in ``[0, 1]``;
    * with ``ann_file`` (a list read by
      :func:`load_sound_localization_boxes`): the per-frame maps of
      :class:`~mmavcl.models.SoundLocalizer` (``heatmaps`` ``(V, T, H, W)``)
      and their views' frame indices; every annotated frame of the video
      is one sample, scored against its boxes (:func:`frame_ground_truth`).

    See :func:`mmavcl.evaluation.functional.consensus_iou` (median
    threshold) and :func:`~mmavcl.evaluation.functional.ciou_summary`.

    ``gt_consensus`` (with ``ann_file``): how one frame's boxes make its
    ground truth (:func:`box_map`): ``'flickr'`` for Flickr-SoundNet,
    ``'union'`` for VGG-SS, ``'mean'`` over annotators otherwise.

    Keys (prefix ``sound_loc``): ``cIoU@0.5``, ``AUC``, ``mean_cIoU``
    (percent).
    """
    default_prefix: Optional[str] = 'sound_loc'

    def __init__(self, at: float = 0.5,
                 thresholds: Optional[Sequence[float]] = None,
                 ann_file: Optional[str] = None,
                 max_frame_gap: Optional[int] = None,
                 gt_consensus: str = 'mean',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.at = at
        self.thresholds = thresholds
        self.ann_file = ann_file
        self.max_frame_gap = max_frame_gap
        if gt_consensus not in CONSENSUS:
            raise ValueError(f'gt_consensus must be one of {CONSENSUS}, '
                             f'got {gt_consensus!r}')
        self.gt_consensus = gt_consensus
        self._boxes = load_sound_localization_boxes(ann_file) \
            if ann_file else None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        # one entry per data sample, the list of its frames' cIoUs:
        # mmengine cuts the collected results to the dataset's length
        for ds in data_samples:
            if self._boxes is not None:
                self.results.append([
                    consensus_iou(pred, gt) for _, pred, gt in
                    frame_ground_truth(ds, self._boxes, self.max_frame_gap,
                                       self.gt_consensus)])
                continue
            for key in ('pred_heatmap', 'gt_heatmap'):
                if key not in ds:
                    raise KeyError(f'SoundLocalizationMetric needs '
                                   f'`{key}` in every prediction')
            self.results.append([consensus_iou(_np(ds['pred_heatmap']),
                                               _np(ds['gt_heatmap']))])

    def compute_metrics(self, results: List[List[float]]
                        ) -> Dict[str, float]:
        return ciou_summary([c for per_sample in results for c in per_sample],
                            self.at, self.thresholds)
