"""Train loops that resume exactly where a killed run stopped.

Subclasses of mmengine's ``EpochBasedTrainLoop`` and ``IterBasedTrainLoop``
(same arguments), named in the schedules of ``configs/_base_/schedules/``
(``train_cfg = dict(type='AVEpochBasedTrainLoop', ...)``). What they add:

* **data position**: after a resume the sampler skips the indices already
  trained on (:class:`~mmavcl.engine.resume.SkipFirst`), so no sample is
  loaded twice and the epoch ends where the uninterrupted one ends; the
  batch index seen by hooks continues from where it stopped. An iterable
  dataset has no indices to skip: one that tracks its position
  (``AVShardDataset``: ``record_trained`` / ``progress_state`` /
  ``load_progress``) is told every batch trained on, and after a resume
  skips what the checkpoint says the epoch already trained on (exact as a
  set of samples, see its docstring); any other is loaded and dropped.
  A checkpoint written by another number of processes or batch size per
  process: with mmengine's ``DefaultSampler`` (and ``InfiniteSampler``
  under the iteration loop) the processes share what the epoch's global
  order has left after the samples trained on
  (:class:`~mmavcl.engine.resume.ResplitRest`; the resume state's
  ``sample_position``), and the batches of the resumed epoch are numbered
  as its last; ``AVShardDataset`` resumes by sample keys whatever the
  processes (the checkpoint's ``world_size`` goes with its progress: under
  another number it deals the samples left evenly over the ranks, and the
  epoch loop numbers the batches they give as the epoch's last too);
* **RNG states**: restored right after the new DataLoader iterator exists and
  before the first batch is fetched (see :mod:`mmavcl.engine.resume`);
* ``stop_training`` is honoured after every iteration of an epoch, not only
  between epochs;
* **iterable datasets that shuffle themselves** (``AVShardDataset``): under
  DDP the epoch loop stops every rank when the first one's share of the
  epoch runs out (the ranks' shares can give different numbers of
  batches; a rank that ended alone hung the others), and the iteration
  loop starts each pass over the data as the dataset's next epoch (a new
  order; mmengine tells the new pass only to a sampler), every rank at
  once, when the first one's share of the pass runs out.

That validation does not perturb the training randomness is not the loops'
business: :class:`~mmavcl.engine.hooks.ValRNGGuardHook` (a default hook of
``configs/_base_/default_runtime.py``) restores the RNG states after it.
A config that names mmengine's loops gets them, and ``AVRunner.train``
warns that resume will not be exact.
"""
import itertools
import math
from typing import Any, Callable, Dict, Iterator, Optional, Tuple

import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import IterableDataset

from mmavcl.registry import LOOPS
from .resume import (RESUME_KEY, ResplitRest, SkipFirst,
                     restore_rng_state, resplittable, resume_infinite_stream,
                     rng_for_this_rank, train_sampler)


class _ResumableMixin:
    """Resume bookkeeping shared by both loops."""

    _pending_rng: Optional[Dict[str, Any]] = None
    _pending_progress: Optional[Dict[str, Any]] = None
    # set when the checkpoint's position is to be re-dealt: written by
    # another number of processes or batch size (sample_position)
    _pending_position: Optional[Dict[str, Any]] = None
    _resplits_infinite = False  # the loop that runs InfiniteSampler

    def load_resume_state(self, meta: Dict[str, Any]) -> None:
        """Called by ``AVRunner.resume`` with the checkpoint's ``meta``."""
        state = meta.get(RESUME_KEY)
        if state is None:
            print_log(
                'The checkpoint has no mmavcl resume state (saved by plain '
                'mmengine?): data position is inferred from the iteration '
                'count and RNG states are not restored.',
                logger='current', level=30)
            self._pending_skip = self._infer_skip(meta)
            return
        self._pending_rng = rng_for_this_rank(state)
        self._pending_skip = self._skip_from_state(meta, state)
        progress = state.get('data_progress')
        # the dataset deals the rest anew when other processes wrote it
        self._pending_progress = progress and dict(
            progress, world_size=state.get('world_size'))
        self._pending_position = self._position_to_resplit(meta, state)
        sampler = self._index_sampler()
        if 'sampler_seed' in state and hasattr(sampler, 'seed'):
            sampler.seed = state['sampler_seed']

    def _index_sampler(self):
        sampler = train_sampler(self.dataloader)
        return sampler.sampler if isinstance(sampler, SkipFirst) else sampler

    def _batching(self):
        """``(index sampler, batch size per process, processes)`` of a
        map-style loader whose global order :mod:`~.resume` knows
        (:func:`~.resume.resplittable`), else None."""
        if isinstance(self.dataloader.dataset, IterableDataset):
            return None
        batch_size = getattr(getattr(self.dataloader, 'batch_sampler', None),
                             'batch_size', None)
        sampler = self._index_sampler()
        if batch_size is None or \
                not resplittable(sampler, self._resplits_infinite):
            return None
        return sampler, int(batch_size), int(sampler.world_size)

    def sample_position_at(self, meta: Dict[str, Any]
                           ) -> Optional[Dict[str, Any]]:
        """Where the global order of the epoch (pass) stands when ``meta``
        is saved (the resume state's ``sample_position``), None for a
        loader whose order is not known here."""
        batching = self._batching()
        if batching is None:
            return None
        sampler, batch_size, world = batching
        epoch, consumed = self._position_at(meta, batch_size * world)
        return dict(epoch=int(epoch), consumed=self._cap(consumed, sampler),
                    batch_size=batch_size)

    @staticmethod
    def _cap(consumed: int, sampler) -> int:
        """An epoch's position counts no further than its last sample
        (what lies past it is padding, or a last batch not full)."""
        if isinstance(sampler, DefaultSampler):
            return min(int(consumed), len(sampler.dataset))
        return int(consumed)

    def _position_to_resplit(self, meta: Dict[str, Any],
                             state: Dict[str, Any]
                             ) -> Optional[Dict[str, Any]]:
        """The checkpoint's ``sample_position`` when this run must re-deal
        the rest of its order (other processes or batch size, or a
        position the iteration count alone does not give: a run resumed
        so before), None when the iteration count gives it as before."""
        batching = self._batching()
        position = state.get('sample_position')
        old_world = state.get('world_size')
        if batching is None or position is None:
            tracks = hasattr(self.dataloader.dataset, 'load_progress')
            if old_world not in (None, get_world_size()) and not tracks:
                # (a dataset that tracks its progress resumes it by sample
                # keys, whatever the processes)
                why = 'has no sample position (written by an older ' \
                    'mmavcl)' if batching is not None else 'holds a ' \
                    'loader whose global order is not known here (not ' \
                    'mmengine\'s DefaultSampler, or InfiniteSampler ' \
                    'under AVIterBasedTrainLoop)'
                print_log(
                    f'Resume: the checkpoint was written by {old_world} '
                    f'process(es), this run has {get_world_size()}, and it '
                    f'{why}: the batches already trained on are skipped by '
                    'the iteration count, so the sample position is not '
                    'exact.', logger='current', level=30)
            return None
        sampler, batch_size, world = batching
        plain = self._position_at(
            dict(meta, **{'epoch_iter': state.get('epoch_iter')}),
            batch_size * world, plain=True)
        plain = (plain[0], self._cap(plain[1], sampler))
        if plain == (position['epoch'], position['consumed']) and (
                position['consumed'] == 0 or (
                    old_world == world and
                    position['batch_size'] == batch_size)):
            # the iteration count says where: as before (the start of an
            # epoch or pass is the same for any processes)
            return None
        return dict(position, world_size=old_world)

    def _resplit(self, position: Dict[str, Any]) -> Optional[int]:
        """Make the next pass over the data this process's share of the
        rest of ``position``'s order; the batches it gives (None: an
        infinite stream)."""
        sampler, batch_size, world = self._batching()
        consumed = position['consumed']
        if isinstance(sampler, DefaultSampler):
            rest = ResplitRest(sampler, consumed)
            self.dataloader.batch_sampler.sampler = rest
            share = rest.share_size()
            batches = share // batch_size \
                if self.dataloader.batch_sampler.drop_last \
                else math.ceil(share / batch_size)
            size = len(sampler.dataset)
            left = max(0, size - consumed)
            pad = share * world - left if sampler.round_up else 0
            what = f'the other {left} of its {size} samples'
            if pad:
                what += f' and {pad} padding sample(s) (the first of the ' \
                    'order, as DefaultSampler pads an epoch)'
            unit = 'pass' if self._resplits_infinite else 'epoch'
            where = f'{unit} {position["epoch"] + 1}\'s order'
        else:
            resume_infinite_stream(sampler, consumed)
            batches, what = None, 'the stream from there'
            where = 'the infinite sampler\'s global stream'
        print_log(
            f'Resume: the checkpoint was written by {position["world_size"]}'
            f' process(es) taking {position["batch_size"]} sample(s) each '
            f'per iteration, this run has {world} taking {batch_size}: of '
            f'{where} the first {consumed} were trained on, and the '
            f'{world} process(es) share {what}.', logger='current')
        return batches

    def _skip_samples(self, num_batches: int) -> bool:
        """Make the next pass over the data start ``num_batches`` later."""
        if num_batches <= 0:
            return True
        if isinstance(self.dataloader.dataset, IterableDataset):
            # its sampler's indices pick nothing: the dataset's iterator
            # decides what comes next
            return False
        batch_sampler = getattr(self.dataloader, 'batch_sampler', None)
        if batch_sampler is None or not hasattr(batch_sampler, 'sampler'):
            return False
        batch_size = getattr(batch_sampler, 'batch_size', None)
        if batch_size is None:
            return False
        batch_sampler.sampler = SkipFirst(self._index_sampler(),
                                          num_batches * batch_size)
        print_log(
            f'Resume: skipping the {num_batches} batches of this pass that '
            'were already trained on (indices only, nothing is loaded).',
            logger='current')
        return True

    @staticmethod
    def _say_loading_to_skip(num_batches: int) -> None:
        print_log(
            f'Resume: cannot skip the {num_batches} batches already trained '
            'on without loading them (no batch sampler, or an iterable '
            'dataset without a position this loop saves); loading and '
            'dropping them.', logger='current', level=30)

    def _restore_pending_rng(self) -> None:
        if self._pending_rng is not None:
            restore_rng_state(self._pending_rng)
            self._pending_rng = None


@LOOPS.register_module()
class AVEpochBasedTrainLoop(_ResumableMixin, EpochBasedTrainLoop):
    """``EpochBasedTrainLoop`` with exact mid-epoch resume.

    Same arguments as :class:`mmengine.runner.EpochBasedTrainLoop`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending_skip = 0
        self._epoch_start_iter = 0
        # (batch index, indices of the epoch's global order trained on) at
        # which this run's part of the epoch began: (0, 0) but after a
        # resume that re-dealt the rest of the order
        self._anchor: Tuple[int, int] = (0, 0)

    def epoch_iter_at(self, meta: Dict[str, Any]) -> int:
        """Batches of epoch ``meta['epoch']`` done when ``meta`` is saved."""
        if meta['epoch'] > self._epoch:  # saved at the end of the epoch
            return 0
        return meta['iter'] - self._epoch_start_iter

    def _skip_from_state(self, meta, state) -> int:
        return int(state.get('epoch_iter', self._infer_skip(meta)))

    def _position_at(self, meta: Dict[str, Any], per_iter: int,
                     plain: bool = False) -> Tuple[int, int]:
        """``(epoch, indices of its global order trained on)`` when
        ``meta`` is saved (``plain``: as the batches done say, ``meta``'s
        ``epoch_iter`` of them, with ``per_iter`` indices each)."""
        if plain:
            return meta['epoch'], int(meta.get('epoch_iter') or 0) * per_iter
        epoch_iter = self.epoch_iter_at(meta)
        if epoch_iter == 0:
            return meta['epoch'], 0
        start_iter, start_consumed = self._anchor
        return meta['epoch'], \
            start_consumed + (epoch_iter - start_iter) * per_iter

    def _infer_skip(self, meta) -> int:
        return max(0, meta['iter'] - meta['epoch'] * len(self.dataloader))

    def run_epoch(self) -> None:
        """mmengine's ``run_epoch`` plus the resume position (skipped
        indices, or for a dataset that tracks its own position such as
        ``AVShardDataset`` its progress state; RNG states restored once the
        iterator exists) and a ``stop_training`` check after every
        iteration."""
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        skip, self._pending_skip = self._pending_skip, 0
        progress, self._pending_progress = self._pending_progress, None
        dataset = self.dataloader.dataset
        tracks = hasattr(dataset, 'record_trained')
        if _shuffles_itself(dataset):
            # shards (AVShardDataset) are shuffled per epoch by the dataset
            # itself: its sampler has no epoch. The dataset shares the epoch
            # with its workers, persistent ones included
            dataset.set_epoch(self._epoch)
        position, self._pending_position = self._pending_position, None
        self._anchor = (0, 0)
        drop = 0
        first = skip  # the batch index of this run's first batch
        if skip and tracks and progress is not None:
            _load_progress(dataset, progress, 'this epoch')
            left = _redealt_batches(self.dataloader)
            if left is not None:
                # dealt anew (other processes): numbered as the last of
                # the epoch, as the re-dealt rest of a sampler's order
                # below, not on from the checkpoint's, whose batches held
                # another number of samples each
                first = max(0, len(self.dataloader) - left)
        elif position is not None:
            # its batches are the last of this run's epoch: the batch
            # index hooks see ends where this run's epochs end
            skip = max(0, len(self.dataloader) - self._resplit(position))
            self._anchor = (skip, position['consumed'])
            first = skip
        elif not self._skip_samples(skip):
            self._say_loading_to_skip(skip)
            drop = skip
        self._epoch_start_iter = self._iter - first
        # Creating the iterator draws a base seed from the torch generator.
        # At an epoch start the uninterrupted run made that draw *after* the
        # checkpoint was saved; mid-epoch it made it before.
        if skip == 0:
            self._restore_pending_rng()
        iterator = iter(self.dataloader)
        self._restore_pending_rng()
        for _ in range(drop):
            next(iterator)
        if isinstance(dataset, IterableDataset) and get_world_size() > 1:
            iterator = _while_every_rank_has_a_batch(iterator, 'epoch')
        for idx, data_batch in enumerate(iterator, start=first):
            if tracks:  # before the step: a checkpoint saved in it counts it
                dataset.record_trained(data_batch)
            self.run_iter(idx, data_batch)
            if self.stop_training:
                break
        if tracks and not self.stop_training:
            _warn_short_pass(dataset, f'Epoch {self._epoch + 1}')
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


def _load_progress(dataset, progress: Dict[str, Any], part: str,
                   label: Optional[str] = None) -> None:
    """Resume: hand ``dataset`` (``AVShardDataset``) what the checkpoint
    says ``part`` (of the epoch or pass being resumed) trained on;
    ``label``: the epoch as the dataset's own log names it (its
    default: ``'epoch N'``)."""
    dataset.load_progress(progress, label)
    print_log(
        f'Resume: {len(progress["done"])} shard(s) of {part} were fully '
        'trained on and are not read again; '
        f'{len(progress["partial"])} partly trained shard(s) are re-read '
        'without their trained samples (not decoded).', logger='current')


def _redealt_batches(dataloader) -> Optional[int]:
    """The batches a resumed epoch whose rest ``AVShardDataset`` dealt
    anew gives every rank (``redealt_batches``), None for any other."""
    batches = getattr(dataloader.dataset, 'redealt_batches', None)
    if batches is None or not dataloader.batch_size:
        return None
    return batches(dataloader.batch_size, dataloader.num_workers,
                   dataloader.drop_last)


def _warn_short_pass(dataset, what: str) -> None:
    """An iterable dataset ends when its data ends: say so when that was
    before the samples its index lists (skipped bad samples, shards cut or
    unreachable under ``bad_sample_policy='skip'``, batches left when
    another rank's share ran out first), summed over the ranks so that
    rank 0's log tells. ``what``: ``'Epoch 2'``, ``'Pass 3 over the
    data'``. A collective: every rank calls it."""
    counts = torch.tensor(dataset.epoch_shortfall(), dtype=torch.int64)
    all_reduce(counts)
    trained, expected = counts.tolist()
    if trained < expected:
        world = get_world_size()
        where, left = ('for this rank', '') if world == 1 else (
            f'for the {world} ranks', ', or left in a rank whose share '
            'outlasted another rank\'s')
        print_log(
            f'{what} trained on {trained} of the {expected} samples the '
            f'shard index lists {where}: {expected - trained} were skipped '
            f'(see the skip warnings above and DataReportHook\'s report)'
            f'{left}.', logger='current', level=30)


def _every_rank_has(batch: Optional[Any], part: str) -> bool:
    """Whether every rank has a batch (``batch`` is not None on each):
    one all-reduce of a flag. ``part``: what a rank that still has one
    stops (``'epoch'``, ``'pass'``), for its warning."""
    every_rank_has_one = torch.tensor([int(batch is not None)])
    all_reduce(every_rank_has_one, op='min')
    if every_rank_has_one.item():
        return True
    if batch is not None:
        print_log(
            f'Another rank\'s share of this {part} ran out first: this rank '
            f'stops with it, its other batches are not trained this {part}.',
            logger='current', level=30)
    return False


def _while_every_rank_has_a_batch(batches: Iterator, part: str) -> Iterator:
    """``batches`` for as long as every rank has one.

    The ranks' shares of an iterable dataset can give different numbers of
    batches (shards of different sizes, samples skipped as bad). A rank
    that ended its epoch alone would meet the others' gradient all-reduce
    with its own next collective: a hang (or worse, mismatched data). So
    before each batch the ranks agree (one all-reduce of a flag; mmengine
    already syncs every iteration when it logs the losses) and stop
    together; the batches a rank has left are not trained this epoch
    (the epoch-end shortfall counts them)."""
    for batch in itertools.chain(batches, [None]):
        if not _every_rank_has(batch, part):
            return
        yield batch


def _shuffles_itself(dataset) -> bool:
    """An iterable dataset with its own per-epoch order (``set_epoch``:
    ``AVShardDataset``), which no sampler's epoch reaches."""
    return isinstance(dataset, IterableDataset) and \
        hasattr(dataset, 'set_epoch')


class _ReshufflingIterator:
    """Batches of a dataset that shuffles itself (``AVShardDataset``), pass
    after pass, for :class:`AVIterBasedTrainLoop`.

    mmengine's ``_InfiniteDataloaderIterator`` tells a new pass to the
    sampler only, which such a dataset does not read, so every pass came in
    the first one's order. Here each pass is the dataset's next epoch
    (``set_epoch``). Under DDP every rank ends a pass when the first one's
    share of it runs out (as :class:`AVEpochBasedTrainLoop` ends an epoch):
    ranks that each restarted their own pass drifted apart by a pass, and a
    checkpoint's progress, merged over the ranks, would have mixed passes.

    Args:
        dataloader: The train DataLoader.
        first_pass: The pass (dataset epoch) the dataset is set to; a
            resumed pass may have nothing left, the next one follows.
        on_pass_end: Called on every rank when a pass ends, before the next
            one is set.
    """

    def __init__(self, dataloader, first_pass: int = 0,
                 on_pass_end: Optional[Callable[[int], None]] = None
                 ) -> None:
        self._dataloader = dataloader
        self._epoch = int(first_pass)
        self._on_pass_end = on_pass_end
        self._iterator = iter(dataloader)

    def __iter__(self) -> '_ReshufflingIterator':
        return self

    def __next__(self) -> Any:
        batch = self._next_on_every_rank()
        if batch is None:
            if self._on_pass_end is not None:
                self._on_pass_end(self._epoch)
            self._epoch += 1
            self._dataloader.dataset.set_epoch(self._epoch)
            self._iterator = iter(self._dataloader)
            batch = self._next_on_every_rank()
            if batch is None:
                raise RuntimeError(
                    f'pass {self._epoch + 1} over the train dataset gave no '
                    'batch on at least one rank (every sample skipped as '
                    'bad, or no shard for it)')
        return batch

    def _next_on_every_rank(self) -> Optional[Any]:
        """The next batch of this pass, None when it (or another rank's
        share of it) ran out."""
        batch = next(self._iterator, None)
        if get_world_size() > 1 and not _every_rank_has(batch, 'pass'):
            return None
        return batch


def _stop_persistent_workers(dataloader) -> None:
    """Stop the workers a DataLoader with ``persistent_workers=True`` keeps
    for its next ``iter()``: they hold the copy of the dataset made when the
    loop was built, before the resume loaded its progress."""
    iterator = getattr(dataloader, '_iterator', None)
    if iterator is not None:
        iterator._shutdown_workers()
        dataloader._iterator = None


@LOOPS.register_module()
class AVIterBasedTrainLoop(_ResumableMixin, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume skips indices, not loaded batches.

    Same arguments as :class:`mmengine.runner.IterBasedTrainLoop`. With an
    infinite sampler the first ``iter x batch_size`` indices of the stream
    are skipped; with a finite sampler the pass (epoch of the sampler) and
    the position inside it are restored. A dataset that shuffles itself and
    tracks its position (``AVShardDataset``) is told every batch trained on;
    a resume sets the checkpoint's pass and skips what that pass had
    trained on (exact as a set of samples, as in
    :class:`AVEpochBasedTrainLoop`).
    """

    _resplits_infinite = True
    # (iteration, pass, indices of its global order trained on, batches
    # left in that pass or None for an infinite stream) at which this run
    # began: None for (0, 0, 0, len(dataloader)), but after a resume that
    # re-dealt the rest of the order
    _anchor: Optional[Tuple[int, int, int, Optional[int]]] = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending_skip = 0
        if _shuffles_itself(self.dataloader.dataset):
            self.dataloader_iterator = _ReshufflingIterator(
                self.dataloader, on_pass_end=self._end_of_pass)

    def epoch_iter_at(self, meta: Dict[str, Any]) -> int:
        return meta['iter']

    def _skip_from_state(self, meta, state) -> int:
        return meta['iter']

    def _infer_skip(self, meta) -> int:
        return meta['iter']

    def _position_at(self, meta: Dict[str, Any], per_iter: int,
                     plain: bool = False) -> Tuple[int, int]:
        """``(pass, indices of its global order trained on)`` when
        ``meta`` is saved (``plain``: as the iteration count says, every
        pass ``len(dataloader)`` iterations of ``per_iter`` indices)."""
        anchor = self._anchor
        if plain or anchor is None:
            infinite = isinstance(self._index_sampler(), InfiniteSampler)
            anchor = (0, 0, 0, None if infinite else len(self.dataloader))
        start_iter, start_pass, start_consumed, left = anchor
        done = meta['iter'] - start_iter
        if left is None or done < left:
            return start_pass, start_consumed + done * per_iter
        passes, in_pass = divmod(done - left, len(self.dataloader))
        return start_pass + 1 + passes, in_pass * per_iter

    def _end_of_pass(self, pass_index: int) -> None:
        dataset = self.dataloader.dataset
        if hasattr(dataset, 'epoch_shortfall'):
            _warn_short_pass(dataset, f'Pass {pass_index + 1} over the data')

    def _fast_forward(self, done: int) -> None:
        if _shuffles_itself(self.dataloader.dataset):
            self._resume_pass(done)
            return
        position, self._pending_position = self._pending_position, None
        if position is not None:
            self._resume_resplit(position)
            return
        sampler = self._index_sampler()
        passes = 0
        if isinstance(sampler, InfiniteSampler):
            # mmengine's InfiniteSampler hands out ONE shared generator; the
            # iterator built in __init__ has already drawn from it (worker
            # prefetch) and closes it when discarded. Restart the stream.
            sampler.indices = sampler._indices_of_rank()
            in_pass = done
        else:
            passes, in_pass = divmod(done, len(self.dataloader))
            if passes and hasattr(sampler, 'set_epoch'):
                sampler.set_epoch(passes)
        if self._skip_samples(in_pass):
            if in_pass == 0:  # the uninterrupted run restarts the loader
                self._restore_pending_rng()  # after the checkpoint
            self.dataloader_iterator = _InfiniteDataloaderIterator(
                self.dataloader)
            self.dataloader_iterator._epoch = passes
            self._restore_pending_rng()
        else:  # mmengine's slow path: load and drop
            self._load_and_drop(done)

    def _resume_resplit(self, position: Dict[str, Any]) -> None:
        """Go on with the checkpoint's pass (or infinite stream), this
        process taking its share of what its order has left: the
        checkpoint was written by another number of processes or batch
        size, or by a run resumed so."""
        sampler = self._index_sampler()
        pass_ = position['epoch']
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(pass_)
        left = self._resplit(position)
        if position['consumed'] == 0:  # as in _fast_forward
            self._restore_pending_rng()
        self.dataloader_iterator = _InfiniteDataloaderIterator(
            self.dataloader)
        self.dataloader_iterator._epoch = pass_
        self._restore_pending_rng()
        self._anchor = (self._iter, pass_, position['consumed'], left)

    def _load_and_drop(self, done: int) -> None:
        self._say_loading_to_skip(done)
        self._restore_pending_rng()
        for _ in range(done):
            next(self.dataloader_iterator)

    def _resume_pass(self, done: int) -> None:
        """Go on with the pass the checkpoint was saved in, without what it
        had trained on (a dataset that shuffles itself: its passes' lengths
        are not ``len(dataloader)``, and it has no indices to skip)."""
        dataset = self.dataloader.dataset
        progress, self._pending_progress = self._pending_progress, None
        if progress is None or not hasattr(dataset, 'load_progress'):
            self._load_and_drop(done)
            return
        if not (progress['done'] or progress['partial']):
            # written before this loop recorded what it trained on
            print_log(
                'Resume: the checkpoint holds no record of what pass '
                f'{progress["epoch"] + 1} over the data trained on (saved '
                'by an older mmavcl, whose AVIterBasedTrainLoop did not '
                'record it): which samples were trained cannot be restored, '
                f'so the run replays its {done} batches from the start of '
                'the first pass, loading and dropping them (with the same '
                'seed and one process they are the batches trained before).',
                logger='current', level=30)
            self._load_and_drop(done)
            return
        dataset.set_epoch(progress['epoch'])
        part = f'pass {progress["epoch"] + 1} over the data'
        _load_progress(dataset, progress, part, part)
        _stop_persistent_workers(self.dataloader)
        self.dataloader_iterator = _ReshufflingIterator(
            self.dataloader, progress['epoch'], self._end_of_pass)
        # mid-pass, as in the uninterrupted run, the pass's iterator (and
        # its base seed draw) came before the checkpoint; a pass left with
        # nothing gets its successor's from the restored state
        self._restore_pending_rng()

    def run(self) -> torch.nn.Module:
        """mmengine's ``run`` with :meth:`_fast_forward` in place of its
        resume fast-forward, which loads and drops every batch already
        trained on, and every batch handed to a dataset that tracks its
        position."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward(self._pending_skip or self._iter)
            self._pending_skip = 0
        dataset = self.dataloader.dataset
        tracks = hasattr(dataset, 'record_trained')
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
            if tracks:  # before the step: a checkpoint saved in it counts it
                dataset.record_trained(data_batch)
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
