"""The data sample that travels with every audio-visual input."""
from numbers import Number
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LabelType = Union[torch.Tensor, np.ndarray, Sequence[int], int]


def format_label(value: LabelType) -> torch.Tensor:
    """Convert a class label to a ``LongTensor`` of shape ``(1,)`` (or
    ``(N,)`` for several labels)."""
    if isinstance(value, torch.Tensor):
        out = value.long()
    elif isinstance(value, np.ndarray):
        out = torch.from_numpy(value).long()
    elif isinstance(value, Sequence) and not isinstance(value, str):
        out = torch.tensor(list(value), dtype=torch.long)
    elif isinstance(value, (Number, np.integer)):
        out = torch.tensor([int(value)], dtype=torch.long)
    else:
        raise TypeError(f'cannot turn {type(value)} into a label tensor')
    return out.reshape(-1)


class AVDataSample(BaseDataElement):
    """Labels and recorded view parameters of one audio-visual sample.

    Metainfo fields (set once per sample, read as attributes):
    ``video_id`` (str), ``filename``, ``source_shape`` ``(H, W)``, ``fps``
    (float), ``total_frames`` (int).

    Data fields:

    * ``gt_label``: ``LongTensor (1,)`` class label (absent when unlabeled).
    * ``view_meta``: ``list[dict]``, one per video view, with ``frame_inds``
      (int64 array ``(T,)`` of source frame indices in the view's playback
      order), ``time_span`` ``(t0, t1)`` seconds, ``crop_box``
      ``(x1, y1, x2, y2)`` in source pixels, ``flip``, ``speed``,
      ``reversed``, ``view_type``.
    * ``audio_meta``: ``list[dict]``, one per audio view, with
      ``time_span``, ``padded``, ``missing``, ``speed``, ``reversed``, and
      ``frame_edges`` where it follows a video view (see
      :func:`~mmavcl.datasets.transforms.frame_edges`).
    * ``pretext_labels``: ``dict[str, int]`` labels made by a sampler.

    Example:
        >>> s = AVDataSample(metainfo=dict(video_id='a.mp4'))
        >>> s.set_gt_label(3).gt_label
        tensor([3])
        >>> s.video_id
        'a.mp4'
    """

    def set_gt_label(self, value: LabelType) -> 'AVDataSample':
        """Set ``gt_label`` as a ``LongTensor`` ``(1,)``."""
        self.set_field(format_label(value), 'gt_label', dtype=torch.Tensor)
        return self
