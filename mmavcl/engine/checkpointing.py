"""Crash-safe checkpoint files: atomic writes, integrity checks, fallback.

A pretraining run is killed at any instant (SIGKILL, OOM killer, pre-emption,
a full disk). Three rules keep a usable checkpoint on disk at every instant:

1. **Atomic writes** (:func:`atomic_path`, the one implementation behind
   ``AVRunner.save_checkpoint``, ``last_checkpoint``,
   :func:`atomic_torch_save` and :func:`atomic_write_bytes`): the bytes go
   to a hidden temporary file in the target directory, are fsync'ed, and the
   file is then renamed over the target with :func:`os.replace`, which POSIX
   makes atomic. A reader sees either the old complete file or the new
   complete file, never a prefix. The temporary files a killed save leaves
   behind are removed when the next run starts
   (:func:`remove_stale_temp_files`).
2. **Save, then prune** (:class:`SafeCheckpointHook`): mmengine's
   ``CheckpointHook`` deletes the oldest checkpoint *before* writing the new
   one, so with ``max_keep_ckpts=1`` a crash while saving leaves nothing.
   Here old files are removed only after the new one is safely on disk.
3. **Fallback on resume** (:func:`find_resumable_checkpoint`): ``--resume
   auto`` tries the newest checkpoint first and skips, with a warning, any
   file whose zip archive is truncated or fails its CRC check. Only files
   inside the run's own checkpoint directories are candidates: a
   ``last_checkpoint`` pointer naming a file elsewhere is ignored.

And one writer per work dir (:class:`WorkDirLock`): two runs writing the
same work dir would interleave their checkpoints and ``last_checkpoint``;
a new run does not write over an earlier run's checkpoints
(:func:`previous_run_files`, :func:`move_aside`).
"""
import contextlib
import datetime
import errno
import glob
import json
import os
import os.path as osp
import re
import socket
import zipfile
from typing import (Any, BinaryIO, Callable, Iterable, Iterator, List,
                    Optional, Tuple)

import torch
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import print_log

from mmavcl.registry import HOOKS
from mmavcl.utils.checkpoint import is_inside

_CKPT_NAME = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
# What a save killed half-way leaves: :func:`atomic_path`'s
# ``.<name>.tmp-<pid>``, and the ``.last_checkpoint.<8 random>.tmp`` that
# mmavcl's earlier mkstemp-based writer left (work dirs of older runs).
_STALE_TEMP = (re.compile(r'^\..+\.tmp-\d+$'),
               re.compile(r'^\.last_checkpoint\.[a-z0-9_]{8}\.tmp$'))
LOCK_NAME = '.mmavcl.lock'


@contextlib.contextmanager
def atomic_path(filename: str) -> Iterator[str]:
    """Yield a temporary path to write ``filename``'s new content to.

    When the block ends normally the temporary file is fsync'ed and renamed
    over ``filename`` (atomic on POSIX), then the directory entry is made
    durable. When the block raises (``KeyboardInterrupt`` included) the
    temporary file is removed and ``filename`` is untouched. The temporary
    file is ``.<name>.tmp-<pid>`` in the same directory: a rename is only
    atomic within one filesystem, and the name is what
    :func:`remove_stale_temp_files` recognises after a SIGKILL.

    The block may write the path however it likes (``torch.save``,
    mmengine's ``Runner.save_checkpoint``, ``open``).
    """
    directory = osp.dirname(osp.abspath(filename))
    os.makedirs(directory, exist_ok=True)
    tmp = osp.join(directory, f'.{osp.basename(filename)}.tmp-{os.getpid()}')
    if osp.lexists(tmp):  # left by a killed process that had our pid
        os.remove(tmp)
    try:
        yield tmp
        with open(tmp, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(tmp, filename)
    finally:
        if osp.lexists(tmp):
            os.remove(tmp)
    fsync_dir(directory)


def _atomic_write(filename: str, write: Callable[[BinaryIO], None]) -> None:
    """Run ``write(f)`` on a temporary file, then rename it to ``filename``.
    """
    with atomic_path(filename) as tmp, open(tmp, 'wb') as f:
        write(f)


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


def checkpoint_candidates(work_dir: str,
                          extra_dirs: Iterable[str] = ()) -> List[str]:
    """Checkpoints to resume from, newest first.

    The file named in ``work_dir/last_checkpoint`` (written after every save)
    comes first, then every ``epoch_*.pth`` / ``iter_*.pth`` in ``work_dir``
    and ``extra_dirs`` ordered by modification time and step, newest first.

    Only files that resolve to a path inside ``work_dir`` or ``extra_dirs``
    (the run's own checkpoint directories) are returned: a pointer naming a
    file elsewhere, or a checkpoint name that is a symlink to elsewhere, is
    skipped with a warning. Whatever else sits on disk, auto-resume never
    picks a file this run's directories did not hold.
    """
    own_dirs = [work_dir, *[d for d in extra_dirs if d]]
    found = []
    for directory in dict.fromkeys(own_dirs):
        for path in glob.glob(osp.join(directory, '*.pth')):
            m = _CKPT_NAME.match(osp.basename(path))
            if not m:
                continue
            if not is_inside(path, own_dirs):
                print_log(
                    f'Ignoring {path} for auto-resume: it is a link to '
                    f'{osp.realpath(path)}, outside the run\'s checkpoint '
                    f'directories {own_dirs}.', logger='current', level=30)
                continue
            found.append((os.stat(path).st_mtime_ns, int(m.group(2)), path))
    ordered = [p for _, _, p in sorted(found, reverse=True)]
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            last = f.read().strip()
        if last and not is_inside(last, own_dirs):
            print_log(
                f'Ignoring {pointer}: it names {last}, which is outside the '
                f'run\'s checkpoint directories {own_dirs}; auto-resume only '
                'uses checkpoints this run wrote. Falling back to the '
                'checkpoints in the work dir. To resume that file, pass it '
                'explicitly with --resume PATH.', logger='current', level=30)
        elif last:
            ordered = [last] + [
                p for p in ordered if osp.realpath(p) != osp.realpath(last)
            ]
    return ordered


def find_resumable_checkpoint(work_dir: str,
                              extra_dirs: Iterable[str] = ()
                              ) -> Optional[str]:
    """The newest complete checkpoint of the run, or ``None`` if none.

    Candidates are :func:`checkpoint_candidates` (``work_dir`` and
    ``extra_dirs`` only). Each skipped file is reported with a warning
    naming it and the reason.

    Raises:
        RuntimeError: checkpoints exist but none of them is complete; training
            from scratch would silently throw the run away.
    """
    candidates = checkpoint_candidates(work_dir, extra_dirs)
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


def newest_remote_checkpoint(
        out_dirs: Iterable[Tuple[str, Optional[dict]]]) -> Optional[str]:
    """The checkpoint of the highest step (``epoch_N.pth``/``iter_N.pth``)
    in the object-store folders ``out_dirs`` (``(URI, backend_args)``), or
    ``None`` when they hold none.

    An uploaded object is complete or absent (a PUT or multipart upload
    only appears once whole), so unlike on a local disk no newer, truncated
    file can shadow a good one; a file that still fails to load is
    reported, naming its URI, by the loader.

    Raises:
        RemoteStorageError: a folder could not be listed (after retries).
    """
    found = [(int(m.group(2)), uri) for uri, name in _remote_files(out_dirs)
             for m in [_CKPT_NAME.match(name)] if m]
    return max(found)[1] if found else None


def _remote_files(out_dirs: Iterable[Tuple[str, Optional[dict]]]
                  ) -> Iterator[Tuple[str, str]]:
    """``(URI, name)`` of each object directly in the object-store folders
    ``out_dirs`` (``(URI, backend_args)``)."""
    from mmengine.fileio import get_file_backend
    for out_dir, backend_args in out_dirs:
        backend = get_file_backend(out_dir, backend_args=backend_args)
        for name in backend.list_dir_or_file(out_dir, list_dir=False):
            yield backend.join_path(out_dir, name), name


class PreviousRunError(RuntimeError):
    """A new run would overwrite the checkpoints of an earlier one."""


#: what a checkpoint hook leaves in its directory: ``epoch_N.pth`` /
#: ``iter_N.pth`` (published: ``-<sha256 prefix>``), ``best_*.pth``, and
#: the work dir's ``last_checkpoint`` pointer
_RUN_FILE = re.compile(
    r'^((epoch|iter)_\d+(-[0-9a-f]{8})?\.pth|best_.+\.pth|last_checkpoint)$')


def previous_run_files(local_dirs: Iterable[str],
                       remote_dirs: Iterable[Tuple[str, Optional[dict]]] = ()
                       ) -> List[str]:
    """The checkpoints (and ``last_checkpoint``) an earlier run left in a
    run's checkpoint directories: local folders, and object-store folders
    given as ``(URI, backend_args)``. Subfolders are not searched."""
    found = []
    for directory in dict.fromkeys(d for d in local_dirs if d):
        if osp.isdir(directory):
            found += [osp.join(directory, name)
                      for name in sorted(os.listdir(directory))
                      if _RUN_FILE.match(name)]
    return found + [uri for uri, name in _remote_files(remote_dirs)
                    if _RUN_FILE.match(name)]


def move_aside(files: Iterable[str], folder_name: str,
               backend_args: Optional[dict] = None) -> List[str]:
    """Move each file into ``<its directory>/<folder_name>/`` (same name;
    object-store URIs by a server-side move); returns the new paths.

    Raises:
        FileExistsError: the destination exists (nothing is overwritten).
    """
    from mmengine.fileio import get_file_backend
    moved = []
    for path in files:
        directory, name = path.rsplit('/', 1)
        target = f'{directory}/{folder_name}/{name}'
        if '://' in path:
            backend = get_file_backend(path, backend_args=backend_args)
            if backend.exists(target):
                raise FileExistsError(f'{target} exists; not moving {path}')
            backend.rename(path, target)
        else:
            os.makedirs(osp.dirname(target), exist_ok=True)
            if osp.lexists(target):
                raise FileExistsError(f'{target} exists; not moving {path}')
            os.rename(path, target)
        moved.append(target)
    return moved


def remove_stale_temp_files(directories: Iterable[str]) -> List[str]:
    """Delete the temporary files that killed checkpoint saves left behind.

    Only names :func:`atomic_path` creates are touched
    (``.<name>.tmp-<pid>``, and ``.last_checkpoint.<random>.tmp`` from
    earlier mmavcl versions), and only regular files. Call it only while
    holding the :class:`WorkDirLock`: a running save of another process
    would otherwise lose its file.

    Returns:
        The removed paths.
    """
    removed = []
    for directory in dict.fromkeys(d for d in directories if d):
        if not osp.isdir(directory):
            continue
        for name in sorted(os.listdir(directory)):
            path = osp.join(directory, name)
            if any(p.match(name) for p in _STALE_TEMP) and \
                    osp.isfile(path) and not osp.islink(path):
                os.remove(path)
                removed.append(path)
    return removed


class WorkDirLockedError(RuntimeError):
    """Another live process holds the work dir's lock."""


class WorkDirLock:
    """An exclusive ``flock`` on ``work_dir/.mmavcl.lock`` for one run.

    ``flock`` locks belong to the open file, so the kernel drops the lock
    the instant the holder dies, SIGKILL included: a killed run never
    leaves a stale lock, and the file's existence means nothing (it is left
    in place; removing it would race with a process opening it). The file
    holds the holder's pid, host and start time, for the error message.

    Args:
        work_dir: The directory to lock (created if missing).
    """

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, LOCK_NAME)
        self._fd: Optional[int] = None

    def _holder(self) -> str:
        try:
            with open(self.path) as f:
                info = json.load(f)
            return (f'pid {info.get("pid")} on host {info.get("host")}, '
                    f'running since {info.get("started")}')
        except (OSError, ValueError):
            return 'a process that has not written its pid yet'

    def acquire(self) -> bool:
        """Take the lock.

        Returns:
            False if the filesystem cannot lock (then the run goes on
            unprotected; a warning says so), True once locked.

        Raises:
            WorkDirLockedError: another live process holds the lock.
        """
        import fcntl
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise WorkDirLockedError(
                    f'work dir {self.work_dir} is in use by another training '
                    f'run ({self._holder()}; lock file {self.path}). Two '
                    'runs writing one work dir would mix their checkpoints '
                    'and last_checkpoint. Wait for that run to end or stop '
                    'it (the lock is released the moment it exits, even on '
                    'SIGKILL), or pass a different --work-dir.') from None
            print_log(
                f'Cannot lock {self.path} ({err}): this filesystem does not '
                'support flock. Make sure no other run writes '
                f'{self.work_dir} at the same time.', logger='current',
                level=30)
            return False
        info = dict(pid=os.getpid(), host=socket.gethostname(),
                    started=datetime.datetime.now().isoformat(
                        timespec='seconds'))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock back (a no-op if not held)."""
        if self._fd is None:
            return
        import fcntl
        try:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` that never leaves the run without a good checkpoint.

    Same arguments and file names as mmengine's ``CheckpointHook``; the
    differences are:

    * the new checkpoint is written (atomically, by ``AVRunner``) *before*
      outdated ones are deleted, so ``max_keep_ckpts`` can never delete the
      only complete checkpoint;
    * likewise with ``save_best``: the previous best checkpoint is
      removed only after the new best one is saved;
    * ``last_checkpoint`` is rewritten atomically;
    * the state that exact resume needs from *every* rank (RNG states, data
      position, see :mod:`mmavcl.engine.resume`) is gathered here, where all
      ranks take part, and stored in the checkpoint's ``meta``.

    Named in ``configs/_base_/default_runtime.py``
    (``default_hooks.checkpoint = dict(type='SafeCheckpointHook', ...)``).
    A config that names mmengine's ``CheckpointHook`` gets that hook, and
    ``AVRunner.train`` warns that these guarantees are off.
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

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """mmengine's, with the previous best checkpoint removed only once
        the new one is saved: mmengine removes it first, so a save that
        failed (a full disk, a kill) left the run without a best
        checkpoint."""
        if not self.save_best:
            # as mmengine's; file_backend is unset on a runner that
            # only validates (before_train never ran)
            return
        backend = self.file_backend
        deferred = self.file_backend = _DeferredRemovals(backend)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        current = {getattr(self, 'best_ckpt_path', None),
                   *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for how, path in deferred.pending:
            if path not in current:
                getattr(backend, how)(path)


class _DeferredRemovals:
    """A file backend whose ``remove``/``rmtree`` are only recorded (in
    ``pending``, in call order), for the caller to carry out later; every
    other method is the wrapped backend's."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.pending: List[Tuple[str, str]] = []

    def remove(self, path: str) -> None:
        self.pending.append(('remove', path))

    def rmtree(self, path: str) -> None:
        self.pending.append(('rmtree', path))

    def __getattr__(self, name: str):
        return getattr(self._backend, name)


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
