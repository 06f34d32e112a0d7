"""Stacking one view's per-sample tensors into a batch tensor.

Shared by :func:`~mmavcl.datasets.collate.av_collate` (in the loader's
workers) and :class:`~mmavcl.models.data_preprocessors.AVDataPreprocessor`
(in the training process, for batches collated without stacking).
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

ViewBatch = Union[Tensor, Sequence[Tensor]]


def _to_device(view: Sequence[Tensor], device: Optional[torch.device],
               non_blocking: bool) -> List[Tensor]:
    """Per-sample tensors to ``device`` before stacking: on a GPU the
    stack then runs there, and each copy reads the page-locked memory the
    loader's ``pin_memory`` gave it (a stack on the host would make a new,
    pageable batch and a blocking copy of it in the training process)."""
    if device is None or device.type == 'cpu':
        return list(view)
    return [v.to(device, non_blocking=non_blocking) for v in view]


def stack_view(view: ViewBatch, modality: str, index: int,
               device: Optional[torch.device] = None,
               non_blocking: bool = False) -> Tensor:
    """Stack one view's per-sample tensors into a batch (on ``device``).

    ``pseudo_collate`` gives a sequence of per-sample tensors;
    ``av_collate`` and ``default_collate`` an already stacked tensor, which
    is returned as is.

    Raises:
        TypeError: ``view`` is neither a tensor nor a non-empty sequence of
            tensors.
        ValueError: the samples' shapes differ.
    """
    if isinstance(view, Tensor):
        return view
    if not isinstance(view, (list, tuple)) or not view or \
            not all(isinstance(v, Tensor) for v in view):
        raise TypeError(f'inputs["{modality}"][{index}] must be a Tensor or '
                        f'a non-empty sequence of per-sample Tensors, got '
                        f'{type(view).__name__}')
    shapes = {tuple(v.shape) for v in view}
    if len(shapes) != 1:
        raise ValueError(f'inputs["{modality}"][{index}]: samples of one view '
                         f'must share a shape to be batched, got '
                         f'{sorted(shapes)}')
    return torch.stack(_to_device(view, device, non_blocking))


def stack_audio(view: ViewBatch, index: int,
                device: Optional[torch.device] = None,
                non_blocking: bool = False) -> Tensor:
    """Stack waveforms ``(L,)``, zero-padding to the longest (decoders may
    differ by a sample or two at span edges), or features ``(F, T)``."""
    if isinstance(view, Tensor):
        return view
    if isinstance(view, (list, tuple)) and view and \
            all(isinstance(v, Tensor) and v.dim() == 1 for v in view):
        longest = max(v.shape[0] for v in view)
        return torch.stack([
            F.pad(v, (0, longest - v.shape[0]))
            for v in _to_device(view, device, non_blocking)
        ])
    return stack_view(view, 'audio', index, device, non_blocking)
