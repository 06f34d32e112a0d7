"""What exact resume needs beyond mmengine's checkpoint, and its restore.

mmengine 0.10.7 checkpoints hold the model (parameters *and* buffers, so
feature queues with their pointers and momentum encoders round-trip), the
optimizer, the parameter schedulers and the message hub. Resuming a run that
was killed mid-epoch from such a file is still not exact:

* the RNG states are not saved; ``resume`` re-seeds with the initial seed, so
  every random draw after the resume differs from the uninterrupted run;
* ``EpochBasedTrainLoop`` restarts the interrupted epoch from its first
  batch (samples seen twice, the epoch runs longer than planned);
* ``IterBasedTrainLoop`` fast-forwards by *loading and decoding* every batch
  already trained on, which for a video run takes hours.

This module stores, under ``checkpoint['meta']['mmavcl_resume']``:

``rng``            per-rank states of ``random``, ``numpy``, torch CPU and
                   CUDA generators (gathered from all ranks);
``epoch_iter``     batches of the current epoch already trained on;
``sampler_seed``   the train sampler's seed (differs between runs when the
                   config leaves ``randomness.seed`` unset);
``data_progress``  for a dataset that tracks its own position (an iterable
                   one: ``AVShardDataset``), what the epoch (the iteration
                   loop's pass) trained on so far: ``{'epoch', 'done':
                   [shards], 'partial': {shard: [keys]}}`` over all ranks.

The loops in :mod:`mmavcl.engine.loops` consume it: the sampler skips the
indices already used (nothing is loaded), and the RNG states are restored
*after* the new DataLoader iterator is created (creating one draws a base
seed from the global torch generator) and before the first batch is fetched.
"""
import itertools
import random
import warnings
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info

RESUME_KEY = 'mmavcl_resume'


def capture_rng_state() -> Dict[str, Any]:
    """The state of every global generator of this process."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state['cuda']])


def train_sampler(dataloader) -> Any:
    """The index sampler of ``dataloader`` (inside its batch sampler)."""
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    if batch_sampler is not None and hasattr(batch_sampler, 'sampler'):
        return batch_sampler.sampler
    return getattr(dataloader, 'sampler', None)


def collect_resume_state(runner, meta: Dict[str, Any],
                         gather: bool = True) -> Dict[str, Any]:
    """Everything :mod:`mmavcl.engine.loops` needs to continue exactly.

    Must be called on every rank when ``gather`` is True (it all-gathers the
    RNG states). ``meta`` is the checkpoint meta (``epoch``, ``iter``) being
    saved.
    """
    rng = capture_rng_state()
    rng_all: List[Dict[str, Any]] = all_gather_object(rng) if gather else \
        [rng]
    state: Dict[str, Any] = dict(rng=rng_all, world_size=get_dist_info()[1])
    loop = runner.train_loop
    if hasattr(loop, 'epoch_iter_at'):
        state['epoch_iter'] = loop.epoch_iter_at(meta)
    dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
    if state.get('epoch_iter') and hasattr(dataset, 'progress_state'):
        # a dataset that tracks its position (AVShardDataset): what every
        # rank trained on in this epoch, merged (the ranks read disjoint
        # shards)
        from mmavcl.datasets.shard_dataset import merge_progress
        progress = dataset.progress_state()
        state['data_progress'] = merge_progress(
            all_gather_object(progress) if gather else [progress])
    sampler = train_sampler(getattr(loop, 'dataloader', None))
    sampler = getattr(sampler, 'sampler', sampler)  # unwrap SkipFirst
    if sampler is not None and getattr(sampler, 'seed', None) is not None:
        state['sampler_seed'] = int(sampler.seed)
    return state


def rng_for_this_rank(state: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """This rank's RNG state from a resume state, ``None`` if unusable."""
    rank, world_size = get_dist_info()
    rngs = state.get('rng') or []
    if state.get('world_size', len(rngs)) != world_size or \
            len(rngs) != world_size:
        warnings.warn(
            f'The checkpoint was saved by {state.get("world_size")} '
            f'process(es), this run has {world_size}: RNG states are not '
            'restored, so the run will not be bitwise identical.')
        return None
    return rngs[rank]


class SkipFirst:
    """Wraps a sampler so that its *next* iteration omits the first indices.

    Only the next ``__iter__`` is shortened; later epochs see the sampler
    unchanged. ``len`` and every other attribute (``set_epoch``, ``seed``)
    are the wrapped sampler's, so hooks that talk to the sampler still work.

    Args:
        sampler: the index sampler (e.g. mmengine ``DefaultSampler``).
        num_skip (int): indices of this rank to skip, i.e. batches already
            trained on x batch size.
    """

    def __init__(self, sampler, num_skip: int) -> None:
        self.sampler = sampler
        self.num_skip = int(num_skip)

    def __iter__(self) -> Iterator[int]:
        skip, self.num_skip = self.num_skip, 0
        # islice draws the skipped indices without touching the dataset
        return itertools.islice(iter(self.sampler), skip, None)

    def __len__(self) -> int:
        return len(self.sampler)

    def __getattr__(self, name: str) -> Any:
        # only called for names not found on the wrapper itself
        if name == 'sampler':
            raise AttributeError(name)
        return getattr(self.sampler, name)
