"""Helpers for tests that launch real multi-process runs."""
import os
import socket
import time
from typing import Callable, Sequence

__all__ = ['free_port', 'run_ranks', 'run_script_ranks']


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


def _script_rank(rank: int, script: str, argvs: Sequence[Sequence[str]],
                 ports: Sequence[int], nprocs: int) -> None:
    import torch

    from .scripts import load_script

    # the environment torchrun gives a rank (tools/torchrun.sh); one
    # intra-op thread per rank, as the toy commands run (OMP_NUM_THREADS=1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(nprocs), LOCAL_WORLD_SIZE=str(nprocs),
                      MASTER_ADDR='127.0.0.1', OMP_NUM_THREADS='1')
    torch.set_num_threads(1)
    main = load_script(script).main
    for argv, port in zip(argvs, ports):
        os.environ['MASTER_PORT'] = str(port)
        main(list(argv))


def run_script_ranks(script: str, argvs: Sequence[Sequence[str]],
                     nprocs: int = 2, timeout: float = 900) -> None:
    """Run ``main(argv)`` of a script (``'tools/train.py'``) for each of
    ``argvs`` in turn, on ``nprocs`` spawned ranks with the environment
    torchrun gives them, as ``bash tools/torchrun.sh NPROCS SCRIPT ARGV``
    would run each (``argv`` names ``--launcher pytorch``).

    One pair of processes runs them all: the imports (about 5 s of CPU a
    rank) are paid once instead of once per command. Every command gets
    its own rendezvous port; the script closes its process group at the
    end (``close_distributed``). Errors and hangs as in :func:`run_ranks`.
    """
    ports: list = []
    while len(ports) < len(argvs):  # distinct, so no store meets the last
        port = free_port()
        if port not in ports:
            ports.append(port)
    run_ranks(_script_rank, (script, [list(a) for a in argvs], ports, nprocs),
              nprocs=nprocs, timeout=timeout)
