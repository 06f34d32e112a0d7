"""Per-epoch count of the bad media a ``'skip'`` dataset replaced.

Design: the dataset runs inside DataLoader worker processes, whose counters
the main process never sees (and which die at every epoch end unless
``persistent_workers``). So the dataset reports each replacement *in the
data sample it returns* (metainfo ``skipped_bad_samples``: the
``(filename, reason)`` pairs skipped to make that sample), and this hook
reads them from every batch in the main process. Counts are therefore exact
whatever the number of workers, and each bad file is logged once per run.
"""
import json
import os.path as osp
from collections import Counter
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmavcl.datasets.errors import TooManyBadSamplesError
from mmavcl.datasets.video_dataset import SKIPPED_KEY
from mmavcl.registry import HOOKS


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


@HOOKS.register_module()
class BadSampleSummaryHook(Hook):
    """Log each skipped bad file once, a per-epoch summary, and stop the run
    when too many reads are bad.

    Works with ``AVVideoDataset(bad_sample_policy='skip')`` (or any dataset
    that sets the metainfo key ``skipped_bad_samples`` on its data samples).

    The bad ratio is ``skipped reads / (delivered samples + skipped reads)``
    over the run on this rank; above ``max_bad_ratio`` (once ``warmup``
    reads were made) the hook writes ``report_file`` in the work dir
    (every bad file with its reason) and raises
    :class:`~mmavcl.datasets.TooManyBadSamplesError`.

    Args:
        max_bad_ratio: Limit; ``None`` takes the train dataset's
            ``max_bad_ratio`` (no limit if that is ``None`` too).
        warmup: Reads before the limit applies; ``None`` takes the dataset's
            ``bad_ratio_warmup`` (else 100).
        report_file: JSON report written into the work dir at every epoch
            end and on abort (only when something was skipped).
        max_listed: Files named in the epoch summary line.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self,
                 max_bad_ratio: Optional[float] = None,
                 warmup: Optional[int] = None,
                 report_file: str = 'bad_samples.json',
                 max_listed: int = 10) -> None:
        self.max_bad_ratio = max_bad_ratio
        self.warmup = warmup
        self.report_file = report_file
        self.max_listed = max_listed
        self.files: Dict[str, str] = {}  # filename -> reason, run-wide
        self.run_samples = self.run_skips = 0
        self._reset_epoch()

    def _reset_epoch(self) -> None:
        self.epoch_samples = 0
        self.epoch_skips: Counter = Counter()  # filename -> times skipped

    def before_train(self, runner) -> None:
        datasets = _datasets(runner.train_dataloader.dataset)
        for ds in datasets:
            if hasattr(ds, 'log_bad_samples'):
                # the workers stay quiet; this hook logs once per run
                ds.log_bad_samples = False
        ratios = [getattr(d, 'max_bad_ratio', None) for d in datasets]
        ratios = [r for r in ratios if r is not None]
        if self.max_bad_ratio is None and ratios:
            self.max_bad_ratio = min(ratios)
        if self.warmup is None:
            warm = [getattr(d, 'bad_ratio_warmup', None) for d in datasets]
            warm = [w for w in warm if w is not None]
            self.warmup = min(warm) if warm else 100

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        if not samples:
            return
        for sample in samples:
            meta = getattr(sample, 'metainfo', {})
            self.epoch_samples += 1
            self.run_samples += 1
            for filename, reason in meta.get(SKIPPED_KEY, ()):
                self.epoch_skips[filename] += 1
                self.run_skips += 1
                if filename not in self.files:
                    self.files[filename] = reason
                    runner.logger.warning(
                        f'bad sample skipped: {filename}: {reason}')
        self._check_ratio(runner)

    def _check_ratio(self, runner) -> None:
        reads = self.run_samples + self.run_skips
        if self.max_bad_ratio is None or not self.run_skips or \
                reads < (self.warmup or 0):
            return
        ratio = self.run_skips / reads
        if ratio > self.max_bad_ratio:
            path = self._write_report(runner)
            raise TooManyBadSamplesError(
                f'{self.run_skips} of {reads} sample reads ({ratio:.1%}) hit '
                f'bad media by iteration {runner.iter + 1}, more than '
                f'max_bad_ratio={self.max_bad_ratio}; report: {path}; '
                f'{len(self.files)} bad file(s):', list(self.files.items()))

    def _write_report(self, runner) -> Optional[str]:
        if not self.files or not is_main_process():
            return None
        path = osp.join(runner.work_dir, self.report_file)
        with open(path, 'w') as f:
            json.dump(
                dict(
                    samples_delivered=self.run_samples,
                    bad_reads=self.run_skips,
                    max_bad_ratio=self.max_bad_ratio,
                    files=[dict(filename=k, reason=v)
                           for k, v in self.files.items()]),
                f,
                indent=1)
        return path

    def after_train_epoch(self, runner) -> None:
        samples, skips = self.epoch_samples, self.epoch_skips
        if get_world_size() > 1:
            gathered: Sequence[Tuple[int, Counter]] = all_gather_object(
                (samples, skips))
            samples = sum(g[0] for g in gathered)
            skips = sum((g[1] for g in gathered), Counter())
        total = sum(skips.values())
        if total:
            listed = ', '.join(f'{f} (x{n})' if n > 1 else f
                               for f, n in skips.most_common(self.max_listed))
            more = len(skips) - self.max_listed
            listed += f' and {more} more' if more > 0 else ''
            print_log(
                f'Epoch {runner.epoch + 1}: {total} bad sample read(s) '
                f'skipped ({len(skips)} file(s)) while delivering {samples} '
                f'samples ({total / (samples + total):.2%}): {listed}',
                logger='current')
            self._write_report(runner)
        else:
            print_log(
                f'Epoch {runner.epoch + 1}: no bad samples skipped '
                f'({samples} samples)',
                logger='current')
        self._reset_epoch()
