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
  set of samples, see its docstring); any other is loaded and dropped;
* **RNG states**: restored right after the new DataLoader iterator exists and
  before the first batch is fetched (see :mod:`mmavcl.engine.resume`);
* ``stop_training`` is honoured after every iteration of an epoch, not only
  between epochs;
* **iterable datasets that shuffle themselves** (``AVShardDataset``): under
  DDP the epoch loop stops every rank when the first one's share of the
  epoch runs out (the ranks' shares can give different numbers of
  batches; a rank that ended alone hung the others), and the iteration
  loop starts each pass over the data as the dataset's next epoch (a new
  order; mmengine tells the new pass only to a sampler).

That validation does not perturb the training randomness is not the loops'
business: :class:`~mmavcl.engine.hooks.ValRNGGuardHook` (a default hook of
``configs/_base_/default_runtime.py``) restores the RNG states after it.
A config that names mmengine's loops gets them, and ``AVRunner.train``
warns that resume will not be exact.
"""
import itertools
from typing import Any, Dict, Iterator, Optional

import torch
from mmengine.dataset import InfiniteSampler
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from mmengine.runner.loops import _InfiniteDataloaderIterator
from torch.utils.data import IterableDataset

from mmavcl.registry import LOOPS
from .resume import (RESUME_KEY, SkipFirst, restore_rng_state,
                     rng_for_this_rank, train_sampler)


class _ResumableMixin:
    """Resume bookkeeping shared by both loops."""

    _pending_rng: Optional[Dict[str, Any]] = None
    _pending_progress: Optional[Dict[str, Any]] = None

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
        self._pending_progress = state.get('data_progress')
        sampler = self._index_sampler()
        if 'sampler_seed' in state and hasattr(sampler, 'seed'):
            sampler.seed = state['sampler_seed']

    def _index_sampler(self):
        sampler = train_sampler(self.dataloader)
        return sampler.sampler if isinstance(sampler, SkipFirst) else sampler

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

    def epoch_iter_at(self, meta: Dict[str, Any]) -> int:
        """Batches of epoch ``meta['epoch']`` done when ``meta`` is saved."""
        if meta['epoch'] > self._epoch:  # saved at the end of the epoch
            return 0
        return meta['iter'] - self._epoch_start_iter

    def _skip_from_state(self, meta, state) -> int:
        return int(state.get('epoch_iter', self._infer_skip(meta)))

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
        drop = 0
        if skip and tracks and progress is not None:
            dataset.load_progress(progress)
            print_log(
                f'Resume: {len(progress["done"])} shard(s) of this epoch '
                'were fully trained on and are not read again; '
                f'{len(progress["partial"])} partly trained shard(s) are '
                're-read without their trained samples (not decoded).',
                logger='current')
        elif not self._skip_samples(skip):
            self._say_loading_to_skip(skip)
            drop = skip
        self._epoch_start_iter = self._iter - skip
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
            iterator = _while_every_rank_has_a_batch(iterator)
        for idx, data_batch in enumerate(iterator, start=skip):
            if tracks:  # before the step: a checkpoint saved in it counts it
                dataset.record_trained(data_batch)
            self.run_iter(idx, data_batch)
            if self.stop_training:
                break
        if tracks and not self.stop_training:
            self._warn_short_epoch(dataset)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1


    def _warn_short_epoch(self, dataset) -> None:
        """An iterable dataset ends when its data ends: say so when that
        was before the samples its index lists (skipped bad samples, shards
        cut or unreachable under ``bad_sample_policy='skip'``, batches left
        when another rank's share ran out first), summed over the ranks so
        that rank 0's log tells."""
        counts = torch.tensor(dataset.epoch_shortfall(), dtype=torch.int64)
        all_reduce(counts)
        trained, expected = counts.tolist()
        if trained < expected:
            world = get_world_size()
            where, left = ('for this rank', '') if world == 1 else (
                f'for the {world} ranks', ', or left in a rank whose share '
                'outlasted another rank\'s')
            print_log(
                f'Epoch {self._epoch + 1} trained on {trained} of the '
                f'{expected} samples the shard index lists {where}: '
                f'{expected - trained} were skipped (see the skip warnings '
                f'above and DataReportHook\'s report){left}.',
                logger='current', level=30)


def _while_every_rank_has_a_batch(batches: Iterator) -> Iterator:
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
        every_rank_has_one = torch.tensor([int(batch is not None)])
        all_reduce(every_rank_has_one, op='min')
        if not every_rank_has_one.item():
            if batch is not None:
                print_log(
                    'Another rank\'s share of this epoch ran out first: '
                    'this rank stops with it, its other batches are not '
                    'trained this epoch.', logger='current', level=30)
            return
        yield batch


def _shuffles_itself(dataset) -> bool:
    """An iterable dataset with its own per-epoch order (``set_epoch``:
    ``AVShardDataset``), which no sampler's epoch reaches."""
    return isinstance(dataset, IterableDataset) and \
        hasattr(dataset, 'set_epoch')


class _ReshufflingIterator(_InfiniteDataloaderIterator):
    """mmengine's iterator that restarts the DataLoader at its end, for a
    dataset that shuffles itself: mmengine sets the new pass on the
    sampler, which such a dataset does not read, so every pass came in the
    first one's order. Here the dataset is told the pass
    (``set_epoch``)."""

    def __next__(self):
        try:
            return next(self._iterator)
        except StopIteration:
            self._epoch += 1
            self._dataloader.dataset.set_epoch(self._epoch)
            self._iterator = iter(self._dataloader)
            return next(self._iterator)


@LOOPS.register_module()
class AVIterBasedTrainLoop(_ResumableMixin, IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose resume skips indices, not loaded batches.

    Same arguments as :class:`mmengine.runner.IterBasedTrainLoop`. With an
    infinite sampler the first ``iter x batch_size`` indices of the stream
    are skipped; with a finite sampler the pass (epoch of the sampler) and
    the position inside it are restored.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending_skip = 0
        if _shuffles_itself(self.dataloader.dataset):
            self.dataloader_iterator = _ReshufflingIterator(self.dataloader)

    def epoch_iter_at(self, meta: Dict[str, Any]) -> int:
        return meta['iter']

    def _skip_from_state(self, meta, state) -> int:
        return meta['iter']

    def _infer_skip(self, meta) -> int:
        return meta['iter']

    def _fast_forward(self, done: int) -> None:
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
        # a dataset that shuffles itself cannot skip: its passes' lengths
        # are not len(dataloader), and its pass is set by the iterator
        if not _shuffles_itself(self.dataloader.dataset) and \
                self._skip_samples(in_pass):
            if in_pass == 0:  # the uninterrupted run restarts the loader
                self._restore_pending_rng()  # after the checkpoint
            self.dataloader_iterator = _InfiniteDataloaderIterator(
                self.dataloader)
            self.dataloader_iterator._epoch = passes
            self._restore_pending_rng()
        else:  # mmengine's slow path: load and drop
            self._say_loading_to_skip(done)
            self._restore_pending_rng()
            for _ in range(done):
                next(self.dataloader_iterator)

    def run(self) -> torch.nn.Module:
        """mmengine's ``run`` with :meth:`_fast_forward` in place of its
        resume fast-forward, which loads and drops every batch already
        trained on."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward(self._pending_skip or self._iter)
            self._pending_skip = 0
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = next(self.dataloader_iterator)
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
