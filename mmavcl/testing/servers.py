"""Real servers on loopback for tests of remote reading: a plain HTTP file
server (the standard library's ``http.server`` in a thread), a small
S3-protocol subset with fault injection (:func:`serve_s3`), moto's S3
server (:func:`serve_moto`, a full S3 implementation) and a proxy in front
of one that refuses uploads (:func:`failing_uploads`)."""
import contextlib
import functools
import http.client
import os
import threading
import urllib.parse
from http.server import (BaseHTTPRequestHandler, SimpleHTTPRequestHandler,
                         ThreadingHTTPServer)
from typing import Dict, Iterator, List, Optional, Sequence, Set, Type

__all__ = ['serve_directory', 'serve_s3', 'serve_moto', 'failing_uploads',
           's3_client_env', 'serve_s3_to_env']


class _QuietHandler(SimpleHTTPRequestHandler):

    #: bytes the first response for each path gets before the connection
    #: is dropped (None: never)
    drop_after: Optional[int] = None
    dropped: Set[str] = set()
    #: paths whose request is read and never answered, until shutdown
    stall: Set[str] = set()
    released: Optional[threading.Event] = None

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        if self.path in self.stall:
            self.released.wait()
            return
        super().do_GET()

    def copyfile(self, source, outputfile) -> None:
        if self.drop_after is None or self.path in self.dropped:
            return super().copyfile(source, outputfile)
        self.dropped.add(self.path)
        # Content-Length announced the whole file: the client sees the
        # connection end early, as when a server dies mid-response
        outputfile.write(source.read(self.drop_after))
        outputfile.flush()
        self.close_connection = True


@contextlib.contextmanager
def _serve(handler: Type[SimpleHTTPRequestHandler], root: str,
           **attributes) -> Iterator[str]:
    """Serve ``root`` with a subclass of ``handler`` whose class attributes
    are ``attributes`` (a fresh class per server, so two servers never
    share state such as ``_QuietHandler.dropped``), from a thread on
    127.0.0.1 and a free port; yields the base URL (no trailing slash)."""
    handler = type('Handler', (handler, ), attributes)
    server = ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(handler, directory=root))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def serve_directory(root: str, drop_after: Optional[int] = None,
                    stall: Sequence[str] = ()) -> Iterator[str]:
    """Serve the files under ``root`` over HTTP on 127.0.0.1 (a free port)
    while the context lasts; yields the base URL (no trailing slash).

    Args:
        drop_after: If given, the first response for each path stops after
            this many bytes and the connection is closed (a connection lost
            mid-stream); later requests are served whole.
        stall: URL paths (``'/x.wav'``) whose requests are accepted and
            never answered while the server runs: a stalled server.
    """
    released = threading.Event()
    with _serve(_QuietHandler, root, drop_after=drop_after, dropped=set(),
                stall=set(stall), released=released) as url:
        try:
            yield url
        finally:
            # stalled requests return before the server joins its threads
            released.set()


class _S3Handler(SimpleHTTPRequestHandler):
    """Path-style S3 GET/HEAD of ``/<bucket>/<key>`` over a folder of
    buckets: only what reading needs (whole objects and byte ranges). A
    request must be SigV4-signed with ``access_key`` (its credential
    scope is checked, the signature itself is not), so a test shows that
    credentials reached the client."""

    access_key = 'testing'

    def log_message(self, *args) -> None:
        pass

    def _authorised(self) -> bool:
        auth = self.headers.get('Authorization', '')
        if f'Credential={self.access_key}/' not in auth:
            self._error(403, 'AccessDenied')
            return False
        return True

    def _error(self, code: int, name: str) -> None:
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{name}'
                f'</Code><Message>{name}</Message></Error>').encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/xml')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _object(self, head: bool) -> None:
        import email.utils
        import urllib.parse
        if not self._authorised():
            return
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        full = os.path.normpath(os.path.join(self.directory,
                                             path.lstrip('/')))
        if not full.startswith(os.path.abspath(self.directory)) or \
                not os.path.isfile(full):
            return self._error(404, 'NoSuchKey')
        size = os.path.getsize(full)
        start, end = 0, size - 1
        rng = self.headers.get('Range')
        if rng and rng.startswith('bytes='):
            a, _, b = rng[6:].partition('-')
            start, end = int(a), min(int(b) if b else size - 1, size - 1)
        self.send_response(206 if rng else 200)
        self.send_header('Content-Length', str(end - start + 1))
        self.send_header('ETag', f'"{size:x}-{int(os.path.getmtime(full))}"')
        self.send_header('Last-Modified', email.utils.formatdate(
            os.path.getmtime(full), usegmt=True))
        self.send_header('Accept-Ranges', 'bytes')
        if rng:
            self.send_header('Content-Range', f'bytes {start}-{end}/{size}')
        self.end_headers()
        if not head:
            # only the requested range is read: a client streaming a large
            # shard in ranged reads must not cost a whole read per range
            with open(full, 'rb') as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        self._object(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._object(head=True)


@contextlib.contextmanager
def serve_s3(root: str, access_key: str = 'testing') -> Iterator[str]:
    """An S3-compatible endpoint (path style, GET/HEAD with ranges) on
    127.0.0.1 serving each folder of ``root`` as a bucket; yields the
    endpoint URL for ``AWS_ENDPOINT_URL`` / ``backend_args``.

    Its own few lines of the protocol, because tests need what moto does
    not do: it checks the access key, and it can be stopped or cut at
    will. :func:`serve_moto` is the full S3 implementation the readers are
    also tested against."""
    with _serve(_S3Handler, root, access_key=access_key) as url:
        yield url


def s3_client_env(endpoint: str, access_key: str) -> Dict[str, str]:
    """The standard ``AWS_*`` variables that point the object-store reader
    (obstore) at ``endpoint`` with ``access_key`` (any secret, region
    us-east-1), for ``os.environ`` or a subprocess."""
    return dict(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID=access_key,
                AWS_SECRET_ACCESS_KEY='secret', AWS_REGION='us-east-1')


@contextlib.contextmanager
def serve_s3_to_env(root: str, monkeypatch,
                    access_key: str = 'testing') -> Iterator[str]:
    """:func:`serve_s3` with this process's object-store reader pointed at
    it through ``monkeypatch`` (pytest's fixture: the ``AWS_*`` variables
    of :func:`s3_client_env`, and no retries, so that a refused request
    fails at once); yields the endpoint URL."""
    from ..datasets.media import remote
    with serve_s3(root, access_key=access_key) as endpoint:
        for name, value in s3_client_env(endpoint, access_key).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(remote, 'FETCH_RETRIES', 0)
        yield endpoint


@contextlib.contextmanager
def serve_moto(root: str, access_key: str = 'testing') -> Iterator[str]:
    """moto's S3 server (``ThreadedMotoServer``) on 127.0.0.1 and a free
    port, with every folder of ``root`` uploaded as a bucket of the same
    name (files under their relative paths); yields the endpoint URL.

    Unlike :func:`serve_s3` it is an S3 implementation in full (SigV4,
    ranges, errors as S3 returns them) and accepts any credentials."""
    import boto3
    from moto.server import ThreadedMotoServer

    from .dist import free_port
    port = free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port,
                                verbose=False)
    server.start()
    endpoint = f'http://127.0.0.1:{port}'
    try:
        client = boto3.client('s3', endpoint_url=endpoint,
                              region_name='us-east-1',
                              aws_access_key_id=access_key,
                              aws_secret_access_key='unused')
        for bucket in sorted(os.listdir(root)):
            top = os.path.join(root, bucket)
            if not os.path.isdir(top):
                continue
            client.create_bucket(Bucket=bucket)
            for folder, _, files in os.walk(top, followlinks=True):
                for name in files:
                    path = os.path.join(folder, name)
                    client.upload_file(path, bucket,
                                       os.path.relpath(path, top))
        yield endpoint
    finally:
        server.stop()


class _FailingUploadsProxy(BaseHTTPRequestHandler):
    """Relays every request to ``upstream``, except that the first
    ``budget[0]`` uploads (PUT/POST; every one when ``None``) are answered
    ``503 SlowDown``, as S3 answers under load; their paths go to
    ``refused``, those of the uploads relayed to ``stored``."""

    upstream: str = ''
    budget: List[Optional[int]] = [0]
    refused: List[str] = []
    stored: List[str] = []

    def log_message(self, *args) -> None:
        pass

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        if self.command in ('PUT', 'POST') and (
                self.budget[0] is None or self.budget[0] > 0):
            if self.budget[0] is not None:
                self.budget[0] -= 1
            self.refused.append(self.path)
            error = b'<Error><Code>SlowDown</Code></Error>'
            self.send_response(503)
            self.send_header('Content-Length', str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        if self.command in ('PUT', 'POST'):
            self.stored.append(self.path)
        target = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname, target.port,
                                          timeout=60)
        try:
            # the Host header travels unchanged: it is part of the request
            # the client signed
            conn.request(self.command, self.path, body, dict(self.headers))
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ('transfer-encoding', 'connection',
                                    'content-length'):
                self.send_header(name, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _relay  # noqa: N815


@contextlib.contextmanager
def failing_uploads(endpoint: str, failures: Optional[int]
                    ) -> Iterator[Dict]:
    """A proxy on 127.0.0.1 in front of the S3 ``endpoint`` (e.g.
    :func:`serve_moto`'s) whose first ``failures`` uploads (PUT/POST; all
    of them for ``None``) fail with ``503 SlowDown`` and reach nothing;
    every other request goes through.

    Yields:
        ``{'endpoint': proxy URL, 'refused': [URL paths of the refused
        uploads], 'stored': [those of the uploads passed on]}``.
    """
    refused: List[str] = []
    stored: List[str] = []
    handler = type('Handler', (_FailingUploadsProxy, ), dict(
        upstream=endpoint, budget=[failures], refused=refused,
        stored=stored))
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield dict(endpoint=f'http://127.0.0.1:{server.server_address[1]}',
                   refused=refused, stored=stored)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
