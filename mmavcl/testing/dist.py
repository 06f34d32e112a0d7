"""Helpers for tests that launch real multi-process runs."""
import socket

__all__ = ['free_port']


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a
    rendezvous (``MASTER_PORT``) of processes the test starts."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]
