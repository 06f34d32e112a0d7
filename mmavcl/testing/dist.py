"""Helpers for tests that launch real multi-process runs."""
import socket
import time
from typing import Callable, Sequence

__all__ = ['free_port', 'run_ranks']


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a
    rendezvous (``MASTER_PORT``) of processes the test starts."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_ranks(fn: Callable, args: Sequence = (), nprocs: int = 2,
              timeout: float = 240) -> None:
    """Run ``fn(rank, *args)`` in ``nprocs`` spawned processes and wait
    for them; raise (a rank's own error is re-raised) when one fails, or
    :class:`TimeoutError` after killing them when they have not finished
    in ``timeout`` seconds: a rank that waits in a collective the others
    never join hangs for good."""
    import torch.multiprocessing as mp
    ctx = mp.start_processes(fn, args=tuple(args), nprocs=nprocs,
                             join=False, start_method='spawn')
    deadline = time.monotonic() + timeout
    while not ctx.join(timeout=2):
        if time.monotonic() > deadline:
            for proc in ctx.processes:
                proc.kill()
            raise TimeoutError(f'a rank did not finish in {timeout:g} s: '
                               'one waits in a collective')
