"""Collation for audio-visual batches: each view stacked in the worker."""
from typing import Dict, Optional, Sequence

from mmengine.dataset import pseudo_collate

from mmavcl.registry import FUNCTIONS
from mmavcl.structures.batching import stack_audio, stack_view

__all__ = ['av_collate']


@FUNCTIONS.register_module()
def av_collate(data_batch: Sequence[Dict],
               _scope_: Optional[str] = None) -> Dict:
    """``pseudo_collate``, then every view of ``inputs`` stacked into one
    tensor: video ``(B, C, T, H, W)``, audio waveforms ``(B, L)``
    (zero-padded to the longest, as ``AVDataPreprocessor`` pads) or features
    ``(B, F, T)``. ``data_samples`` stay a list.

    Why in the worker: a DataLoader worker hands every tensor of a batch to
    the training process as a shared-memory segment of its own, and the
    training process pays for each one it receives. A two-clip batch of 32
    with audio is 128 tensors with ``pseudo_collate`` and 4 here
    (``benchmarks/benchmark_collate.py``, docs/benchmarks.md).

    In a config: ``collate_fn=dict(type='mmavcl.av_collate')`` (with the
    scope: mmengine's ``Runner.build_dataloader`` looks collate functions
    up in its root registry).

    A view whose samples differ in shape is left as a list of per-sample
    tensors: ``AVDataPreprocessor`` then reports it with the view's name.

    ``_scope_`` is unused: mmengine adds it to a config dict inherited from
    another package's config (``mmavcl::...``), and ``build_dataloader``
    passes the dict's keys on as arguments.
    """
    batch = pseudo_collate(data_batch)
    inputs = batch.get('inputs') if isinstance(batch, dict) else None
    if not isinstance(inputs, dict):
        return batch
    stacked = {}
    for modality, views in inputs.items():
        out = []
        for i, view in enumerate(views):
            try:
                out.append(stack_audio(view, i) if modality == 'audio' else
                           stack_view(view, modality, i))
            except (TypeError, ValueError):
                out.append(view)
        stacked[modality] = out
    batch['inputs'] = stacked
    return batch
