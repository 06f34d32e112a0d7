"""Media and annotation files behind URIs (``s3://``, ``gs://``,
``http(s)://``), read through mmengine's fileio with ``backend_args`` (the
MMAction2 convention), into memory.

A remote file is fetched once per sample as bytes and handed to the readers
as a :class:`FetchedFile`: a ``str`` (the URI, which every error message
names) carrying the bytes, which PyAV, decord and :mod:`wave` read from a
``BytesIO`` (:func:`open_source`). Nothing is written to disk and nothing
calls ``os.path.exists`` on a URI.

mmengine ships backends for local paths, ``http(s)://`` (``urlopen``,
without a timeout) and Petrel (SenseTime's client, which also claims the
``s3`` prefix). On import this module registers two backends with
mmengine's fileio (``force=True``: they replace the prefix owners):

* :class:`ObjectStoreBackend` for ``s3://`` and ``gs://``, on obstore
  (the Rust ``object_store`` crate): credentials, region and endpoint come
  from the standard environment variables (``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``, ``AWS_REGION`` ...) and
  from ``backend_args`` (``endpoint_url``, ``aws_access_key_id``, ...).
  ``backend_args=dict(backend='petrel')`` still selects Petrel by name.
* :class:`TimeoutHTTPBackend` for ``http(s)://``: mmengine's, with a
  timeout so that a stalled server is an error, not a hang.

Fetches, and the opening of streams, are retried with exponential backoff
for transient failures (connection errors, 5xx): :data:`FETCH_RETRIES`
retries (``MMAVCL_FETCH_RETRIES``, default 3), the first after
:data:`FETCH_BACKOFF` seconds (``MMAVCL_FETCH_BACKOFF``, default 0.5),
doubling. obstore's own retries are turned off so that this is the one
policy for every scheme. A missing object (404, ``FileNotFoundError``) or a
refused one (403) fails at once. Every failure is a
:class:`~mmavcl.datasets.MediaDecodeError` naming the URI, so the dataset's
``bad_sample_policy`` raises or skips it.

The object-store backend writes too (``put``, ``remove``, ``rename``,
``list_dir_or_file``, ``copyfile_from_local``), for checkpoints and logs
with ``out_dir='s3://...'`` on mmengine's ``CheckpointHook``/``LoggerHook``
(it is registered with mmengine's deprecated ``FileClient`` as well, which
those hooks still consult). Writes follow the same retry policy; one that
still fails is a :class:`RemoteStorageError` naming the URI.
"""
import contextlib
import io
import os
import re
import stat
import tempfile
import time
import urllib.error
import urllib.request
from typing import (BinaryIO, Dict, Iterator, Optional, Tuple, Union)

from mmengine.fileio import FileClient, get_file_backend
from mmengine.fileio.backends import (BaseStorageBackend, HTTPBackend,
                                      register_backend)

from ..errors import MediaDecodeError, MissingAudioError

__all__ = [
    'FetchedFile', 'is_uri', 'needs_fetch', 'fetch', 'fetch_media',
    'open_source', 'open_stream', 'source_size', 'check_regular_file',
    'ObjectStoreBackend', 'TimeoutHTTPBackend', 'RemoteStorageError',
    'FETCH_RETRIES', 'FETCH_BACKOFF'
]

#: attempts after the first for a transient failure (backoff 0.5 s, 1 s ...)
FETCH_RETRIES = int(os.environ.get('MMAVCL_FETCH_RETRIES', 3))
#: seconds before the first retry; doubled for each further one
FETCH_BACKOFF = float(os.environ.get('MMAVCL_FETCH_BACKOFF', 0.5))
#: seconds an HTTP connection may stay silent before it is an error
HTTP_TIMEOUT = float(os.environ.get('MMAVCL_HTTP_TIMEOUT', 60))


class FetchedFile(str):
    """A file read into memory: the ``str`` is its URI (for messages and
    extension checks), :attr:`data` its bytes.

    Kept out of results dicts that are packed (only readers hold it), so
    the bytes never travel through a DataLoader queue; ``str(f)`` is the
    plain URI.
    """

    data: bytes

    def __new__(cls, uri: str, data: bytes) -> 'FetchedFile':
        obj = super().__new__(cls, uri)
        obj.data = bytes(data)
        return obj

    def __reduce__(self):  # pickled (rarely) as itself, bytes included
        return FetchedFile, (str(self), self.data)


def is_uri(path) -> bool:
    """Whether ``path`` names a remote object (``scheme://``), not a local
    file (``file://`` counts as local)."""
    return isinstance(path, str) and '://' in path and \
        not path.startswith('file://')


def needs_fetch(path: str, backend_args: Optional[dict] = None) -> bool:
    """Whether ``path`` is read through mmengine's fileio rather than
    opened from disk: a URI, or any path when ``backend_args`` names a
    non-local backend (e.g. Petrel with ``path_mapping``)."""
    if isinstance(path, FetchedFile):
        return False
    if is_uri(path):
        return True
    return bool(backend_args) and backend_args.get('backend',
                                                   'local') != 'local'


class ForkedObjectStoreError(RuntimeError):
    """obstore was used in the process this one was forked from.

    obstore's runtime does not survive ``fork`` (developmentseed/obstore#441):
    the child's first request never returns, whatever store it builds. A
    DataLoader worker forked after its parent read ``s3://``/``gs://``
    (e.g. a shard index for the epoch length) would hang, so it stops here
    with the remedy instead. Not a bad sample: never retried or skipped.
    """


#: pid of the process that made this module's first obstore store; a
#: different pid with this set means a forked child
_OBSTORE_PID: Optional[int] = None


def _check_not_forked_from_obstore(uri: str) -> None:
    global _OBSTORE_PID
    if _OBSTORE_PID is None:
        _OBSTORE_PID = os.getpid()
    elif _OBSTORE_PID != os.getpid():
        raise ForkedObjectStoreError(
            f'{uri}: this process was forked from one (pid {_OBSTORE_PID}) '
            'that already read object storage, and obstore hangs in such a '
            "child; set multiprocessing_context='forkserver' (or 'spawn') "
            'in the dataloader config, as configs/_base_/datasets/'
            'k400_shards.py does')


def _transient(err: BaseException) -> bool:
    """Worth another try: not a missing or forbidden object."""
    if isinstance(err, (FileNotFoundError, PermissionError)):
        return False
    if isinstance(err, urllib.error.HTTPError):
        return err.code >= 500 or err.code in (408, 429)
    name = type(err).__name__
    if name in ('NotFoundError', 'PermissionDeniedError',
                'UnauthenticatedError', 'InvalidPathError'):
        return False
    text = str(err)
    # a status code, not digits of a port or a duration ('in 403.2µs':
    # a refused connection was once taken for a 403 and not retried)
    if _STATUS_4XX.search(text):
        return False
    return not any(s in text for s in ('Not Found', 'NoSuchKey',
                                       'NoSuchBucket'))


_STATUS_4XX = re.compile(r'(?<![\w.])40[34](?![\w.])')


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f'HTTP {err.code} {err.reason}'
    if isinstance(err, FileNotFoundError) or type(
            err).__name__ == 'NotFoundError':
        return 'not found (no such file or object)'
    text = ' '.join(str(err).split())
    return f'{type(err).__name__}: {text[:300]}'


class _GaveUp(Exception):
    """``what()`` of :func:`_with_backoff` failed for good: ``error`` after
    ``attempts`` tries."""

    def __init__(self, error: BaseException, attempts: int) -> None:
        super().__init__(error)
        self.error, self.attempts = error, attempts

    def after(self) -> str:
        return f' (after {self.attempts} attempts)' if self.attempts > 1 \
            else ''


def _with_backoff(what, retries: Optional[int] = None):
    """``what()``, retried with exponential backoff while it fails
    transiently (:func:`_transient`): the one retry policy of reads and
    writes (:data:`FETCH_RETRIES`, :data:`FETCH_BACKOFF`).

    Raises:
        _GaveUp: the last error and the number of attempts.
    """
    retries = FETCH_RETRIES if retries is None else retries
    delay = FETCH_BACKOFF
    for attempt in range(retries + 1):
        try:
            return what()
        except (MediaDecodeError, ForkedObjectStoreError):
            raise
        except Exception as err:  # urllib, obstore, OSError ...
            if attempt < retries and _transient(err):
                time.sleep(delay)
                delay *= 2
                continue
            raise _GaveUp(err, attempt + 1) from err


def _retrying(uri: str, what, stream: str = 'video',
              retries: Optional[int] = None):
    """``what()``, retried with backoff on transient errors; every final
    failure a :class:`MediaDecodeError` naming ``uri``."""
    try:
        return _with_backoff(what, retries)
    except _GaveUp as gave_up:
        err = gave_up.error
        if stream == 'audio' and 'not found' in _reason(err) or (
                stream == 'audio' and
                isinstance(err, urllib.error.HTTPError)
                and err.code == 404):
            # a missing sidecar: on_missing_audio='silence' applies
            raise MissingAudioError(
                uri, f'cannot fetch: {_reason(err)}') from err
        raise MediaDecodeError(
            uri, f'cannot fetch: {_reason(err)}{gave_up.after()}',
            stream) from err


class RemoteStorageError(OSError):
    """A write, delete or listing on object storage that still failed after
    the retries of :func:`_with_backoff`; the message names the URI."""


def _storing(uri: str, action: str, what):
    """``what()`` (an upload, a delete ...) with the read retry policy; a
    final failure is a :class:`RemoteStorageError` naming ``uri``."""
    try:
        return _with_backoff(what)
    except _GaveUp as gave_up:
        raise RemoteStorageError(
            f'cannot {action} {uri}: {_reason(gave_up.error)}'
            f'{gave_up.after()}') from gave_up.error


def fetch(uri: str, backend_args: Optional[dict] = None,
          stream: str = 'video') -> bytes:
    """The bytes of ``uri`` through mmengine's fileio.

    Raises:
        MediaDecodeError: naming ``uri``: missing, refused, or still failing
            after :data:`FETCH_RETRIES` retries.
    """
    backend = get_file_backend(uri, backend_args=backend_args)
    data = _retrying(uri, lambda: backend.get(uri), stream)
    return data


def fetch_media(filename: str, backend_args: Optional[dict] = None,
                stream: str = 'video') -> str:
    """``filename`` itself when it is read from disk, else a
    :class:`FetchedFile` of its bytes (an empty object is refused here)."""
    if not needs_fetch(filename, backend_args):
        return filename
    data = fetch(filename, backend_args, stream)
    if not data:
        raise MediaDecodeError(filename, 'empty file (0 bytes)', stream)
    return FetchedFile(filename, data)


#: ``stat`` tests of what may sit where a media file is expected, and
#: their names in :func:`check_regular_file`'s error
_NOT_REGULAR = ((stat.S_ISFIFO, 'a FIFO (named pipe)'),
                (stat.S_ISDIR, 'a directory'), (stat.S_ISSOCK, 'a socket'),
                (stat.S_ISCHR, 'a character device'),
                (stat.S_ISBLK, 'a block device'))


def _local_path(filename: str) -> str:
    return filename[len('file://'):] if filename.startswith('file://') \
        else filename


def check_regular_file(filename: str, stream: str = 'video') -> int:
    """Bytes in the local file ``filename`` (-1: nothing there), found by
    ``os.stat`` alone: nothing is opened.

    A FIFO named like a media file blocks whoever opens it until a writer
    comes (FFmpeg, :mod:`wave` and ``open`` alike); a directory, socket or
    device is no media file either, and its size (0, or a device's) says
    nothing. Each is refused here, by what it is, before any reader
    opens it.

    Raises:
        MediaDecodeError: ``not a regular file: <path> is a FIFO (named
            pipe)`` (or a directory, socket, character or block device),
            for ``stream``.
    """
    path = _local_path(filename)
    try:
        st = os.stat(path)  # follows links: the target is what is read
    except (OSError, ValueError):  # missing, or a name the OS refuses
        return -1
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    kind = next((name for test, name in _NOT_REGULAR if test(st.st_mode)),
                'not a file')
    raise MediaDecodeError(filename, f'not a regular file: {path} is {kind}',
                           stream)


def open_source(filename: str,
                stream: str = 'video') -> Union[str, BinaryIO]:
    """What to hand to ``av.open``, ``decord.VideoReader`` or
    ``wave.open``: a fresh ``BytesIO`` of a :class:`FetchedFile`, else the
    path, once :func:`check_regular_file` has found no FIFO, directory,
    socket or device there (opening a FIFO would block). Every reader opens
    files through here, so none of them can hang on one.

    Raises:
        MediaDecodeError: a local path that is not a regular file.
    """
    if isinstance(filename, FetchedFile):
        return io.BytesIO(filename.data)
    check_regular_file(filename, stream)
    return filename


def source_size(filename: str, stream: str = 'video') -> int:
    """Bytes in ``filename`` (-1: no such local file).

    Raises:
        MediaDecodeError: a local path that is not a regular file
            (:func:`check_regular_file`).
    """
    if isinstance(filename, FetchedFile):
        return len(filename.data)
    return check_regular_file(filename, stream)


@contextlib.contextmanager
def open_stream(uri: str, backend_args: Optional[dict] = None
                ) -> Iterator[BinaryIO]:
    """A binary stream of ``uri`` read as it is consumed (shards: never
    the whole object in memory). Local paths are opened; HTTP(S) and
    object stores stream; other mmengine backends are fetched whole.
    Opening is retried like :func:`fetch`; errors name ``uri``."""
    if not needs_fetch(uri, backend_args):
        path = _local_path(uri)
        check_regular_file(uri, 'shard')  # a FIFO would block the open
        try:
            f = open(path, 'rb')
        except OSError as err:
            raise MediaDecodeError(uri, f'cannot open: {_reason(err)}',
                                   'shard') from err
        with f:
            yield f
        return
    backend = get_file_backend(uri, backend_args=backend_args)
    if hasattr(backend, 'open_stream'):
        f = _retrying(uri, lambda: backend.open_stream(uri), 'shard')
    else:
        f = io.BytesIO(fetch(uri, backend_args, 'shard'))
    try:
        yield f
    finally:
        f.close()


# ----------------------------------------------------------- backends
class TimeoutHTTPBackend(HTTPBackend):
    """mmengine's HTTP backend with a timeout (``urlopen`` without one waits
    forever on a server that stopped answering), and a streaming open.

    Args:
        timeout: Seconds of silence before an error (default
            ``MMAVCL_HTTP_TIMEOUT`` or 60).
    """

    def __init__(self, timeout: Optional[float] = None) -> None:
        self.timeout = HTTP_TIMEOUT if timeout is None else float(timeout)

    def get(self, filepath: str) -> bytes:
        with urllib.request.urlopen(filepath, timeout=self.timeout) as r:
            return r.read()

    def get_text(self, filepath: str, encoding: str = 'utf-8') -> str:
        return self.get(filepath).decode(encoding)

    def exists(self, filepath: str) -> bool:
        req = urllib.request.Request(filepath, method='HEAD')
        try:
            with urllib.request.urlopen(req, timeout=self.timeout):
                return True
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            raise

    def isfile(self, filepath: str) -> bool:
        return self.exists(filepath)

    def join_path(self, filepath: str, *filepaths: str) -> str:
        return '/'.join([filepath.rstrip('/')] +
                        [p.strip('/') for p in filepaths])

    def open_stream(self, filepath: str) -> BinaryIO:
        return urllib.request.urlopen(filepath, timeout=self.timeout)


#: backend_args spellings of boto3 / MMAction2 configs -> obstore's keys
_ALIASES = {
    'endpoint_url': 'endpoint', 'aws_access_key_id': 'access_key_id',
    'aws_secret_access_key': 'secret_access_key',
    'aws_session_token': 'session_token', 'region_name': 'region'
}


class _Reader(io.RawIOBase):
    """obstore's ``ReadableFile`` as a standard binary stream."""

    def __init__(self, reader) -> None:
        self._r = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        data = self._r.read(len(buf))
        n = len(data)
        buf[:n] = memoryview(data)
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._r.close()
        super().close()


class ObjectStoreBackend(BaseStorageBackend):
    """``s3://bucket/key`` and ``gs://bucket/key`` through obstore.

    Args:
        **config: obstore store options (``endpoint``, ``region``,
            ``access_key_id``, ``secret_access_key``, ``session_token``,
            ...; boto3's ``endpoint_url``, ``aws_access_key_id``,
            ``aws_secret_access_key``, ``region_name`` are accepted too).
            Options not given come from the environment (``AWS_*``,
            ``GOOGLE_*``). An ``http://`` endpoint (a local MinIO or test
            server) is allowed without TLS.
    """

    def __init__(self, **config) -> None:
        self.config = {_ALIASES.get(k, k): v for k, v in config.items()
                       if v is not None}
        self._stores: Dict[Tuple[str, str], object] = {}

    @staticmethod
    def _split(filepath: str) -> Tuple[str, str, str]:
        scheme, rest = filepath.split('://', 1)
        bucket, _, key = rest.partition('/')
        if not bucket or not key:
            raise ValueError(f'{filepath!r} is not scheme://bucket/key')
        return scheme, bucket, key

    def _store(self, filepath: str):
        from obstore.store import from_url
        scheme, bucket, key = self._split(filepath)
        _check_not_forked_from_obstore(filepath)
        store = self._stores.get((scheme, bucket))
        if store is None:
            endpoint = self.config.get('endpoint') or os.environ.get(
                'AWS_ENDPOINT_URL') or os.environ.get('AWS_ENDPOINT') or ''
            options = {'allow_http': True} if endpoint.startswith(
                'http://') else {}
            # no retries inside obstore (its default: 10 over up to 3
            # minutes, a stopped server looked like a hang): _retrying's
            # backoff is the one retry policy
            store = from_url(f'{scheme}://{bucket}', config=self.config
                             or None, client_options=options or None,
                             retry_config=dict(max_retries=0))
            self._stores[(scheme, bucket)] = store
        return store, key

    def get(self, filepath: str) -> bytes:
        import obstore
        store, key = self._store(filepath)
        return bytes(obstore.get(store, key).bytes())

    def get_text(self, filepath: str, encoding: str = 'utf-8') -> str:
        return self.get(filepath).decode(encoding)

    # The write side (checkpoints, ``last_checkpoint``, logs uploaded to a
    # hook's ``out_dir``): each call retried like a read, a final failure a
    # RemoteStorageError naming the URI. An object appears whole or not at
    # all (a PUT, or a multipart upload, only becomes visible once
    # complete), so no rename dance as for local files.
    def put(self, obj: bytes, filepath: str) -> None:
        import obstore
        store, key = self._store(filepath)
        _storing(filepath, 'upload', lambda: obstore.put(store, key, obj))

    def put_text(self, obj: str, filepath: str,
                 encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def copyfile_from_local(self, src: str, dst: str) -> str:
        """Upload the local file ``src`` to ``dst`` (a key, or a "folder"
        ending in ``/`` that gets ``src``'s name); returns the URI."""
        if dst.endswith('/'):
            dst = self.join_path(dst, os.path.basename(src))
        with open(src, 'rb') as f:
            self.put(f.read(), dst)
        return dst

    def exists(self, filepath: str) -> bool:
        import obstore
        store, key = self._store(filepath)

        def head() -> bool:
            try:
                obstore.head(store, key)
            except FileNotFoundError:
                return False
            return True

        return _storing(filepath, 'look up', head)

    def isfile(self, filepath: str) -> bool:
        return self.exists(filepath)

    def isdir(self, filepath: str) -> bool:
        return False  # flat key space: a "folder" is only a key prefix

    def join_path(self, filepath: str, *filepaths: str) -> str:
        return '/'.join([filepath.rstrip('/')] +
                        [p.strip('/') for p in filepaths])

    def remove(self, filepath: str) -> None:
        """Delete the object (deleting a missing key is no error in S3)."""
        import obstore
        store, key = self._store(filepath)
        _storing(filepath, 'delete', lambda: obstore.delete(store, key))

    def rename(self, src: str, dst: str) -> None:
        """Move an object within its bucket (a server-side copy, then a
        delete of ``src``)."""
        import obstore
        store, key = self._store(src)
        _, _, dst_key = self._split(dst)
        _storing(src, f'move to {dst}',
                 lambda: obstore.rename(store, key, dst_key))

    def list_dir_or_file(self, dir_path: str, list_dir: bool = True,
                         list_file: bool = True, suffix=None,
                         recursive: bool = False) -> Iterator[str]:
        """Names under the "folder" ``dir_path`` (relative to it, as
        mmengine's backends yield them); "folders" are common key
        prefixes.

        Raises:
            RemoteStorageError: the listing failed for good.
        """
        import obstore
        store, prefix = self._store(self.join_path(dir_path, '_'))
        prefix = prefix[:-1]  # 'key/_' -> 'key/': the folder's own prefix

        def listing() -> Tuple[list, list]:
            if recursive:
                objects = [o for chunk in obstore.list(store, prefix)
                           for o in chunk]
                return [], objects
            found = obstore.list_with_delimiter(store, prefix)
            return found['common_prefixes'], found['objects']

        folders, objects = _storing(dir_path, 'list', listing)
        if list_dir:
            for folder in sorted(folders):
                yield folder[len(prefix):].rstrip('/')
        if list_file:
            for obj in sorted(objects, key=lambda o: o['path']):
                name = obj['path'][len(prefix):]
                if suffix is None or name.endswith(suffix):
                    yield name

    def open_stream(self, filepath: str) -> BinaryIO:
        import obstore
        store, key = self._store(filepath)
        return io.BufferedReader(_Reader(obstore.open_reader(store, key)),
                                 1 << 20)

    @contextlib.contextmanager
    def get_local_path(self, filepath: str) -> Iterator[str]:
        """mmengine's contract (a temporary copy) for callers that need a
        path; mmavcl's readers use :func:`fetch_media` instead."""
        with tempfile.NamedTemporaryFile(
                suffix=os.path.splitext(filepath)[1], delete=False) as f:
            f.write(self.get(filepath))
        try:
            yield f.name
        finally:
            os.remove(f.name)


register_backend('object_store', ObjectStoreBackend, force=True,
                 prefixes=['s3', 'gs'])
# mmengine's CheckpointHook and LoggerHook also infer a deprecated FileClient
# from their out_dir, whose own table gives s3:// to Petrel (an ImportError
# without petrel_client, at the start of training). mmengine 0.10.7's
# FileClient.register_backend(force=True) drops the cached clients of a
# prefix it overrides but never stores the new backend, hence the table.
FileClient.register_backend('object_store', ObjectStoreBackend, force=True)
for _prefix in ('s3', 'gs'):
    FileClient._prefix_to_backends[_prefix] = ObjectStoreBackend
register_backend('http', TimeoutHTTPBackend, force=True,
                 prefixes=['http', 'https'])
