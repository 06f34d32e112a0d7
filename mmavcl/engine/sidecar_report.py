"""Every audio sidecar without an alignment record that a run trained on,
named once on rank 0, whichever rank and DataLoader worker read it.

``DecodeAudioViews`` warns once per process about such a sidecar
(:mod:`mmavcl.datasets.media.sidecar`), but under distributed training
mmengine's ``MMLogger`` lets only ERROR through on the consoles of ranks
other than 0 and writes no log file for them: with 8 GPUs the user learnt
only of rank 0's first file, and of none when rank 0 read only tagged
sidecars. Each sample now carries the name in its metainfo
(:data:`~mmavcl.datasets.media.sidecar.UNTAGGED_SIDECAR_KEY`), which crosses
from the workers to the main process with the batch (as skipped bad samples
do); the train loops collect the names and :meth:`UntaggedSidecars.report`
gathers them over the ranks (``all_gather_object``, once per epoch). Rank 0
logs one warning per report with the count and the first names, and
appends every new name to ``<log_dir>/sidecars_without_alignment.txt``: the
console gets a line per epoch at most, the file names them all.
"""
import logging
import os.path as osp
from typing import List, Optional, Set

from mmengine.dist import all_gather_object, get_rank
from mmengine.logging import print_log

from mmavcl.datasets.media.sidecar import UNTAGGED_SIDECAR_KEY

__all__ = ['UntaggedSidecars', 'LIST_FILE']

#: written into the run's log dir by rank 0: one sidecar per line
LIST_FILE = 'sidecars_without_alignment.txt'


class UntaggedSidecars:
    """The untagged sidecars of the batches one rank trained on.

    Args:
        max_listed: Names given in the logged line (the file has all).
    """

    def __init__(self, max_listed: int = 5) -> None:
        self.max_listed = max_listed
        self._new: Set[str] = set()  # this rank's, since the last report
        #: every name reported so far (the same on every rank)
        self.reported: Set[str] = set()

    def add(self, data_batch) -> None:
        """Note the untagged sidecars of ``data_batch`` (a collated batch:
        ``dict(inputs=..., data_samples=[...])``)."""
        samples = data_batch.get('data_samples') if isinstance(
            data_batch, dict) else None
        for sample in samples or ():
            name = getattr(sample, 'metainfo', {}).get(UNTAGGED_SIDECAR_KEY)
            if name and name not in self.reported:
                self._new.add(name)

    def report(self, log_dir: Optional[str], when: str) -> List[str]:
        """Gather the names noted on every rank since the last report (a
        collective: every rank calls it at the same point); on rank 0 log
        the new ones and append them to ``log_dir/``:data:`LIST_FILE`.
        Returns the new names (on every rank)."""
        gathered = all_gather_object(sorted(self._new))
        self._new.clear()
        new = sorted(set().union(*gathered) - self.reported)
        self.reported.update(new)
        if not new or get_rank() != 0:
            return new
        where = ''
        if log_dir:
            path = osp.join(log_dir, LIST_FILE)
            with open(path, 'a', encoding='utf-8') as f:
                f.writelines(name + '\n' for name in new)
            where = f'; every one is listed in {path}'
        shown = ', '.join(new[:self.max_listed])
        more = len(new) - self.max_listed
        if more > 0:
            shown += f' and {more} more'
        print_log(
            f'{when}: {len(new)} audio sidecar(s) without an alignment '
            f'record read on all ranks ({len(self.reported)} in this run): '
            f'{shown}{where}. Their views count from their first sample, '
            'off by the real gap for videos whose audio does not start '
            'with the first frame; re-extract them: python '
            'tools/data/extract_audio.py --src VIDEO_ROOT --out AUDIO_ROOT '
            '--overwrite',
            logger='current', level=logging.WARNING)
        return new
