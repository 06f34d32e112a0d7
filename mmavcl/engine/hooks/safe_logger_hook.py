"""Log uploads (``LoggerHook(out_dir=...)``) that keep every run's logs."""
import logging
import os
import os.path as osp
import re
from typing import Iterable, List

from mmengine.dist import get_rank
from mmengine.hooks import LoggerHook
from mmengine.utils import scandir

from mmavcl.registry import HOOKS

__all__ = ['SafeLoggerHook', 'own_log_files']


def own_log_files(filenames: Iterable[str], rank: int) -> List[str]:
    """The files of a log dir that rank ``rank`` uploads: its own
    ``..._rank<rank>.<ext>`` log (mmengine names each rank's log so with
    ``log_level='DEBUG'`` or a distributed log config), and on rank 0
    every file not of another rank.

    The ranks of a node share the log dir; mmengine uploads every file in
    it from every rank, so the same objects were written once per rank.
    """
    own = []
    for name in filenames:
        match = re.search(r'_rank(\d+)\.[^./]+$', name)
        if (int(match.group(1)) if match else 0) == rank:
            own.append(name)
    return own


@HOOKS.register_module()
class SafeLoggerHook(LoggerHook):
    """``LoggerHook`` whose upload to ``out_dir`` never replaces an earlier
    run's files.

    Same arguments as mmengine's ``LoggerHook``. mmengine uploads the
    files of the run's log dir (``work_dir/<timestamp>/``) to
    ``<out_dir>/<work dir name>/<path in the log dir>`` when the run ends.
    The log dir's name (the run's timestamp) is not part of the key, so the
    files whose names are the same in every run (``vis_data/scalars.json``,
    ``vis_data/config.py``, the config dump ``<config name>.py``) of a
    resumed run, or of any later run into the same work dir name,
    overwrite those the earlier run uploaded. Here:

    * the key keeps the log dir's name, as the local side does:
      ``<out_dir>/<work dir name>/<timestamp>/<path in the log dir>``;
    * an object already stored under a key (a run in another work dir of
      the same name, on another machine say, that started in the same
      second: in one work dir every run has a log dir of its own) is left
      as it is, with a warning; the local file is then kept,
      ``keep_local=False`` or not;
    * each file is uploaded (and with ``keep_local=False`` removed) by one
      rank only (:func:`own_log_files`), not by every rank of the node.

    Named in ``configs/_base_/default_runtime.py``
    (``default_hooks.logger = dict(type='SafeLoggerHook', ...)``). A
    config that names mmengine's ``LoggerHook`` with an ``out_dir`` gets
    that hook, and ``AVRunner.train`` warns that uploads may overwrite.
    """

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if self.out_dir is not None:
            # mmengine's before_run has appended the work dir's name
            self.out_dir = self.file_backend.join_path(
                self.out_dir, osp.basename(runner.log_dir))

    def after_run(self, runner) -> None:
        """mmengine's upload of the log dir's files, without overwriting:
        a file whose key exists is neither uploaded nor, with
        ``keep_local=False``, removed."""
        runner.visualizer.close()
        if self.out_dir is None:
            return
        uploaded: List[str] = []
        for filename in own_log_files(
                sorted(scandir(runner.log_dir, self.out_suffix, True)),
                get_rank()):
            local_path = osp.join(runner.log_dir, filename)
            out_path = self.file_backend.join_path(self.out_dir, filename)
            if self.file_backend.exists(out_path):
                runner.logger.warning(
                    f'{out_path} exists already (a run in another work dir '
                    f'of this name that started in the same second?); not '
                    f'overwritten. '
                    f'This run\'s file is kept at {local_path}.')
                continue
            with open(local_path) as f:
                self.file_backend.put_text(f.read(), out_path)
            uploaded.append(local_path)
            runner.logger.info(
                f'The file {local_path} has been uploaded to {out_path}.')
        if self.keep_local:
            return
        runner.logger.info(
            f'keep_local=False: removing the {len(uploaded)} uploaded '
            f'file(s) from {runner.log_dir}; they are under {self.out_dir}.')
        # closed first, and nothing logged after: the log file is among the
        # removed ones, and a closed FileHandler reopens it on the next
        # record
        for handler in runner.logger.handlers:
            if isinstance(handler, logging.FileHandler):
                handler.close()
        for local_path in uploaded:
            os.remove(local_path)
