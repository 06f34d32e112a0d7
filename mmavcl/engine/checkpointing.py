"""Crash-safe checkpoint files: atomic writes, integrity checks, fallback.

A pretraining run is killed at any instant (SIGKILL, OOM killer, pre-emption,
a full disk). Three rules keep a usable checkpoint on disk at every instant:

1. **Atomic writes** (:func:`atomic_torch_save`): the bytes go to a hidden
   temporary file in the target directory, are flushed and fsync'ed, and the
   file is then renamed over the target with :func:`os.replace`, which POSIX
   makes atomic. A reader sees either the old complete file or the new
   complete file, never a prefix.
2. **Save, then prune** (:class:`SafeCheckpointHook`): mmengine's
   ``CheckpointHook`` deletes the oldest checkpoint *before* writing the new
   one, so with ``max_keep_ckpts=1`` a crash while saving leaves nothing.
   Here old files are removed only after the new one is safely on disk.
3. **Fallback on resume** (:func:`find_resumable_checkpoint`): ``--resume
   auto`` tries the newest checkpoint first and skips, with a warning, any
   file whose zip archive is truncated or fails its CRC check.
"""
import glob
import os
import os.path as osp
import re
import tempfile
import zipfile
from typing import Any, BinaryIO, Callable, List, Optional

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmavcl.registry import HOOKS

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def _atomic_write(filename: str, write: Callable[[BinaryIO], None]) -> None:
    """Run ``write(f)`` on a temporary file, then rename it to ``filename``.
    """
    directory = osp.dirname(osp.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(filename)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    except BaseException:
        # Includes KeyboardInterrupt: never leave a half-written temp file.
        if osp.exists(tmp):
            os.remove(tmp)
        raise
    fsync_dir(directory)


def fsync_dir(directory: str) -> None:
    """Make a rename inside ``directory`` durable (best effort)."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass


def atomic_write_bytes(data: bytes, filename: str) -> None:
    """Write ``data`` to ``filename`` so that no reader ever sees a prefix."""
    _atomic_write(filename, lambda f: f.write(data))


def atomic_torch_save(obj: Any, filename: str) -> None:
    """``torch.save`` to a temporary file, then :func:`os.replace`.

    For tools that write checkpoints outside the runner (export, convert).
    """
    _atomic_write(filename, lambda f: torch.save(obj, f))


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be a complete checkpoint, or ``None`` if it is.

    The check reads the file once and verifies the zip central directory and
    every member's CRC-32 (``torch.save`` writes zip archives since torch
    1.6); nothing is unpickled, so it is safe on untrusted files. Files in
    the legacy non-zip format are accepted as they are.
    """
    if not osp.isfile(filename):
        return 'file does not exist'
    if osp.getsize(filename) == 0:
        return 'file is empty'
    if not zipfile.is_zipfile(filename):
        with open(filename, 'rb') as f:
            head = f.read(2)
        # legacy torch.save format starts with a pickle protocol marker
        return None if head[:1] == b'\x80' else 'not a torch zip archive ' \
            '(truncated or not a checkpoint)'
    try:
        with zipfile.ZipFile(filename) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'unreadable archive ({err})'
    if bad is not None:
        return f'CRC mismatch in member {bad!r}'
    return None


def checkpoint_candidates(work_dir: str) -> List[str]:
    """Checkpoints to resume from, newest first.

    The file named in ``work_dir/last_checkpoint`` (written after every save)
    comes first, then every ``epoch_*.pth`` / ``iter_*.pth`` in ``work_dir``
    ordered by modification time and step, newest first.
    """
    found = []
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        m = _CKPT_NAME.match(osp.basename(path))
        if m:
            found.append((os.stat(path).st_mtime_ns, int(m.group(2)), path))
    ordered = [p for _, _, p in sorted(found, reverse=True)]
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last:
            ordered = [last] + [
                p for p in ordered if osp.realpath(p) != osp.realpath(last)
            ]
    return ordered


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The newest complete checkpoint in ``work_dir``, or ``None`` if none.

    Each skipped file is reported with a warning naming it and the reason.

    Raises:
        RuntimeError: checkpoints exist but none of them is complete; training
            from scratch would silently throw the run away.
    """
    candidates = checkpoint_candidates(work_dir)
    skipped = []
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            if skipped:
                print_log(
                    f'Resuming from {path}, the newest complete checkpoint '
                    f'(skipped {len(skipped)} newer unusable one(s)).',
                    logger='current', level=30)
            return path
        skipped.append(path)
        print_log(
            f'Skipping checkpoint {path} for auto-resume: {problem}. '
            'Falling back to an older checkpoint.',
            logger='current', level=30)
    if skipped:
        raise RuntimeError(
            f'--resume auto found checkpoints in {work_dir} but none is '
            f'complete: {skipped}. Delete them to start from scratch, or '
            'resume an explicit file with --resume PATH.')
    return None


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never leaves the run without a good checkpoint.

    Same arguments and file names as mmengine's ``CheckpointHook``; the
    differences are:

    * the new checkpoint is written (atomically, by ``AVRunner``) *before*
      outdated ones are deleted, so ``max_keep_ckpts`` can never delete the
      only complete checkpoint;
    * ``last_checkpoint`` is rewritten atomically;
    * the state that exact resume needs from *every* rank (RNG states, data
      position, see :mod:`mmavcl.engine.resume`) is gathered here, where all
      ranks take part, and stored in the checkpoint's ``meta``.

    ``AVRunner`` substitutes it for ``CheckpointHook`` automatically.
    """

    def _save_checkpoint_with_step(self, runner, step, meta):
        from mmavcl.engine.resume import RESUME_KEY, collect_resume_state
        meta = dict(meta)
        meta[RESUME_KEY] = collect_resume_state(runner, meta)

        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # Raises on failure (disk full, kill): then nothing below runs and
        # every older checkpoint is still there.
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        atomic_write_bytes(self.last_ckpt.encode(),
                           osp.join(runner.work_dir, 'last_checkpoint'))
        for old in stale:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if path == self.last_ckpt:
                continue
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed-style directory
                self.file_backend.rmtree(path)


# --------------------------------------------------- weights-only checkpoints
# mmengine stores its logging history as ``HistoryBuffer`` objects whose
# pickles call ``getattr`` on bound methods, so no ``weights_only`` loader can
# read them. The runner stores them as plain data instead and rebuilds them on
# load, which keeps its own checkpoints loadable without full unpickling.
_HISTORY_TAG = '__mmavcl_history_buffer__'


def message_hub_to_plain(state: dict) -> dict:
    """``MessageHub.state_dict()`` with every ``HistoryBuffer`` as plain
    lists (floats/ints) and its ``max_length``."""
    from mmengine.logging import HistoryBuffer
    scalars = {}
    for name, buf in state.get('log_scalars', {}).items():
        if isinstance(buf, HistoryBuffer):
            logs, counts = buf.data
            buf = {_HISTORY_TAG: True, 'log': logs.tolist(),
                   'count': counts.tolist(), 'max_length': buf.max_length}
        scalars[name] = buf
    return dict(state, log_scalars=scalars)


def message_hub_from_plain(state: dict) -> dict:
    """Inverse of :func:`message_hub_to_plain` (plain entries pass through,
    so checkpoints written by plain mmengine still resume)."""
    from mmengine.logging import HistoryBuffer
    scalars = {}
    for name, buf in state.get('log_scalars', {}).items():
        if isinstance(buf, dict) and buf.get(_HISTORY_TAG):
            buf = HistoryBuffer(buf['log'], buf['count'], buf['max_length'])
        scalars[name] = buf
    return dict(state, log_scalars=scalars)
