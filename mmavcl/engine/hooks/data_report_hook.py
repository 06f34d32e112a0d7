"""The data problems met on any rank, named once on rank 0: bad media that
a ``'skip'`` dataset replaced, and audio sidecars without an alignment
record.

Design: both are found by the dataset inside DataLoader worker processes,
whose counters the main process never sees (and which die at every epoch
end unless ``persistent_workers``); and under distributed training
mmengine's ``MMLogger`` shows the warnings of ranks other than 0 nowhere
(their consoles take ERROR only and they write no log file). So each data
sample carries its problems in its metainfo, which crosses from the worker
to the main process with the batch: ``skipped_bad_samples`` (the
``(filename, reason)`` pairs skipped to make it,
:data:`~mmavcl.datasets.video_dataset.SKIPPED_KEY`) and
``sidecar_without_alignment`` (its sidecar without a record,
:data:`~mmavcl.datasets.media.sidecar.UNTAGGED_SIDECAR_KEY`).
:class:`DataReportHook` notes them from every batch in ``after_train_iter``
and gathers them over the ranks (``all_gather_object``) at points every
rank reaches together: every ``interval`` iterations, each epoch end, each
validation and the end of training. Rank 0 then logs a bounded line per
kind (count and first names) and keeps the full lists in files; every rank
applies ``max_bad_ratio`` to the same gathered counts, so all ranks stop
together.

For that the datasets must leave both to the hook: each process logging
its own bad files, and each process applying ``max_bad_ratio`` to its own
reads (the check of one DataLoader worker of one rank, which raised on
that rank alone and left the others waiting in a collective: until the
NCCL/gloo timeout under launchers other than torchrun). The workers hold
copies of the dataset made when they start, and an iteration loop starts
them when it is built, before any hook runs; so ``AVRunner`` builds the
train dataloader itself and hands its dataset to
:meth:`DataReportHook.take_over` before the loop exists.

The hook runs after ``CheckpointHook`` at every hook point (priority
``'LOWEST'``): a stop at an epoch end or at a checkpointed iteration comes
after that checkpoint was saved, and the run can be resumed from it once
the data is fixed. The limit counts the reads since training (re)started,
so a resumed run is judged on the data it reads now; the report file keeps
the whole run's files and counts.
"""
import json
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Set

from mmengine.dist import (all_gather_object, broadcast_object_list,
                           get_world_size, is_main_process)
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from mmavcl.datasets.errors import TooManyBadSamplesError
from mmavcl.datasets.media.sidecar import UNTAGGED_SIDECAR_KEY
from mmavcl.datasets.video_dataset import SKIPPED_KEY
from mmavcl.registry import HOOKS

__all__ = ['DataReportHook', 'BadSampleSummaryHook', 'SIDECAR_LIST_FILE',
           'reporting_hook']

#: written into the run's log dir by rank 0: one sidecar per line
SIDECAR_LIST_FILE = 'sidecars_without_alignment.txt'


def _datasets(dataset) -> List:
    """The dataset and those it wraps (ConcatDataset, RepeatDataset...)."""
    found, todo = [], [dataset]
    while todo:
        ds = todo.pop()
        found.append(ds)
        todo.extend(getattr(ds, 'datasets', []) or [])
        if getattr(ds, 'dataset', None) is not None:
            todo.append(ds.dataset)
    return found


def _listed(names: List[str], max_listed: int) -> str:
    shown = ', '.join(names[:max_listed])
    more = len(names) - max_listed
    return shown + (f' and {more} more' if more > 0 else '')


class _Noted:
    """What one rank's batches brought since the last gather."""

    def __init__(self) -> None:
        self.samples = 0
        self.skips: Counter = Counter()  # filename -> times skipped
        self.reasons: Dict[str, str] = {}  # filename -> reason
        self.sidecars: Set[str] = set()


def reporting_hook(hooks) -> Optional['DataReportHook']:
    """The one of ``hooks`` that reports: the last ``DataReportHook`` (one
    in ``custom_hooks`` comes after the default one). The same on every
    rank: every rank registers the same hooks in the same order."""
    mine = [h for h in hooks if isinstance(h, DataReportHook)]
    return mine[-1] if mine else None


@HOOKS.register_module(name=['DataReportHook', 'BadSampleSummaryHook'])
class DataReportHook(Hook):
    """Name every skipped bad file and every audio sidecar without an
    alignment record that any rank trained on, on rank 0, and stop all ranks
    together when too many reads are bad.

    On by default (``default_hooks.data_report`` in
    ``configs/_base_/default_runtime.py``); ``BadSampleSummaryHook`` is
    another registered name of it. Reads the metainfo keys
    ``skipped_bad_samples`` (set by ``AVVideoDataset`` and
    ``AVShardDataset`` with ``bad_sample_policy='skip'``) and
    ``sidecar_without_alignment`` (set by ``DecodeAudioViews``).

    At each report point (every ``interval`` iterations, epoch ends,
    validations, the end of training) the ranks gather what they met; rank 0
    logs one line for the new bad files (count, first files and reasons)
    and one for the new untagged sidecars, rewrites ``work_dir/report_file``
    (every bad file of the run with its reason, and the counts) and appends
    the new sidecars to ``<log_dir>/sidecars_without_alignment.txt``. Each
    epoch end also logs the epoch's counts.

    The bad ratio is ``skipped reads / (delivered samples + skipped reads)``
    on all ranks since training started (or was resumed: a run resumed
    after the data list was fixed is judged on what it reads now); above
    ``max_bad_ratio`` (once ``warmup`` such reads were made) every rank
    raises :class:`~mmavcl.datasets.TooManyBadSamplesError` at the same
    report point, after rank 0 wrote the report. The datasets' own checks,
    per process, are off (:meth:`take_over`), and the hook runs after
    ``CheckpointHook`` (priority ``'LOWEST'``), so the checkpoint of the
    epoch (or iteration) it stops at is saved.

    Args:
        max_bad_ratio: Limit; ``None`` takes the train dataset's
            ``max_bad_ratio`` (no limit if that is ``None`` too).
        warmup: Reads (of all ranks) before the limit applies; ``None``
            takes the dataset's ``bad_ratio_warmup`` (else 100).
        interval: Train iterations between report points inside an epoch
            (each is one small ``all_gather_object``).
        report_file: JSON report of the bad files, in the work dir.
        max_listed: Names given in a logged line (the files have all).
    """

    # after CheckpointHook ('VERY_LOW') at every point: stopping must not
    # cost the checkpoint of the epoch or iteration it stops at
    priority = 'LOWEST'

    def __init__(self,
                 max_bad_ratio: Optional[float] = None,
                 warmup: Optional[int] = None,
                 interval: int = 100,
                 report_file: str = 'bad_samples.json',
                 max_listed: int = 5) -> None:
        self.max_bad_ratio = max_bad_ratio
        self.warmup = warmup
        self.interval = interval
        self.report_file = report_file
        self.max_listed = max_listed
        #: False when a later instance (one in ``custom_hooks``) reports
        self.active = True
        # the run's, the same on every rank after each gather
        self.bad_files: Dict[str, str] = {}  # filename -> reason
        self.sidecars: Set[str] = set()
        self.samples = self.skips = 0
        # all ranks', since training (re)started: what the limit judges
        self._checked_samples = self._checked_skips = 0
        self._start_iter = 0
        self._taken_over = False
        self._training = False
        self._noted = _Noted()  # this rank's, since the last gather
        self._epoch_samples = 0  # all ranks', since the last epoch end
        self._epoch_skips: Counter = Counter()

    def take_over(self, dataset) -> None:
        """Make ``dataset`` and the datasets it wraps leave to this hook
        the logging of bad files (``log_bad_samples``) and the bad-ratio
        limit (``enforce_max_bad_ratio``), and take the limit and warmup
        from them where this hook has none.

        Only DataLoader workers started after this call see it: their
        datasets are copies. ``AVRunner.build_train_loop`` calls it before
        the train loop, which may start them, is built; :meth:`before_train`
        again, for runners that do not.
        """
        self._taken_over = True
        datasets = _datasets(dataset)
        for ds in datasets:
            if hasattr(ds, 'log_bad_samples'):
                ds.log_bad_samples = False
            if hasattr(ds, 'enforce_max_bad_ratio'):
                ds.enforce_max_bad_ratio = False
        if self.max_bad_ratio is None:
            ratios = [getattr(d, 'max_bad_ratio', None) for d in datasets]
            ratios = [r for r in ratios if r is not None]
            self.max_bad_ratio = min(ratios) if ratios else None
        if self.warmup is None:
            warm = [getattr(d, 'bad_ratio_warmup', None) for d in datasets]
            warm = [w for w in warm if w is not None]
            self.warmup = min(warm) if warm else 100

    # ------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        self.active = reporting_hook(runner.hooks) is self
        if not self.active:
            return
        self._training = True
        self._by_epoch = isinstance(runner.train_loop, EpochBasedTrainLoop)
        late = not self._taken_over
        self.take_over(runner.train_dataloader.dataset)
        if late and isinstance(runner.train_loop, IterBasedTrainLoop) and \
                runner.train_dataloader.num_workers > 0:
            runner.logger.warning(
                f'{type(self).__name__}: the DataLoader workers of this '
                'iteration loop started before the hook ran (a runner other '
                'than AVRunner): they keep logging bad files and applying '
                "the dataset's max_bad_ratio to their own reads, which stops "
                'a rank alone.')
        self._start_iter = runner.iter
        if runner.iter > 0:
            self._load_report(runner)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self._training:
            return
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        noted = self._noted
        for sample in samples or ():
            meta = getattr(sample, 'metainfo', {})
            noted.samples += 1
            for filename, reason in meta.get(SKIPPED_KEY, ()):
                noted.skips[filename] += 1
                noted.reasons.setdefault(filename, reason)
            sidecar = meta.get(UNTAGGED_SIDECAR_KEY)
            if sidecar:
                noted.sidecars.add(sidecar)
        if self.every_n_train_iters(runner, self.interval):
            # runner.iter counts this iteration only after the hooks
            self._gather_and_report(runner, runner.iter + 1)

    def after_train_epoch(self, runner) -> None:
        if not self._training:
            return
        # the iteration loops call this once, at their end
        when = (f'Epoch {runner.epoch + 1}'
                if self._by_epoch else f'Iter {runner.iter}')
        self._gather_and_report(runner, runner.iter, when, check=False)
        self._log_epoch(runner, when)
        self._check_ratio(runner, runner.iter)

    def after_val_epoch(self, runner, metrics=None) -> None:
        # an epoch loop validates right after its epoch end: nothing new
        if self._training and not self._by_epoch:
            self._gather_and_report(runner, runner.iter)

    def after_train(self, runner) -> None:
        if self._training:  # e.g. a resume with no epoch left to train
            self._gather_and_report(runner, runner.iter)
        self._training = False

    # ---------------------------------------------------------- reports
    def _gather_and_report(self, runner, iters_done: int,
                           when: Optional[str] = None,
                           check: bool = True) -> None:
        """A collective: every rank calls it at the same point, after
        ``iters_done`` train iterations (``when`` names it in the log:
        ``Iter {iters_done}`` by default)."""
        when = when or f'Iter {iters_done}'
        noted, self._noted = self._noted, _Noted()
        gathered = all_gather_object(
            (noted.samples, noted.skips, noted.reasons, noted.sidecars))
        samples = sum(g[0] for g in gathered)
        skips = sum((g[1] for g in gathered), Counter())
        reasons: Dict[str, str] = {}
        for g in gathered:  # rank order: the same result on every rank
            for filename, reason in g[2].items():
                reasons.setdefault(filename, reason)
        new_files = sorted(set(reasons) - set(self.bad_files))
        new_sidecars = sorted(set().union(*(g[3] for g in gathered)) -
                              self.sidecars)
        self.samples += samples
        self.skips += sum(skips.values())
        self._checked_samples += samples
        self._checked_skips += sum(skips.values())
        self.bad_files.update((f, reasons[f]) for f in new_files)
        self.sidecars.update(new_sidecars)
        self._epoch_samples += samples
        self._epoch_skips += skips
        if is_main_process():
            if self.skips:  # the counts changed: the file has them all
                self._write_report(runner)
            if new_files:
                self._log_bad_files(runner, when, new_files)
            if new_sidecars:
                self._log_sidecars(runner, when, new_sidecars)
        if check:
            self._check_ratio(runner, iters_done)

    def _log_bad_files(self, runner, when: str, new: List[str]) -> None:
        runner.logger.warning(
            f'{when}: {len(new)} new bad file(s) skipped on '
            f'{get_world_size()} rank(s) ({len(self.bad_files)} in this '
            'run): ' + _listed([f'{f}: {self.bad_files[f]}' for f in new],
                               self.max_listed) +
            f'; every one is listed in {self._report_path(runner)}')

    def _log_sidecars(self, runner, when: str, new: List[str]) -> None:
        path = osp.join(runner.log_dir, SIDECAR_LIST_FILE)
        with open(path, 'a', encoding='utf-8') as f:
            f.writelines(name + '\n' for name in new)
        runner.logger.warning(
            f'{when}: {len(new)} audio sidecar(s) without an alignment '
            f'record read on all ranks ({len(self.sidecars)} in this run): '
            f'{_listed(new, self.max_listed)}; every one is listed in '
            f'{path}. Their views count from their first sample, off by '
            'the real gap for videos whose audio does not start with the '
            'first frame; re-extract them: python '
            'tools/data/extract_audio.py --src VIDEO_ROOT --out AUDIO_ROOT '
            '--overwrite')

    def _log_epoch(self, runner, when: str) -> None:
        samples, skips = self._epoch_samples, self._epoch_skips
        self._epoch_samples, self._epoch_skips = 0, Counter()
        if not is_main_process():
            return
        total = sum(skips.values())
        if not total:
            runner.logger.info(
                f'{when}: no bad samples skipped ({samples} samples)')
            return
        listed = _listed([f'{f} (x{n})' if n > 1 else f
                          for f, n in skips.most_common()], self.max_listed)
        runner.logger.info(
            f'{when}: {total} bad sample read(s) skipped ({len(skips)} '
            f'file(s)) while delivering {samples} samples '
            f'({total / (samples + total):.2%}): {listed}')

    def _check_ratio(self, runner, iters_done: int) -> None:
        """Every rank holds the same gathered counts, so every rank decides
        the same and no rank is left waiting in a collective."""
        skips = self._checked_skips
        reads = self._checked_samples + skips
        if self.max_bad_ratio is None or not skips or \
                reads < (self.warmup or 0):
            return
        ratio = skips / reads
        if ratio > self.max_bad_ratio:
            if is_main_process():
                self._write_report(runner)
            since = (f' since the resume at iteration {self._start_iter}'
                     if self._start_iter else '')
            raise TooManyBadSamplesError(
                f'{skips} of {reads} sample reads ({ratio:.1%}) on '
                f'{get_world_size()} rank(s) hit bad media by iteration '
                f'{iters_done}{since}, more than max_bad_ratio='
                f'{self.max_bad_ratio}; report: {self._report_path(runner)}; '
                f'{len(self.bad_files)} bad file(s):',
                list(self.bad_files.items()))

    def _report_path(self, runner) -> str:
        return osp.join(runner.work_dir, self.report_file)

    def _write_report(self, runner) -> None:
        with open(self._report_path(runner), 'w') as f:
            json.dump(
                dict(
                    samples_delivered=self.samples,
                    bad_reads=self.skips,
                    max_bad_ratio=self.max_bad_ratio,
                    files=[dict(filename=k, reason=v)
                           for k, v in self.bad_files.items()]),
                f,
                indent=1)

    def _load_report(self, runner) -> None:
        """A resumed run goes on with the report of the run it resumes, so
        rewriting it loses none of the files named before. The limit counts
        this run's reads only (see the class doc)."""
        state = [None]
        path = self._report_path(runner)
        if is_main_process() and osp.isfile(path):
            with open(path) as f:
                state[0] = json.load(f)
        broadcast_object_list(state)
        if state[0] is None:
            return
        self.samples = int(state[0]['samples_delivered'])
        self.skips = int(state[0]['bad_reads'])
        self.bad_files = {f['filename']: f['reason']
                          for f in state[0]['files']}


#: the name configs and docs used before it also reported sidecars
BadSampleSummaryHook = DataReportHook
