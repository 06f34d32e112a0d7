"""The one place where mmavcl decides how checkpoint files are unpickled.

torch >= 2.6 loads with ``weights_only=True`` by default, which mmengine 0.10.x
cannot resume from: its checkpoints carry ``HistoryBuffer``, numpy scalars and
``Counter`` objects in ``message_hub``. Turning ``weights_only`` off everywhere
would let any downloaded checkpoint run code on ``load_from``. So:

* every local file is first loaded with ``weights_only=True`` (numpy
  arrays/scalars/dtypes allowed, they are data). Checkpoints written by
  ``AVRunner`` store the message hub as plain data, so they always load
  this way: ``load_from``, ``tools/test.py`` and the converters need no
  trust for them;
* full unpickling is allowed only for *trusted* files: those under a directory
  made trusted with :func:`trusted_checkpoints` (the runner does this for the
  checkpoint it resumes from, i.e. its own work dir or an explicit
  ``--resume PATH``), or any file when ``MMAVCL_TRUST_CHECKPOINTS=1`` is set
  (explicit opt-in);
* anything else that needs full unpickling is refused with
  :class:`UntrustedCheckpointError`, before a single object is constructed.
"""
import contextlib
import os
import os.path as osp
import pickle
from typing import Iterator, List

import torch
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'MMAVCL_TRUST_CHECKPOINTS'
_trusted_paths: List[str] = []


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint needs full unpickling but nobody said it is trusted."""


@contextlib.contextmanager
def trusted_checkpoints(*paths: str) -> Iterator[None]:
    """Allow full unpickling of these files/directories inside the block."""
    added = [osp.realpath(osp.expanduser(p)) for p in paths if p]
    _trusted_paths.extend(added)
    try:
        yield
    finally:
        for p in added:
            _trusted_paths.remove(p)


def is_trusted(filename: str) -> bool:
    if os.environ.get(TRUST_ENV, '0') == '1':
        return True
    real = osp.realpath(filename)
    return any(real == p or real.startswith(p.rstrip(os.sep) + os.sep)
               for p in _trusted_paths)


def numpy_data_globals() -> list:
    """The numpy callables that rebuild arrays, scalars and dtypes from
    bytes: data only, so ``weights_only`` loading may allow them (RNG
    states and logged statistics in checkpoints are numpy data)."""
    import numpy as np
    core = np._core if hasattr(np, '_core') else np.core
    dtypes = {type(np.dtype(c)) for c in '?bBhHiIlLqQefdgFDGSUV'}
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray,
            np.dtype, *sorted(dtypes, key=str)]


def safe_torch_load(filename: str, map_location=None):
    """``torch.load`` that only fully unpickles trusted files."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        with torch.serialization.safe_globals(numpy_data_globals()):
            return torch.load(filename, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as err:
        if not is_trusted(filename):
            raise UntrustedCheckpointError(
                f'{filename}: refusing to unpickle arbitrary objects from a '
                'checkpoint that is not trusted (unpickling can run code). '
                'Pretrained weights should be plain tensors; if this file is '
                'your own, resume it with `--resume PATH`, or set '
                f'{TRUST_ENV}=1 to trust every checkpoint.') from err
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def register_checkpoint_policy() -> None:
    """Route mmengine's local-file loading through :func:`safe_torch_load`."""
    CheckpointLoader.register_scheme(prefixes='', force=True)(safe_torch_load)
