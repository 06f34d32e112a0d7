"""The one place where mmavcl decides how checkpoint files are unpickled.

A ``.pth`` file is a pickle, and unpickling a crafted one runs any code it
names. The rule is simple and has no exception:

* every local file is loaded with ``weights_only=True`` (tensors, plain
  containers, and numpy arrays/scalars/dtypes, which are data). Checkpoints
  written by ``AVRunner`` store the message hub as plain data, so they load
  this way everywhere: ``load_from``, ``init_cfg=Pretrained``, resume,
  ``tools/test.py``, the converters;
* full unpickling is allowed only for files inside a directory made trusted
  with :func:`trusted_checkpoints`. ``AVRunner.resume`` trusts *its own*
  checkpoint directories (the work dir, and the checkpoint hook's
  ``out_dir`` when the config sets one) and nothing else, so only a
  checkpoint written by plain mmengine into the run's own work dir (whose
  logging history needs full unpickling) gains anything from it;
* explicit opt-ins: ``MMAVCL_TRUST_CHECKPOINTS=1`` trusts every file,
  ``tools/train.py --trust-checkpoint`` trusts the one file named by
  ``--resume PATH`` / ``load_from``, ``tools/convert/to_mmaction2.py
  --trust`` the file it converts;
* anything else that needs full unpickling is refused with
  :class:`UntrustedCheckpointError` before a single object is constructed.
"""
import contextlib
import os
import os.path as osp
import pickle
from typing import Iterable, Iterator, List

import torch
from mmengine.runner.checkpoint import CheckpointLoader

TRUST_ENV = 'MMAVCL_TRUST_CHECKPOINTS'
_trusted_paths: List[str] = []


class UntrustedCheckpointError(RuntimeError):
    """A checkpoint needs full unpickling but nobody said it is trusted."""


def _real(path: str) -> str:
    return osp.realpath(osp.expanduser(path))


def is_inside(filename: str, directories: Iterable[str]) -> bool:
    """Whether ``filename`` resolves to a path equal to or under one of
    ``directories``.

    Symlinks are resolved on both sides first, so a link inside a directory
    that points elsewhere is *not* inside it.
    """
    real = _real(filename)
    for directory in directories:
        if not directory:
            continue
        d = _real(directory)
        if real == d or real.startswith(d.rstrip(os.sep) + os.sep):
            return True
    return False


@contextlib.contextmanager
def trusted_checkpoints(*paths: str) -> Iterator[None]:
    """Allow full unpickling of these files/directories inside the block."""
    added = [_real(p) for p in paths if p]
    _trusted_paths.extend(added)
    try:
        yield
    finally:
        for p in added:
            _trusted_paths.remove(p)


def is_trusted(filename: str) -> bool:
    """Whether :func:`safe_torch_load` may fully unpickle ``filename``."""
    if os.environ.get(TRUST_ENV, '0') == '1':
        return True
    return is_inside(filename, _trusted_paths)


def numpy_data_globals() -> list:
    """The numpy callables that rebuild arrays, scalars and dtypes from
    bytes: data only, so ``weights_only`` loading may allow them (RNG
    states and logged statistics in checkpoints are numpy data)."""
    import numpy as np
    core = np._core if hasattr(np, '_core') else np.core
    dtypes = {type(np.dtype(c)) for c in '?bBhHiIlLqQefdgFDGSUV'}
    return [core.multiarray._reconstruct, core.multiarray.scalar, np.ndarray,
            np.dtype, *sorted(dtypes, key=str)]


def _needed_globals(filename: str) -> str:
    """The non-allowlisted callables the pickle names, read without
    unpickling, for the error message (empty if torch cannot tell)."""
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # legacy format, or a torch without the scanner
        return ''
    allowed = {f'{g.__module__}.{g.__qualname__}'
               for g in numpy_data_globals()}
    names = [n for n in names if n not in allowed]
    if not names:
        return ''
    more = f' and {len(names) - 5} more' if len(names) > 5 else ''
    return f' It names {", ".join(names[:5])}{more}.'


def untrusted_message(filename: str) -> str:
    """Why ``filename`` was refused and every way to opt in."""
    return (
        f'{filename}: refusing to unpickle arbitrary objects from this '
        'checkpoint (unpickling can run code).' + _needed_globals(filename) +
        ' Only tensors and plain data load without trust; full unpickling '
        'is done only to resume a checkpoint inside the run\'s own work '
        'dir. Pretrained weights should be plain tensors. If you trust '
        'this file, opt in explicitly: `tools/train.py ... '
        '--trust-checkpoint` (trusts the file given by --resume PATH or '
        'load_from), `tools/convert/to_mmaction2.py ... --trust`, or set '
        f'{TRUST_ENV}=1 to trust every checkpoint.')


def safe_torch_load(filename: str, map_location=None):
    """``torch.load`` that only fully unpickles trusted files.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        UntrustedCheckpointError: the file holds more than data and is not
            trusted (see the module docstring); nothing was constructed.
    """
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
                untrusted_message(filename)) from err
        return torch.load(filename, map_location=map_location,
                          weights_only=False)


def register_checkpoint_policy() -> None:
    """Route mmengine's local-file loading through :func:`safe_torch_load`.

    Replaces the loader of mmengine's catch-all scheme (prefix ``''``,
    local paths; URLs keep their own loaders). mmengine 0.10.7's
    ``load_from_local`` calls ``torch.load`` without ``weights_only``, so
    under torch >= 2.6 it refuses mmengine's own checkpoints
    (open-mmlab/mmengine#1655), and the usual work-around,
    ``weights_only=False``, would unpickle anything. Called
    when mmavcl is imported, so that every load through mmengine
    (``load_from``, ``init_cfg``, resume, tools) follows the policy.
    """
    CheckpointLoader.register_scheme(prefixes='', force=True)(safe_torch_load)


def load_state_dict_file(path: str, trust: bool = False) -> dict:
    """The tensors of a checkpoint file (its ``state_dict``, or the file
    itself when it is a flat dict of tensors), for the converters.

    Loaded weights-only; ``trust`` allows full unpickling of this one file
    (the converters' ``--trust``).

    Raises:
        TypeError: the file holds no dict of tensors.
    """
    with trusted_checkpoints(*([path] if trust else [])):
        ckpt = safe_torch_load(path, map_location='cpu')
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict) or not all(
            isinstance(v, torch.Tensor) for v in sd.values()):
        raise TypeError(f'{path}: no state dict of tensors found')
    return sd
