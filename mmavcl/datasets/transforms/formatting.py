"""Pack a sample into model inputs and an :class:`AVDataSample`."""
from typing import Dict, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmavcl.registry import TRANSFORMS
from mmavcl.structures import AVDataSample
from ..media.sidecar import UNTAGGED_SIDECAR_KEY
from .decoding import close_container

__all__ = ['PackAVInputs']


def _clean_meta(view: dict) -> dict:
    out = {}
    for k, v in view.items():
        if k == 'frame_inds':
            v = np.asarray(v, dtype=np.int64)
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


@TRANSFORMS.register_module()
class PackAVInputs(BaseTransform):
    """Pack views into ``inputs`` and recorded parameters into a data sample.

    Output::

        {'inputs': {'video': [uint8 Tensor (C, T, H, W)] * V,   # if V > 0
                    'audio': [float32 Tensor (L,)] * A},        # if A > 0
         'data_samples': AVDataSample}

    The data sample gets ``gt_label`` (``LongTensor (1,)``, or ``(k,)`` for
    multi-label lists) when ``label`` is present, ``view_meta`` (the video
    view dicts without pixels), ``audio_meta``, ``pretext_labels`` and the
    metainfo ``video_id``, ``filename``, ``source_shape``, ``fps``,
    ``total_frames``, ``sidecar_without_alignment`` (a sidecar without
    an alignment record, see :class:`DecodeAudioViews`) plus any present
    ``meta_keys``.

    Required keys: ``video_imgs`` and/or ``audio_wavs`` (with
    ``video_views`` / ``audio_views``).
    Optional keys: ``label``, ``pretext_labels``, ``video_id``,
    ``filename``, ``source_shape``, ``fps``, ``total_frames``.

    Views may be non-contiguous (e.g. mirrored by :class:`FlipViews` as a
    negative-stride view): the one copy into ``(C, T, H, W)`` here
    materialises them.

    A ``pyav_container`` left by :class:`VideoInit` (no audio decoded) is
    closed.

    Args:
        meta_keys: Extra result keys copied into the metainfo.
    """

    base_meta = ('video_id', 'filename', 'audio_filename', 'source_shape',
                 'orig_shape', 'fps', 'total_frames', 'sample_idx',
                 UNTAGGED_SIDECAR_KEY)

    def __init__(self, meta_keys: Sequence[str] = ()) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict) -> Dict:
        close_container(results)
        inputs = {}
        imgs = results.get('video_imgs') or []
        if imgs:
            inputs['video'] = [
                torch.from_numpy(np.ascontiguousarray(x.transpose(3, 0, 1,
                                                                  2)))
                for x in imgs
            ]
        wavs = results.get('audio_wavs') or []
        if wavs:
            inputs['audio'] = [
                torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
                for w in wavs
            ]
        if not inputs:
            raise ValueError(
                f'{results.get("filename")}: nothing to pack (no video_imgs '
                'or audio_wavs; is a decode transform missing?)')
        sample = AVDataSample()
        label = results.get('label')
        if label is not None:
            sample.set_gt_label(label)
        sample.view_meta = [
            _clean_meta(v) for v in results.get('video_views', [])
        ] if imgs else []
        sample.audio_meta = [
            _clean_meta(v) for v in results.get('audio_views', [])
        ] if wavs else []
        sample.pretext_labels = {
            k: int(v)
            for k, v in results.get('pretext_labels', {}).items()
        }
        meta = {
            k: results[k]
            for k in self.base_meta + self.meta_keys if k in results
        }
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
