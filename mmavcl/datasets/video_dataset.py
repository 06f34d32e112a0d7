"""Annotation-list datasets for audio-visual and audio-only data."""
import atexit
import contextlib
import difflib
import inspect
import io
import json
import logging
import os
import os.path as osp
import pickle
import re
import shutil
import tempfile
from array import array
from typing import (Any, BinaryIO, Callable, Dict, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import get_file_backend
from mmengine.logging import print_log

from mmavcl.registry import DATASETS, TRANSFORMS
from .errors import (AnnotationError, MediaDecodeError, PipelineConfigError,
                     TooManyBadSamplesError, WorkerCrashError)
from .media.remote import fetch, needs_fetch
from .media.sidecar import SIDECAR_EXTS

AUDIO_SOURCES = ('container', 'sidecar', 'none')
BAD_SAMPLE_POLICIES = ('raise', 'skip')
#: metainfo key of a data sample listing the bad files skipped to make it
SKIPPED_KEY = 'skipped_bad_samples'


#: what separates the columns of a text list: spaces and tabs only.
#: ``str.split()`` would also split on U+00A0, U+0085 (NEL), U+2028, form
#: feed ..., which can occur in file names (downloaded titles) and would
#: turn one name into two tokens
LIST_SPACE = ' \t'
_LIST_SPLIT = re.compile('[' + LIST_SPACE + ']+')
#: a comment is ``#`` (or ``##``...) alone or followed by a space or tab;
#: ``#clip.mp4`` is a file name
_COMMENT = re.compile('#+(?:[' + LIST_SPACE + ']|$)')


def iter_list_lines(path: Union[str, BinaryIO]
                    ) -> Iterator[Tuple[int, Optional[str], Optional[str]]]:
    """The lines of a text annotation list, as the dataset numbers them:
    ``(line_number, text, None)``, or ``(line_number, None, message)`` for
    a line that is not UTF-8.

    The one definition of "a line" shared by :class:`AVVideoDataset` and
    ``tools/data/check_dataset.py`` (whose cleaned list keeps lines by
    number, so both must count alike). A line ends at ``\\n``, ``\\r\\n``
    or ``\\r`` only; ``str.splitlines`` would also end one at U+0085,
    U+2028, form feed ... and shift every later number. A UTF-8 byte order
    mark at the start is dropped (``utf-8-sig``). Bytes are decoded one line
    at a time, so an undecodable byte is reported at its own line (a text
    file object decodes 8 kB ahead and cannot say which line failed).
    ``text`` has its line end removed, nothing else. ``path`` may be an
    open binary file (a remote list read into memory).
    """
    with (open(path, 'rb') if isinstance(path, str) else
          contextlib.nullcontext(path)) as f:
        lineno = 0
        for raw in f:
            if lineno == 0 and raw[:2] in (b'\xff\xfe', b'\xfe\xff'):
                yield 1, None, ('the file is UTF-16 (it starts with a UTF-16 '
                                'byte order mark); save it as UTF-8')
                return
            body = raw[:-1] if raw.endswith(b'\n') else raw
            if body.endswith(b'\r') and raw.endswith(b'\n'):
                body = body[:-1]
            # a lone CR ends a line too (universal newlines, as before)
            for part in body.split(b'\r') if b'\r' in body else (body, ):
                lineno += 1
                try:
                    text = part.decode('utf-8-sig' if lineno == 1 else
                                       'utf-8')
                except UnicodeDecodeError as err:
                    yield lineno, None, (
                        f'not UTF-8 text: byte {part[err.start]:#04x} at '
                        f'byte {err.start + 1} of the line ({err.reason}); '
                        f'save the list as UTF-8: {part[:80]!r}')
                    continue
                yield lineno, text, None


def split_list_line(text: str) -> List[str]:
    """The tokens of a text-list line (empty for blanks and comments)."""
    text = text.strip(LIST_SPACE)
    if not text or _COMMENT.match(text):
        return []
    return _LIST_SPLIT.split(text)


def _parse_label_tokens(tokens: Sequence[str]) -> Union[int, List[int]]:
    labels = [int(t) for t in tokens]  # ValueError is reported by the caller
    return labels[0] if len(labels) == 1 else labels


def _is_int(token: str) -> bool:
    try:
        int(token)
    except ValueError:
        return False
    return True


def _hint(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(
        name, list(dict.fromkeys(choices)), n=2, cutoff=0.75)
    return f'; did you mean {" or ".join(map(repr, close))}?' if close else ''


def _init_params(cls: type) -> List[str]:
    """Keyword arguments ``cls(...)`` accepts, following ``**kwargs`` up
    the base classes."""
    names: List[str] = []
    for klass in cls.__mro__:
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names += [p.name for p in params if p.name != 'self' and p.kind in (
            p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return list(dict.fromkeys(names))


def build_pipeline(pipeline: Sequence[Union[dict, Callable]],
                   registry=TRANSFORMS) -> List[Callable]:
    """Build transform configs; a typo gives one line naming the position,
    the transform and the key, with the closest valid names.

    Raises:
        PipelineConfigError: unknown ``type`` or unknown argument.
    """
    out = []
    for i, cfg in enumerate(pipeline):
        if not isinstance(cfg, dict):
            out.append(cfg)
            continue
        name = cfg.get('type')
        if name is None:
            raise PipelineConfigError(
                f'pipeline[{i}] has no "type" key: {dict(cfg)!r}')
        cls = registry.get(name) if isinstance(name, str) else name
        if cls is None:
            names = sorted(set(registry.module_dict) | set(
                registry.parent.module_dict if registry.parent else ()))
            raise PipelineConfigError(
                f'pipeline[{i}]: unknown transform type {name!r} in registry '
                f'scope {registry.scope!r} ({registry.name})'
                f'{_hint(name, names)} (MMAction2 transforms need the prefix "mmaction.", e.g. '
                '"mmaction.DecordInit")')
        try:
            out.append(registry.build(cfg))
        except TypeError as err:
            found = re.search(r"unexpected keyword argument '(\w+)'",
                              str(err))
            if not found:
                raise
            key = found.group(1)
            params = _init_params(cls) if inspect.isclass(cls) else []
            raise PipelineConfigError(
                f'pipeline[{i}] ({getattr(cls, "__name__", name)}): unknown '
                f'argument {key!r}{_hint(key, params)} (accepted: '
                f'{", ".join(params)})') from None
    return out


# ------------------------------------------------- what a worker reads
# A DataLoader worker killed by a native crash (SIGSEGV in FFmpeg) leaves no
# Python traceback, and torch's error names its pid only. Each worker keeps
# the sample it is reading in a small file named by its pid, in a folder
# named by the main process's pid; the main process reads it back when torch
# reports the death (naming_worker_files).


def _reading_dir(main_pid: int) -> str:
    shm = '/dev/shm'  # RAM: no disk write per sample
    base = shm if os.access(shm, os.W_OK) else tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, 'getuid') else 0
    return osp.join(base, f'mmavcl-{uid}-reading-{main_pid}')


def _remove_reading_dir(main_pid: int) -> None:
    if os.getpid() == main_pid:  # not from a forked child's copy
        shutil.rmtree(_reading_dir(main_pid), ignore_errors=True)


class _ReadingNote:
    """This process's note, written only in DataLoader workers."""

    def __init__(self) -> None:
        self.pid: Optional[int] = None
        self.fd: Optional[int] = None
        self.size = 0
        self.state: Optional[dict] = None

    def _open(self) -> None:
        self.pid, self.fd, self.size = os.getpid(), None, 0
        try:
            from torch.utils.data import get_worker_info
        except ImportError:
            return
        if get_worker_info() is None:
            return  # the main process: its own traceback names the sample
        path = osp.join(_reading_dir(os.getppid()), str(self.pid))
        try:
            os.makedirs(osp.dirname(path), mode=0o700, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                              0o600)
        except OSError:
            return  # a diagnostic never stops a run
        from multiprocessing import util

        # a worker that ends normally removes its note (a crashed one
        # cannot: the main process removes the folder at exit)
        util.Finalize(None, _forget_note, args=(self.fd, path),
                      exitpriority=0)

    def begin(self, state: Callable[[], dict]) -> None:
        """Note that the sample ``state()`` describes is being read
        (``state`` is called only in workers)."""
        if self.pid != os.getpid():  # first use here, or a forked copy
            self._open()
        self.state = None
        if self.fd is not None:
            self.state = state()
            self._write(dict(self.state, reading=True))

    def end(self) -> None:
        """The sample of the last :meth:`begin` is done (or failed)."""
        if self.fd is not None and self.state is not None and \
                self.pid == os.getpid():
            self._write(dict(self.state, reading=False))

    def _write(self, state: dict) -> None:
        data = json.dumps(state).encode()
        # pad over a longer previous note: one write, no truncate (JSON
        # ignores trailing spaces)
        try:
            os.pwrite(self.fd, data.ljust(self.size), 0)
        except OSError:
            self.fd = None
            return
        self.size = max(self.size, len(data))


def _forget_note(fd: int, path: str) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
        os.unlink(path)


_NOTE = _ReadingNote()
_CLEANUP_REGISTERED: List[int] = []
_WORKER_DEATH = re.compile(r'DataLoader worker \(pid(?:\(s\))? ([\d, ]+)\)')


def worker_reading(pid: int,
                   main_pid: Optional[int] = None) -> Optional[dict]:
    """The last note of DataLoader worker ``pid`` of process ``main_pid``
    (default: this one): ``{'reading': bool, 'index', 'filename',
    'audio_filename', 'ann_file'}``, or ``None`` if it left none."""
    path = osp.join(_reading_dir(main_pid or os.getpid()), str(pid))
    try:
        with open(path, encoding='utf-8') as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def explain_worker_death(err: BaseException
                         ) -> Optional[WorkerCrashError]:
    """torch's "DataLoader worker (pid N) is killed by signal" (or "exited
    unexpectedly") error, with the file each dead worker was reading;
    ``None`` for any other error or when no worker left a note."""
    found = _WORKER_DEATH.search(str(err))
    if found:
        pids = [int(p) for p in re.findall(r'\d+', found.group(1))]
    elif isinstance(err, (EOFError, OSError)) and _from_worker_queue(err):
        # the queue broke under a dying worker before torch noticed it
        pids = [pid for pid in _noted_pids() if _is_dead(pid)]
    else:
        return None
    files, lines = [], []
    for pid in pids:
        note = worker_reading(pid)
        if note is None or (not found and not note.get('reading')):
            continue
        if note.get('reading'):
            audio = note.get('audio_filename')
            also = (f', audio {audio}' if audio and
                    audio != note['filename'] else '')
            lines.append(
                f'DataLoader worker {pid} was reading {note["filename"]} '
                f'(sample {note["index"]} of {note["ann_file"]}{also}) when '
                'it died')
            files.append((pid, note['filename']))
        else:
            lines.append(f'DataLoader worker {pid} was between samples when '
                         f'it died (its last: {note["filename"]})')
            files.append((pid, None))
    if not files:
        return None
    if any(f for _, f in files):
        lines.append('a file that crashes the decoder: find such files '
                     'with tools/data/check_dataset.py (it survives '
                     'decoder crashes) and remove them from the list')
    head = str(err).strip() if found else (
        f'{type(err).__name__}: {err} (a DataLoader worker died)')
    # torch's SIGCHLD handler says which signal; its queue timeout, raised
    # from that error, only that the worker "exited unexpectedly"
    cause = err.__cause__ or err.__context__
    while cause is not None:
        if 'killed by signal' in str(cause):
            head = str(cause).strip()
            break
        cause = cause.__cause__ or cause.__context__
    for pid, _ in files:  # reported once: not blamed for a later error
        with contextlib.suppress(OSError):
            os.unlink(osp.join(_reading_dir(os.getpid()), str(pid)))
    return WorkerCrashError('\n'.join([head] + lines), files)


def _from_worker_queue(err: BaseException) -> bool:
    """Whether ``err`` was raised while receiving from DataLoader workers
    (torch's data loader or the multiprocessing pipe under it), not by
    anything else that fails with an ``OSError`` (a full disk while saving
    a checkpoint)."""
    tb = err.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename.replace(os.sep, '/')
        if '/torch/utils/data/' in path or \
                path.endswith(('multiprocessing/queues.py',
                               'multiprocessing/connection.py')):
            return True
        tb = tb.tb_next
    return False


def _noted_pids() -> List[int]:
    try:
        names = os.listdir(_reading_dir(os.getpid()))
    except OSError:
        return []
    return [int(n) for n in names if n.isdigit()]


def _is_dead(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet (torch reaps its
    workers after it reports them)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] in 'ZX'
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@contextlib.contextmanager
def naming_worker_files() -> Iterator[None]:
    """Wrap the iteration of a DataLoader over an :class:`AVVideoDataset`:
    a worker that dies natively becomes a :class:`WorkerCrashError` naming
    the file it was reading (torch's own error, the cause, names a pid)::

        with naming_worker_files():
            for batch in loader:
                ...
    """
    try:
        yield
    except (RuntimeError, EOFError, OSError) as err:
        if isinstance(err, WorkerCrashError):
            raise
        named = explain_worker_death(err)
        if named is None:
            raise
        raise named from err


class _DuplicateFinder:
    """Finds repeated paths in a list with 16 bytes per record (two int64
    arrays), so a 1M-line list needs no set of strings."""

    def __init__(self) -> None:
        self.hashes = array('q')
        self.lines = array('q')

    def add(self, lineno: int, rec: dict) -> None:
        self.hashes.append(hash(rec['filename']))
        self.lines.append(lineno)

    def find(self, record: Callable[[int], dict]
             ) -> Tuple[List[Tuple[int, str]], List[Tuple[int, str]]]:
        """``(duplicates, conflicts)``: ``(line, message)`` lists; a conflict
        is the same path with a different label."""
        if len(self.hashes) < 2:
            return [], []
        h = np.frombuffer(self.hashes, dtype=np.int64)
        order = np.argsort(h, kind='stable')
        same = np.flatnonzero(h[order][1:] == h[order][:-1]) + 1
        dups, conflicts = [], []
        first_of: Dict[int, int] = {}
        for k in same:
            i = int(order[k])
            j = first_of.setdefault(int(h[i]), int(order[k - 1]))
            a, b = record(j), record(i)
            if a['filename'] != b['filename']:  # a 64-bit hash collision
                continue
            la, lb = self.lines[j], self.lines[i]
            if a.get('label') != b.get('label'):
                conflicts.append((lb, f'{b["filename"]} listed again with '
                                  f'label {b.get("label")} (line {la} says '
                                  f'{a.get("label")})'))
            else:
                dups.append((lb, f'duplicate of line {la}: '
                             f'{b["filename"]}'))
        return sorted(dups), sorted(conflicts)


@DATASETS.register_module()
class AVVideoDataset(BaseDataset):
    """A list of videos (with optional labels) and their audio.

    The annotation file is either

    * a text list in MMAction2's ``VideoDataset`` format, one video per line:
      ``path/to/video.mp4 [label ...]`` (separated by spaces or tabs;
      several labels only with ``multi_label=True``; blank lines and
      comments are ignored: ``#`` alone or followed by whitespace, so
      ``#clip.mp4`` is a file), read as UTF-8 (a leading byte order mark is
      dropped; a line that is not UTF-8 is an :class:`AnnotationError`
      naming it). With ``with_label=False`` the labels are ignored, and any
      other text after the name is an error, or
    * a ``.json`` file: a list of records ``{"filename": str, "label": int |
      list[int] (optional), "audio_filename": str (optional)}``, or an
      OpenMMLab 2.0 dict ``{"metainfo": {...}, "data_list": [records]}``.

    Paths are relative to ``data_prefix['video']`` (itself relative to
    ``data_root``). Only the relative path and the label are stored, in
    mmengine's serialised byte buffer (``serialize_data=True``): about 60
    bytes per video plus the path, shared by dataloader workers. Prefixes and
    audio paths are resolved when a sample is read, and files are not
    touched while the list is loaded, so a 1M-line list loads in seconds.

    Audio (``audio_source``):

    * ``'container'``: the audio stream of the video file itself.
    * ``'sidecar'``: ``<data_prefix['audio']>/<relative stem><ext>`` for the
      first ``ext`` in ``audio_exts`` that exists (``data_prefix['audio']``
      defaults to the video prefix). A JSON record's ``audio_filename``
      overrides it.
    * ``'none'``: no audio (``audio_filename`` is ``None``).

    Each sample's ``results`` dict holds ``filename`` (absolute path),
    ``audio_filename`` (path or ``None``), ``video_id`` (the path as written
    in the list), ``label`` (int, list of ints for multi-label, or absent),
    ``sample_idx`` and ``modality``.

    Args:
        ann_file: Annotation file (``.txt``/``.json``...).
        pipeline: Transforms.
        data_root: Root joined to relative ``ann_file``/``data_prefix``.
        data_prefix: ``dict(video=..., audio=...)``.
        audio_source: ``'container'``, ``'sidecar'`` or ``'none'``.
        audio_exts: Sidecar extensions tried in order, each a ``stat``
            (an existence request for a remote prefix, none when there is
            only one) per sample until one exists. Default: every format
            ``tools/data/extract_audio.py`` writes, lossless first
            (:data:`~mmavcl.datasets.media.SIDECAR_EXTS`: ``.wav``,
            ``.flac``, ``.m4a``, ``.opus``, ``.mp3``); name the one you
            extracted to skip the others' lookups.
        with_label: ``True``: every line must carry a label; ``False``:
            labels are ignored (pretraining); ``None``: optional per line.
        multi_label: Allow several labels per line (AudioSet style).
        num_classes: If given, labels must lie in ``[0, num_classes)``.
        bad_sample_policy: What a :class:`MediaDecodeError` (unreadable,
            empty, truncated, unsupported or refused media; missing audio
            unless ``DecodeAudioViews(on_missing_audio='silence')``) does:

            * ``'raise'``: propagate it; the message names the file and the
              reason (also from DataLoader workers, which re-raise it in the
              main process with the same type).
            * ``'skip'``: draw another index, deterministically from
              ``(skip_seed, index, attempt)`` so runs are reproducible. The
              file is logged once (per process; once per run with
              :class:`~mmavcl.engine.hooks.DataReportHook`, which also
              logs a per-epoch count), remembered so it is not decoded
              again, and listed in the returned data sample's metainfo
              ``skipped_bad_samples`` (``(filename, reason)`` pairs).
              Refused with ``test_mode=True``: a replaced test video would
              bias the metric.

            Errors that are not media errors (bugs) always propagate, with a
            note naming the sample's index and file.
        max_bad_ratio: With ``'skip'``: once ``bad_ratio_warmup`` reads were
            made in a process, more than this fraction of bad reads raises
            :class:`TooManyBadSamplesError` listing every bad file and its
            reason. ``None``: no limit. In a training run with
            :class:`~mmavcl.engine.hooks.DataReportHook` (a default hook)
            the hook applies this limit to the reads of all ranks instead,
            and the process's own check is off
            (:attr:`enforce_max_bad_ratio`).
        bad_ratio_warmup: Reads before ``max_bad_ratio`` is enforced.
        skip_seed: Seed of the replacement draws.
        on_duplicate: A path listed twice with the same label: ``'warn'``
            (one warning naming the lines; both lines stay samples) or
            ``'error'`` (:class:`AnnotationError`). The same path with
            different labels is always an error.
        check_data_prefix: Raise at build time, naming the key and the path,
            when a local ``data_prefix`` directory is missing. ``None``
            (default): check when the dataset has a pipeline (it will read
            files); lists parsed without a pipeline are not checked.
        backend_args: mmengine fileio arguments (the MMAction2 convention)
            for the annotation file and every sample's media: ``data_root``,
            ``data_prefix`` and ``ann_file`` may be URIs (``s3://``,
            ``gs://``, ``http(s)://``), read into memory without temporary
            files (:mod:`mmavcl.datasets.media.remote`). Each sample's
            ``results`` carries it as ``backend_args`` for
            :class:`~mmavcl.datasets.transforms.VideoInit` and the audio
            transforms (their own ``backend_args`` take precedence). A file
            that cannot be fetched is a :class:`MediaDecodeError` naming the
            URI, which ``bad_sample_policy`` raises or skips.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`; an unknown
            key is a ``TypeError`` naming it and the closest valid one.
    """

    modality = 'video'
    prefix_key = 'video'

    def __init__(self,
                 ann_file: str,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 data_root: Optional[str] = '',
                 data_prefix: Optional[dict] = None,
                 audio_source: str = 'container',
                 audio_exts: Sequence[str] = SIDECAR_EXTS,
                 with_label: Optional[bool] = None,
                 multi_label: bool = False,
                 num_classes: Optional[int] = None,
                 bad_sample_policy: str = 'raise',
                 max_bad_ratio: Optional[float] = None,
                 bad_ratio_warmup: int = 100,
                 skip_seed: int = 0,
                 on_duplicate: str = 'warn',
                 check_data_prefix: Optional[bool] = None,
                 backend_args: Optional[dict] = None,
                 **kwargs) -> None:
        self.backend_args = dict(backend_args) if backend_args else None
        if audio_source not in AUDIO_SOURCES:
            raise ValueError(f'audio_source must be one of {AUDIO_SOURCES}, '
                             f'got {audio_source!r}')
        if bad_sample_policy not in BAD_SAMPLE_POLICIES:
            raise ValueError(f'bad_sample_policy must be one of '
                             f'{BAD_SAMPLE_POLICIES}, got '
                             f'{bad_sample_policy!r}')
        if bad_sample_policy == 'skip' and kwargs.get('test_mode'):
            raise ValueError(
                "bad_sample_policy='skip' with test_mode=True would replace "
                'a test video by another one and bias the metric; clean the '
                'list with tools/data/check_dataset.py instead')
        if max_bad_ratio is not None and not 0 <= max_bad_ratio <= 1:
            raise ValueError(f'max_bad_ratio must be in [0, 1], got '
                             f'{max_bad_ratio}')
        if on_duplicate not in ('warn', 'error'):
            raise ValueError(f"on_duplicate must be 'warn' or 'error', got "
                             f'{on_duplicate!r}')
        accepted = inspect.signature(BaseDataset.__init__).parameters
        for key in kwargs:
            if key not in accepted:
                own = inspect.signature(AVVideoDataset.__init__).parameters
                names = [k for k in list(own) + list(accepted)
                         if k not in ('self', 'kwargs')]
                raise TypeError(f'{type(self).__name__}: unknown argument '
                                f'{key!r}{_hint(key, names)}')
        if os.getpid() not in _CLEANUP_REGISTERED:  # workers' notes
            _CLEANUP_REGISTERED.append(os.getpid())
            atexit.register(_remove_reading_dir, os.getpid())
        self.bad_sample_policy = bad_sample_policy
        self.max_bad_ratio = max_bad_ratio
        self.bad_ratio_warmup = int(bad_ratio_warmup)
        self.skip_seed = int(skip_seed)
        self.on_duplicate = on_duplicate
        #: log each newly found bad file, and apply ``max_bad_ratio`` to the
        #: reads of this process. ``DataReportHook.take_over`` turns both
        #: off before any DataLoader worker copies the dataset (AVRunner
        #: calls it when it builds the train loop): the hook names each
        #: file once per run and applies the limit to all ranks' reads, so
        #: that no rank stops alone
        self.log_bad_samples = True
        self.enforce_max_bad_ratio = True
        self._reset_bad_counts()
        self.check_data_prefix = (bool(pipeline) if check_data_prefix is None
                                  else check_data_prefix)
        prefix = {k: v for k, v in (data_prefix or {}).items() if v}
        prefix.setdefault(self.prefix_key, '')
        # sidecar audio lives next to the videos unless told otherwise
        prefix.setdefault('audio', prefix.get('video', ''))
        self.audio_source = audio_source
        self.audio_exts = tuple(audio_exts)
        self.with_label = with_label
        self.multi_label = multi_label
        self.num_classes = num_classes
        # build with mmavcl's registry so that the pipeline works without
        # default_scope='mmavcl' (its parent still serves 'mmaction.X' types)
        pipeline = build_pipeline(pipeline)
        super().__init__(
            ann_file=ann_file,
            data_root=data_root or '',
            data_prefix=prefix,
            pipeline=pipeline,
            **kwargs)

    # ------------------------------------------------------------ loading
    def _join_prefix(self) -> None:
        super()._join_prefix()
        if not self.check_data_prefix:
            return
        keys = [self.prefix_key]
        if self.audio_source == 'sidecar' and self.prefix_key != 'audio':
            keys.append('audio')
        for key in keys:
            path = self.data_prefix.get(key, '')
            if path and not needs_fetch(path, self.backend_args) and \
                    not osp.isdir(path):
                raise FileNotFoundError(
                    f"data_prefix['{key}'] = {path!r} is not a directory "
                    f'(data_root={self.data_root!r}); fix data_root / '
                    'data_prefix in the config')

    def _iter_numbered(self) -> Iterator[Tuple[int, Optional[dict],
                                               Optional[str]]]:
        """Yield ``(line, record, None)`` for good lines and ``(line, None,
        message)`` for bad ones (line 0: the whole file)."""
        ann_file = self.ann_file
        if not ann_file:
            raise ValueError(f'{type(self).__name__}: ann_file is empty')
        if needs_fetch(ann_file, self.backend_args):
            try:
                raw = fetch(ann_file, self.backend_args, 'annotation')
            except MediaDecodeError as err:
                raise FileNotFoundError(f'annotation file {ann_file}: '
                                        f'{err.reason}') from None
            source = io.BytesIO(raw)
        elif not osp.isfile(ann_file):
            raise FileNotFoundError(f'annotation file {ann_file} does '
                                    'not exist')
        else:
            source = open(ann_file, 'rb')
        with source:
            if not ann_file.endswith('.json'):
                yield from self._parse_lines(iter_list_lines(source))
                return
            data = source.read()
            try:
                text = data.decode('utf-8-sig')
            except UnicodeDecodeError as err:
                line = data.count(b'\n', 0, err.start) + 1
                yield line, None, (f'not UTF-8 text: byte '
                                   f'{data[err.start]:#04x} ({err.reason}); '
                                   'save the file as UTF-8')
                return
            try:
                records = json.loads(text)
            except json.JSONDecodeError as err:
                yield err.lineno, None, f'invalid JSON: {err.msg}'
                return
            yield from self._parse_json(records)

    def _iter_records(self) -> Iterator[Tuple[Optional[dict], tuple]]:
        """Yield ``(record, None)`` for good lines, ``(None, (line, msg))``
        for bad ones."""
        for line, rec, msg in self._iter_numbered():
            yield (rec, None) if rec is not None else (None, (line, msg))

    def load_data_list(self) -> List[dict]:
        """Parse the annotation file into compact ``{'filename', 'label'}``
        records; raise one :class:`AnnotationError` listing every bad line.
        """
        data_list, problems, dups = [], [], _DuplicateFinder()
        for line, rec, msg in self._iter_numbered():
            if rec is None:
                problems.append((line, msg))
            else:
                dups.add(line, rec)
                data_list.append(rec)
        self._check_duplicates(dups, data_list.__getitem__, problems)
        self._raise_problems(problems, len(data_list))
        return data_list

    def _check_duplicates(self, dups: _DuplicateFinder,
                          record: Callable[[int], dict],
                          problems: list) -> None:
        repeated, conflicts = dups.find(record)
        problems.extend(conflicts)
        if not repeated:
            return
        if self.on_duplicate == 'error':
            problems.extend(repeated)
            problems.sort()
            return
        shown = '; '.join(f'{self.ann_file}:{line}: {msg}'
                          for line, msg in repeated[:5])
        more = f'; ... and {len(repeated) - 5} more' if len(
            repeated) > 5 else ''
        print_log(
            f'{len(repeated)} duplicated line(s) in {self.ann_file}, kept '
            f"(each is one more sample; on_duplicate='error' refuses "
            f'them): {shown}{more}',
            logger='current',
            level=logging.WARNING)

    def _raise_problems(self, problems: list, num_ok: int) -> None:
        if problems:
            raise AnnotationError(self.ann_file, problems)
        if not num_ok:
            raise AnnotationError(self.ann_file,
                                  [(0, 'the list holds no samples')])

    def full_init(self) -> None:
        """Like mmengine's, but records are pickled straight into the shared
        byte buffer while the file is read, so a list of 1M+ lines never
        exists as 1M Python dicts (peak memory ~ the final buffer)."""
        if self._fully_initialized:
            return
        if not self.serialize_data or self._indices is not None or \
                type(self).filter_data is not BaseDataset.filter_data:
            return super().full_init()
        buf, ends, problems = bytearray(), array('q'), []
        dups = _DuplicateFinder()
        for line, rec, msg in self._iter_numbered():
            if rec is None:
                problems.append((line, msg))
                continue
            dups.add(line, rec)
            buf += pickle.dumps(rec, protocol=4)
            ends.append(len(buf))

        def record(i: int) -> dict:
            start = ends[i - 1] if i else 0
            return pickle.loads(bytes(buf[start:ends[i]]))

        self._check_duplicates(dups, record, problems)
        self._raise_problems(problems, len(ends))
        # the same layout as BaseDataset._serialize_data, over the buffer
        # itself: bytes(buf) would hold a second copy while it is made
        self.data_bytes = np.frombuffer(buf, dtype=np.uint8)
        self.data_bytes.flags.writeable = False
        self.data_address = np.frombuffer(ends, dtype=np.int64).copy()
        self.data_list = []
        self._fully_initialized = True

    def _check_label(self, label) -> Optional[str]:
        if isinstance(label, list) and not self.multi_label:
            return (f'{len(label)} labels on one line; set multi_label=True '
                    'for multi-label lists')
        if self.num_classes is not None:
            for lab in (label if isinstance(label, list) else [label]):
                if not 0 <= lab < self.num_classes:
                    return (f'label {lab} outside [0, {self.num_classes})')
        return None

    def _parse_lines(self, lines) -> Iterator[Tuple[int, Optional[dict],
                                                 Optional[str]]]:
        """Records of :func:`iter_list_lines` output."""
        for lineno, text, error in lines:
            if error is not None:
                yield lineno, None, error
                continue
            tokens = split_list_line(text)
            if not tokens:
                continue
            line = text.strip(LIST_SPACE)
            name, label_tokens = tokens[0], tokens[1:]
            if not osp.splitext(name)[1] and name.lstrip('-').isdigit():
                yield lineno, None, (f'missing file column: {line!r} '
                                     'starts with a number, expected '
                                     '"path/to/file.ext [label]"')
                continue
            info = dict(filename=name)
            if self.with_label is False and label_tokens and not all(
                    _is_int(t) for t in label_tokens):
                # labels are ignored, but text that is no label means the
                # name was cut (a path with a space): reading 'my' of
                # 'my clip.mp4' would fail hours later as a missing file
                yield lineno, None, (
                    f'unexpected text after the file name in {line!r} '
                    '(with_label=False ignores integer labels only; a path '
                    'with spaces is not allowed in text lists; use JSON)')
                continue
            if self.with_label is not False and label_tokens:
                try:
                    label = _parse_label_tokens(label_tokens)
                except ValueError:
                    yield lineno, None, (
                        f'non-integer label in {line!r} (a path with spaces '
                        'is not allowed in text lists; use JSON)')
                    continue
                msg = self._check_label(label)
                if msg:
                    yield lineno, None, msg
                    continue
                info['label'] = label
            elif self.with_label and not label_tokens:
                yield lineno, None, (f'missing label in {line!r} '
                                     '(with_label=True)')
                continue
            yield lineno, info, None

    def _parse_json(self, records) -> Iterator[Tuple[int, Optional[dict],
                                                 Optional[str]]]:
        if isinstance(records, dict):
            for k, v in records.get('metainfo', {}).items():
                self._metainfo.setdefault(k, v)
            records = records.get('data_list')
        if not isinstance(records, list):
            yield 0, None, ('expected a list of records or a dict with '
                            '"data_list"')
            return
        for i, rec in enumerate(records, 1):
            if not isinstance(rec, dict) or not isinstance(
                    rec.get('filename'), str) or not rec['filename']:
                yield i, None, f'record {rec!r} has no "filename"'
                continue
            info = dict(filename=rec['filename'])
            if rec.get('audio_filename'):
                info['audio_filename'] = rec['audio_filename']
            label = rec.get('label')
            if label is not None and self.with_label is not False:
                ok = (isinstance(label, int) and not isinstance(label, bool)
                      ) or (isinstance(label, list) and label and all(
                          isinstance(x, int) for x in label))
                if not ok:
                    yield i, None, f'non-integer label {label!r} in {rec!r}'
                    continue
                if isinstance(label, list) and len(label) == 1:
                    label = label[0]
                msg = self._check_label(label)
                if msg:
                    yield i, None, msg
                    continue
                info['label'] = label
            elif self.with_label and label is None:
                yield i, None, f'missing label in {rec!r}'
                continue
            yield i, info, None

    # ------------------------------------------------------------ reading
    def _resolve_audio(self, rel: str, info: dict) -> Optional[str]:
        if self.audio_source == 'none':
            return None
        prefix = self.data_prefix.get('audio', '')
        if info.get('audio_filename'):
            return osp.join(prefix, info['audio_filename'])
        if self.audio_source == 'container':
            return osp.join(self.data_prefix.get(self.prefix_key, ''), rel)
        stem = osp.join(prefix, osp.splitext(rel)[0])
        if needs_fetch(stem, self.backend_args):
            if len(self.audio_exts) == 1:  # nothing to choose: no request
                return stem + self.audio_exts[0]
            backend = get_file_backend(stem, backend_args=self.backend_args)
            exists = backend.exists
        else:
            exists = osp.exists
        for ext in self.audio_exts:
            if exists(stem + ext):
                return stem + ext
        # let the audio decoder report (or fall back on) the missing file
        return stem + self.audio_exts[0]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        rel = info['filename']
        info['video_id'] = rel
        info['filename'] = osp.join(
            self.data_prefix.get(self.prefix_key, ''), rel)
        info['audio_filename'] = self._resolve_audio(rel, info)
        info['modality'] = self.modality
        if self.backend_args is not None:
            info['backend_args'] = self.backend_args
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        label = self.get_data_info(idx).get('label')
        if label is None:
            return []
        return list(label) if isinstance(label, list) else [label]

    # ------------------------------------------------------- bad samples
    def _reset_bad_counts(self) -> None:
        # per process: each DataLoader worker keeps its own
        self._bad: Dict[int, Tuple[str, str]] = {}
        self._num_reads = 0
        self._num_bad_reads = 0

    @property
    def bad_samples(self) -> Dict[int, Tuple[str, str]]:
        """``{index: (filename, reason)}`` found bad in this process."""
        return dict(self._bad)

    def _prepare(self, idx: int) -> Any:
        """``prepare_data`` whose non-media errors name the sample; in a
        DataLoader worker the sample is noted while it is read, for
        :func:`naming_worker_files`."""

        def state() -> dict:
            info = self.get_data_info(idx)
            return dict(index=int(idx), filename=info.get('filename'),
                        audio_filename=info.get('audio_filename'),
                        ann_file=self.ann_file)

        try:
            _NOTE.begin(state)
            return self.prepare_data(idx)
        except MediaDecodeError:
            raise
        except Exception as err:
            try:
                where = self.get_data_info(idx)['filename']
            except Exception:  # the index itself is the problem
                where = '?'
            note = (f'while loading sample {idx} ({where}) of '
                    f'{self.ann_file}')
            if hasattr(err, 'add_note'):  # Python >= 3.11
                err.add_note(note)
                raise
            raise RuntimeError(f'{note}: {type(err).__name__}: {err}'
                               ) from err
        finally:
            _NOTE.end()

    def _redraw(self, idx: int, attempt: int) -> int:
        """The replacement of ``idx`` at ``attempt``: any other index,
        the same in every run and every worker."""
        n = len(self)
        rng = np.random.default_rng((self.skip_seed, idx, attempt))
        j = int(rng.integers(n - 1))
        return j + 1 if j >= idx else j

    def _note_bad(self, idx: int, err: MediaDecodeError) -> Tuple[str, str]:
        filename = err.filename or self.get_data_info(idx)['filename']
        entry = (str(filename), f'{err.stream}: {err.reason}')
        self._bad[idx] = entry
        if self.log_bad_samples:
            print_log(
                f'skipping bad sample {idx}: {entry[0]}: {entry[1]} '
                "(bad_sample_policy='skip'; logged once)",
                logger='current',
                level=logging.WARNING)
        return entry

    def _check_bad_ratio(self) -> None:
        if not self.enforce_max_bad_ratio or self.max_bad_ratio is None or \
                self._num_reads < self.bad_ratio_warmup:
            return
        ratio = self._num_bad_reads / self._num_reads
        if ratio > self.max_bad_ratio:
            raise TooManyBadSamplesError(
                f'{self._num_bad_reads} of {self._num_reads} sample reads '
                f'({ratio:.1%}) in this process hit bad media, more than '
                f'max_bad_ratio={self.max_bad_ratio} ({self.ann_file}); '
                f'{len(self._bad)} bad file(s):', list(self._bad.values()))

    def __getitem__(self, idx: int) -> Any:
        """Run the pipeline on sample ``idx`` under ``bad_sample_policy``
        (see the class doc)."""
        if not self._fully_initialized:
            self.full_init()
        if self.bad_sample_policy == 'raise':
            if self.test_mode:
                data = self._prepare(idx)
                if data is None:
                    raise RuntimeError(
                        f'the test pipeline returned None for sample {idx}')
                return data
            for attempt in range(self.max_refetch + 1):
                data = self._prepare(idx)
                if data is not None:
                    return data
                idx = self._redraw(idx, attempt)  # mmengine's None contract
            raise RuntimeError(f'the pipeline returned None {attempt + 1} '
                               'times in a row')
        skipped: List[Tuple[str, str]] = []
        cur = idx
        for attempt in range(self.max_refetch + 1):
            self._num_reads += 1
            entry = self._bad.get(cur)
            if entry is None:
                try:
                    data = self._prepare(cur)
                except MediaDecodeError as err:
                    entry = self._note_bad(cur, err)
                else:
                    if data is not None:
                        if skipped:
                            _attach_skipped(data, skipped)
                        return data
                    self._num_reads -= 1  # a filtered sample is not bad
            if entry is not None:
                self._num_bad_reads += 1
                skipped.append(entry)
                self._check_bad_ratio()
            if len(self) < 2:
                break
            cur = self._redraw(idx, attempt)
        raise TooManyBadSamplesError(
            f'no good sample found for index {idx} after {len(skipped)} '
            f'bad draw(s) ({self.ann_file}):', skipped)


def _attach_skipped(data: Any, skipped: List[Tuple[str, str]]) -> None:
    """Record the skipped files in the data sample: it is how the count
    reaches the main process from DataLoader workers."""
    sample = data.get('data_samples') if isinstance(data, dict) else None
    if hasattr(sample, 'set_metainfo'):
        sample.set_metainfo({SKIPPED_KEY: tuple(skipped)})


@DATASETS.register_module()
class AVAudioDataset(AVVideoDataset):
    """An audio-only list (ESC-50 style): ``path/to/clip.wav [label]``.

    Paths are relative to ``data_prefix['audio']``. ``results`` holds
    ``audio_filename`` (absolute path), ``filename`` (the same path, for
    error messages), ``video_id`` (the path as written), ``label`` and
    ``modality='audio'``. Takes the arguments of :class:`AVVideoDataset`
    except ``audio_source``.
    """

    modality = 'audio'
    prefix_key = 'audio'

    def __init__(self, ann_file: str, **kwargs) -> None:
        kwargs.pop('audio_source', None)
        super().__init__(ann_file, audio_source='container', **kwargs)

    def _resolve_audio(self, rel: str, info: dict) -> Optional[str]:
        return osp.join(self.data_prefix.get('audio', ''), rel)
