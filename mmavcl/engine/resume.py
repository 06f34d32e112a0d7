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
``world_size``     the number of processes that wrote it (a run with
                   another number restores no RNG state and deals the
                   rest of the epoch anew);
``sample_position`` for a map-style dataset under mmengine's
                   ``DefaultSampler`` or ``InfiniteSampler``: where the
                   epoch (the iteration loop's pass; the infinite stream)
                   is in its *global* order, ``{'epoch', 'consumed',
                   'batch_size'}``: its first ``consumed`` indices were
                   trained on, by ``world_size`` processes taking
                   ``batch_size`` each per iteration. What lets a run with
                   another number of processes or batch size go on
                   exactly (:class:`ResplitRest`);
``data_progress``  for a dataset that tracks its own position (an iterable
                   one: ``AVShardDataset``), what the epoch (the iteration
                   loop's pass) trained on so far: ``{'epoch', 'done':
                   [shards], 'partial': {shard: [keys]}}`` over all ranks,
                   and ``'bad': {shard: [keys]}`` (the samples skipped as
                   bad, not read again) when there is one.

The loops in :mod:`mmavcl.engine.loops` consume it: the sampler skips the
indices already used (nothing is loaded), and the RNG states are restored
*after* the new DataLoader iterator is created (creating one draws a base
seed from the global torch generator) and before the first batch is fetched.
"""
import copy
import itertools
import math
import random
import warnings
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
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
        # samples; a shard cut between ranks is done once their keys
        # reach its count)
        from mmavcl.datasets.shard_dataset import merge_progress
        progress = dataset.progress_state()
        state['data_progress'] = merge_progress(
            all_gather_object(progress) if gather else [progress],
            getattr(dataset, 'shard_count', None))
    sampler = train_sampler(getattr(loop, 'dataloader', None))
    sampler = getattr(sampler, 'sampler', sampler)  # unwrap SkipFirst
    if sampler is not None and getattr(sampler, 'seed', None) is not None:
        state['sampler_seed'] = int(sampler.seed)
    if hasattr(loop, 'sample_position_at'):
        position = loop.sample_position_at(meta)
        if position is not None:
            state['sample_position'] = position
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


def resplittable(sampler, infinite: bool = False) -> bool:
    """Whether the global order of ``sampler`` is known here, so that the
    rest of it can be dealt over another number of processes: mmengine's
    ``DefaultSampler`` (and with ``infinite``, ``InfiniteSampler``) with
    their own ordering (a subclass that orders otherwise is not)."""
    if isinstance(sampler, DefaultSampler):
        return type(sampler).__iter__ is DefaultSampler.__iter__
    if infinite and isinstance(sampler, InfiniteSampler):
        return type(sampler)._infinite_indices is \
            InfiniteSampler._infinite_indices and \
            type(sampler).__iter__ is InfiniteSampler.__iter__
    return False


def epoch_order(sampler: DefaultSampler) -> List[int]:
    """The current epoch's global order of a ``DefaultSampler``, before its
    padding (``randperm(len(dataset))`` seeded by ``seed + epoch``, or
    ``0..n-1`` without shuffle); rank ``r`` of ``W`` takes ``[r::W]`` of it
    once padded. mmengine's own ``__iter__`` computes it, run as one
    process without padding."""
    alone = copy.copy(sampler)
    alone.rank, alone.world_size, alone.round_up = 0, 1, False
    alone.total_size = len(sampler.dataset)
    return list(iter(alone))


def rest_of_order(sampler: DefaultSampler, consumed: int) -> List[int]:
    """This rank's share of what the epoch's global order (see
    :func:`epoch_order`) has left after its first ``consumed`` indices:
    the rest dealt as ``DefaultSampler`` deals a whole epoch, rank ``r`` of
    ``W`` taking ``rest[r::W]``. With ``round_up`` (its default) the rest
    is first padded to a multiple of ``W`` with the first indices of the
    epoch's order, the ones ``DefaultSampler`` pads the epoch with, so that
    every rank gets as many; without, the ranks' shares differ by one at
    most, as ``DefaultSampler`` leaves them."""
    order = epoch_order(sampler)
    rest = order[min(consumed, len(order)):]
    world = sampler.world_size
    if sampler.round_up and order:
        pad = -len(rest) % world
        rest += (order * (pad // len(order) + 1))[:pad]
    return rest[sampler.rank::world]


def rest_share_size(sampler: DefaultSampler, consumed: int) -> int:
    """``len(rest_of_order(sampler, consumed))`` without the order."""
    left = max(0, len(sampler.dataset) - consumed)
    if sampler.round_up:
        return math.ceil(left / sampler.world_size)
    return len(range(sampler.rank, left, sampler.world_size))


def resume_infinite_stream(sampler: InfiniteSampler, consumed: int) -> None:
    """Make ``InfiniteSampler`` go on at index ``consumed`` of its global
    stream (every rank's indices interleaved), this rank taking every
    ``world_size``-th from there: a new generator, as the sampler's own is
    shared with the iterators built before (see the iteration loop)."""
    sampler.indices = itertools.islice(
        sampler._infinite_indices(), consumed + sampler.rank, None,
        sampler.world_size)


class ResplitRest(SkipFirst):
    """Wraps a ``DefaultSampler`` so that its *next* iteration is this
    rank's share of the rest of the epoch's global order after
    ``consumed`` indices (:func:`rest_of_order`); later epochs see the
    sampler unchanged. The resume of a run written by another number of
    processes or with another batch size per process: the processes
    before had trained on the first ``consumed`` indices of the order
    (rank ``r`` of ``W`` takes every ``W``-th, so after ``N`` iterations
    of batch ``B`` they hold the first ``N x B x W``), and the rest,
    over the processes now, is what they had not.

    Args:
        sampler: mmengine's ``DefaultSampler`` (:func:`resplittable`).
        consumed (int): indices of the epoch's global order trained on.
    """

    def __init__(self, sampler, consumed: int) -> None:
        super().__init__(sampler, 0)
        self.consumed = int(consumed)
        self._pending = True

    def __iter__(self) -> Iterator[int]:
        if not self._pending:
            return iter(self.sampler)
        self._pending = False
        return iter(rest_of_order(self.sampler, self.consumed))

    def share_size(self) -> int:
        """Indices the next iteration gives this rank."""
        return rest_share_size(self.sampler, self.consumed)
