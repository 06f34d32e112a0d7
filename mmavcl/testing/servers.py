"""Real servers on loopback for tests of remote reading: a plain HTTP file
server (the standard library's ``http.server`` in a thread)."""
import contextlib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

__all__ = ['serve_directory']


class _QuietHandler(SimpleHTTPRequestHandler):

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serve_directory(root: str) -> Iterator[str]:
    """Serve the files under ``root`` over HTTP on 127.0.0.1 (a free port)
    while the context lasts; yields the base URL (no trailing slash)."""
    handler = functools.partial(_QuietHandler, directory=root)
    server = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
