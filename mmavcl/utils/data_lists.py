"""The inputs of the data tools, and the slice of them one job takes.

``tools/data/{make_shards,reencode_videos,extract_audio,check_dataset,
build_file_list}.py`` all start from an annotation list or a media folder,
local or behind a URI (``s3://``, ``gs://``, ``http(s)://``; read through
mmengine's fileio with ``backend_args``, see
:mod:`mmavcl.datasets.media.remote`), and all split their work the same
way for a Slurm array or several machines: ``--num-parts N --part I``
takes every N-th item starting at the I-th (:func:`select_part`), so the N
parts are disjoint and together cover the input, whatever N is. Strided
rather than contiguous slices: neighbouring list lines (one class, one
long video's clips) spread over the parts, so the parts take similar
times. ``tools/data/slurm_array.sh`` runs any of the tools as
``sbatch --array=0-(N-1)`` with ``--part $SLURM_ARRAY_TASK_ID``.

This module is the one place those tools parse lists (with
:class:`~mmavcl.datasets.AVVideoDataset`'s own parser, so a list the tools
accept is a list training accepts), list folders and read inputs.
"""
import argparse
import json
import multiprocessing as mp
import os
import os.path as osp
import sys
from typing import (Any, BinaryIO, Callable, List, Optional, Sequence,
                    TypeVar, Union)

__all__ = [
    'add_part_args', 'check_part_args', 'add_backend_args', 'check_part',
    'select_part', 'part_path', 'is_remote', 'join_path', 'read_list',
    'list_files', 'input_paths', 'read_bytes', 'open_input', 'needs_spawn',
    'run_parallel'
]

T = TypeVar('T')


def add_part_args(parser: argparse.ArgumentParser) -> None:
    """``--num-parts N --part I`` (defaults: one part, the whole input)."""
    parser.add_argument(
        '--num-parts', type=int, default=1,
        help='split the input into N disjoint parts (a Slurm array: '
        'tools/data/slurm_array.sh N ...)')
    parser.add_argument(
        '--part', type=int, default=0,
        help='which part this run does, 0..N-1 (e.g. $SLURM_ARRAY_TASK_ID)')


def check_part_args(parser: argparse.ArgumentParser,
                    args: argparse.Namespace) -> None:
    """Exit through ``parser.error`` (usage and the reason) when
    ``--part``/``--num-parts`` do not name a part."""
    try:
        check_part(args.num_parts, args.part)
    except ValueError as err:
        parser.error(str(err))


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    """``--backend-args JSON``: mmengine fileio arguments for URIs."""
    parser.add_argument(
        '--backend-args', type=json.loads, default=None,
        help='mmengine fileio backend_args as JSON, for s3:// gs:// '
        'http(s):// inputs (S3 credentials and endpoint also come from the '
        'AWS_* environment variables), e.g. \'{"endpoint_url": '
        '"http://127.0.0.1:9000"}\'')


def check_part(num_parts: int, part: int) -> None:
    """Raise a ``ValueError`` naming the options when ``part`` is not one
    of ``num_parts``."""
    if num_parts < 1:
        raise ValueError(f'--num-parts must be >= 1, got {num_parts}')
    if not 0 <= part < num_parts:
        raise ValueError(f'--part {part} outside [0, {num_parts}) '
                         f'(--num-parts {num_parts})')


def select_part(items: Sequence[T], num_parts: int = 1,
                part: int = 0) -> List[T]:
    """Items ``part, part + num_parts, part + 2 * num_parts ...``: the
    ``num_parts`` parts are disjoint and their union is ``items``."""
    check_part(num_parts, part)
    return list(items)[part::num_parts]


def part_path(path: str, num_parts: int, part: int) -> str:
    """``path`` itself for one part, else ``stem.part-I-of-N.ext``
    (``train.txt`` -> ``train.part-001-of-004.txt``): what each part of a
    tool that writes lists writes; ``cat *.part-*-of-N.txt`` joins them."""
    if num_parts == 1:
        return path
    stem, ext = osp.splitext(path)
    return f'{stem}.part-{part:03d}-of-{num_parts:03d}{ext}'


def _is_uri(path: str) -> bool:
    from mmavcl.datasets.media.remote import is_uri
    return is_uri(path)


def is_remote(path: str, backend_args: Optional[dict] = None) -> bool:
    """Whether ``path`` is read through mmengine's fileio (a URI, or any
    path with a non-local ``backend_args``) rather than from disk."""
    from mmavcl.datasets.media.remote import needs_fetch
    return needs_fetch(path, backend_args)


def join_path(root: str, rel: str) -> str:
    """``root/rel`` for a folder or a URI (``/`` separated); ``rel``
    itself when ``root`` is empty."""
    if not root:
        return rel
    if _is_uri(root):
        return root.rstrip('/') + '/' + rel.lstrip('/')
    return osp.join(root, rel)


def read_list(ann_file: str, backend_args: Optional[dict] = None,
              audio: bool = False) -> List[dict]:
    """The records of an annotation list (text or JSON; a path or a URI)
    as the datasets parse it: ``{'filename', 'label'?,
    'audio_filename'?}``, paths as written (relative to the media root).

    Args:
        ann_file: The list.
        backend_args: mmengine fileio arguments for a URI.
        audio: An audio-only list (:class:`~mmavcl.datasets.AVAudioDataset`).

    Raises:
        AnnotationError: Every malformed line, each with ``file:line``.
        FileNotFoundError: No such list, naming it.
    """
    from mmengine.dataset import BaseDataset

    from mmavcl.datasets import AVAudioDataset, AVVideoDataset
    cls = AVAudioDataset if audio else AVVideoDataset
    # labels optional, several allowed: the tools take any list training
    # takes, pretraining lists without labels included
    ds = cls(ann_file, multi_label=True, lazy_init=False,
             serialize_data=False, backend_args=backend_args)
    # the records as written (no data_prefix joined in, no sample_idx)
    records = [BaseDataset.get_data_info(ds, i) for i in range(len(ds))]
    for rec in records:
        rec.pop('sample_idx', None)
    return records


def list_files(root: str, exts: Sequence[str],
               backend_args: Optional[dict] = None) -> List[str]:
    """Sorted ``/``-separated paths relative to ``root`` of the files below
    it (recursively) whose extension (any case) is in ``exts``.

    A URI root is listed by its mmengine backend; the object-store and
    HTTP backends cannot list, so they raise a ``ValueError`` that says to
    pass a list instead.
    """
    exts = tuple(e.lower() for e in exts)
    if not is_remote(root, backend_args):
        if not osp.isdir(root):
            raise FileNotFoundError(f'{root} is not a folder')
        found = []
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                if osp.splitext(name)[1].lower() in exts:
                    found.append(osp.relpath(osp.join(folder, name),
                                             root).replace(os.sep, '/'))
        return sorted(found)
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(root, backend_args=backend_args)
    try:
        names = backend.list_dir_or_file(root, list_dir=False,
                                         recursive=True)
        return sorted(n for n in names
                      if osp.splitext(n)[1].lower() in exts)
    except (NotImplementedError, AttributeError):
        raise ValueError(
            f'cannot list {root}: the {type(backend).__name__} backend does '
            'not list folders; pass an annotation list of the files '
            '(paths relative to it) instead') from None


def input_paths(root: str, ann_file: Optional[str], exts: Sequence[str],
                backend_args: Optional[dict] = None) -> List[str]:
    """The relative paths a tool works on: the list's, else every file
    with one of ``exts`` below ``root``."""
    if ann_file:
        return [r['filename'] for r in read_list(ann_file, backend_args)]
    return list_files(root, exts, backend_args)


def read_bytes(path: str, backend_args: Optional[dict] = None,
               what: str = 'file') -> bytes:
    """The bytes of a local file or a URI (retried, errors naming it:
    :func:`mmavcl.datasets.media.remote.fetch`)."""
    from mmavcl.datasets.media.remote import fetch
    if is_remote(path, backend_args):
        return fetch(path, backend_args, what)
    with open(path, 'rb') as f:
        return f.read()


def open_input(path: str, backend_args: Optional[dict] = None,
               stream: str = 'video') -> Union[str, BinaryIO]:
    """What ``av.open`` takes for ``path``: the path itself, or a
    ``BytesIO`` of a URI's bytes (fetched into memory, no temp file)."""
    from mmavcl.datasets.media.remote import fetch_media, open_source
    return open_source(fetch_media(path, backend_args, stream))



def needs_spawn(*paths: Optional[str],
                backend_args: Optional[dict] = None) -> bool:
    """Whether worker processes must be spawned rather than forked: when
    any of ``paths`` is an object-store URI (``s3://``, ``gs://``) or
    ``backend_args`` names another non-local backend.

    obstore runs its requests on a process-wide tokio runtime whose threads
    a forked child does not have: measured, a fetch in a child forked after
    the parent made one (reading the list) never returns, also with a new
    store. Plain ``http(s)://`` (urllib) and local files fork safely.
    """
    if backend_args and backend_args.get('backend', 'local') not in (
            'local', 'http'):
        return True
    return any(isinstance(p, str) and p.split('://', 1)[0] in ('s3', 'gs')
               for p in paths if p)


def run_parallel(fn: Callable[..., Any], jobs: Sequence[tuple],
                 workers: int, desc: str, unit: str = 'file',
                 spawn: bool = False) -> List[Any]:
    """``[fn(*job) for job in jobs]``, in job order, in ``workers``
    processes (in this one for ``workers <= 1``), with a tqdm progress bar
    counting jobs as they finish.

    Workers are forked (they start at once with everything imported), or
    spawned with ``spawn`` (see :func:`needs_spawn`); spawned workers need
    ``fn`` importable by name (a module function, or one of the script run
    as ``__main__``).
    """
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    # no monitor thread: a thread in the parent would be copied half-way
    # into every forked worker
    tqdm.monitor_interval = 0
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, file=sys.stderr)
    try:
        if workers <= 1 or len(jobs) <= 1:
            out = []
            for job in jobs:
                out.append(fn(*job))
                bar.update()
            return out
        methods = mp.get_all_start_methods()
        method = 'spawn' if spawn or 'fork' not in methods else 'fork'
        with ProcessPoolExecutor(min(workers, len(jobs)),
                                 mp_context=mp.get_context(method)) as pool:
            futures = [pool.submit(fn, *job) for job in jobs]
            for fut in futures:
                fut.add_done_callback(lambda _: bar.update())
            return [fut.result() for fut in futures]
    finally:
        bar.close()
