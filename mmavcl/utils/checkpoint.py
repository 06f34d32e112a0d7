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
import io
import os
import os.path as osp
import pickle
from typing import Iterable, Iterator, List, Union

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
    return _load_under_policy(filename, filename, map_location)


def _load_under_policy(source: Union[str, io.BytesIO], filename: str,
                       map_location=None):
    """``torch.load(source)`` weights-only, or fully when ``filename`` is
    trusted and needs it (the rule of :func:`safe_torch_load`)."""
    try:
        with torch.serialization.safe_globals(numpy_data_globals()):
            return torch.load(source, map_location=map_location,
                              weights_only=True)
    except pickle.UnpicklingError as err:
        if not is_trusted(filename):
            raise UntrustedCheckpointError(
                untrusted_message(filename)) from err
        if isinstance(source, io.BytesIO):
            source.seek(0)
        return torch.load(source, map_location=map_location,
                          weights_only=False)


def load_from_uri(filename: str, map_location=None):
    """A checkpoint behind a URI (``s3://``, ``gs://``, ``http(s)://``),
    read into memory through mmengine's fileio and loaded as a local file
    is (:func:`safe_torch_load`: weights-only unless trusted).

    mmengine's own loaders for these schemes fail or mislead: ``s3://``
    needs petrel_client (not the object-store backend mmavcl registers for
    ``s3://`` and ``gs://``, :mod:`mmavcl.datasets.media.remote`), ``gs://``
    has no loader at all, and ``http(s)://`` goes through
    ``torch.hub.load_state_dict_from_url``, which fully unpickles and
    caches by file name: a second run resuming ``.../other_run/iter_4.pth``
    got the first run's ``iter_4.pth`` from the cache. Here every call reads
    the URI itself, with the credentials and retries of those backends.

    Raises:
        FileNotFoundError: nothing at ``filename``.
        RuntimeError: the bytes are not a complete checkpoint (names the
            URI; a truncated upload, for example).
        UntrustedCheckpointError: as :func:`safe_torch_load`.
    """
    from mmengine.fileio import get_file_backend

    import mmavcl.datasets.media.remote  # noqa: F401 (registers backends)
    backend = get_file_backend(filename)
    if not backend.exists(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    data = io.BytesIO(backend.get(filename))
    try:
        return _load_under_policy(data, filename, map_location)
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # torch's zip reader: truncated, corrupt
        raise RuntimeError(
            f'{filename} ({len(data.getvalue())} bytes) is not a complete '
            f'checkpoint: {type(err).__name__}: {err}') from err


def register_checkpoint_policy() -> None:
    """Route mmengine's local-file loading through :func:`safe_torch_load`.

    Replaces the loader of mmengine's catch-all scheme (prefix ``''``,
    local paths), and those of ``s3://``, ``gs://`` and ``http(s)://`` with
    :func:`load_from_uri` (other URLs, ``torchvision://`` and the
    like, keep mmengine's). mmengine 0.10.7's
    ``load_from_local`` calls ``torch.load`` without ``weights_only``, so
    under torch >= 2.6 it refuses mmengine's own checkpoints
    (open-mmlab/mmengine#1655), and the usual work-around,
    ``weights_only=False``, would unpickle anything. Called
    when mmavcl is imported, so that every load through mmengine
    (``load_from``, ``init_cfg``, resume, tools) follows the policy.
    """
    CheckpointLoader.register_scheme(prefixes='', force=True)(safe_torch_load)
    # r'(\S+\:)?s3://' is the key of mmengine's petrel loader
    CheckpointLoader.register_scheme(
        prefixes=[r'(\S+\:)?s3://', 'gs://', 'http://', 'https://'],
        force=True)(load_from_uri)


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
