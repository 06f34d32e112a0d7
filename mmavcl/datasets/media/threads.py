"""FFmpeg decoder threads for the data pipeline's PyAV reads.

Extra threads only pay while cores are idle. Two threads cost 4-15 % more
CPU time per sample than one for every kind of file measured (the decord
reader's hand-offs and an H.264 MP4), which is throughput lost once every
core is busy (as many loader workers as cores); what they buy is a
sample's latency, from an idle core only
(``benchmarks/benchmark_decode_threads.py``, ``docs/benchmarks.md``,
"Decoder threads"). FFmpeg's own count (``min(cores + 1, 16)`` per
decoder) times 8 workers per GPU oversubscribes any node. So a loader
process gets a second thread only where the node has a core for it.
"""
import os
import re
from typing import List, Mapping, Optional

__all__ = ['MAX_SHARED_THREADS', 'shared_decoder_threads',
           'training_processes_on_node']

#: the most threads :func:`shared_decoder_threads` gives a decoder: 3
#: (FFmpeg's auto on 2 cores) cost more CPU time than 2 for 6 of 7 kinds,
#: and every frame thread more decodes frames past a clip's end that are
#: thrown away (a frame comes out ``threads - 1`` packets late); more than
#: 3 was not measured
MAX_SHARED_THREADS = 2


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, as FFmpeg counts
    them)."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _count(env: Mapping[str, str], name: str) -> int:
    """``env[name]`` as a non-negative integer.

    Raises:
        ValueError: it is not one, naming the variable.
    """
    value = env[name]
    if not value.strip().isdigit():
        raise ValueError(f'{name}={value!r}: expected a whole number')
    return int(value)


def _expand_slurm_counts(name: str, value: str) -> List[int]:
    """Slurm's compressed per-node counts (``'8(x2),4'``) as one count per
    node (``[8, 8, 4]``).

    Raises:
        ValueError: ``value`` is not in that form, naming the variable.
    """
    counts: List[int] = []
    for item in value.split(','):
        match = re.fullmatch(r'\s*(\d+)(?:\(x(\d+)\))?\s*', item)
        if match is None:
            raise ValueError(
                f'{name}={value!r}: expected per-node task counts such as '
                '"8", "8(x2)" or "4,2"')
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def training_processes_on_node(
        environ: Optional[Mapping[str, str]] = None) -> int:
    """The training processes on this node, from the launcher's variables
    in ``environ`` (``os.environ`` by default); 1 without any.

    In order: ``LOCAL_WORLD_SIZE`` (``torchrun``); under Slurm, which sets
    no ``LOCAL_WORLD_SIZE`` (``tools/slurm_train.sh``, any ``srun ...
    --launcher slurm``), this node's entry of ``SLURM_STEP_TASKS_PER_NODE``
    or ``SLURM_TASKS_PER_NODE`` (``'8(x2),4'``: 8 on nodes 0 and 1, 4 on
    node 2; the node is ``SLURM_NODEID``), else
    ``SLURM_NTASKS_PER_NODE``. The per-node lists come first: they count
    the tasks actually placed, where ``--ntasks-per-node`` is a maximum.

    Raises:
        ValueError: a variable that is set does not parse, naming it.
    """
    env = os.environ if environ is None else environ
    if env.get('LOCAL_WORLD_SIZE'):
        return max(1, _count(env, 'LOCAL_WORLD_SIZE'))
    for name in ('SLURM_STEP_TASKS_PER_NODE', 'SLURM_TASKS_PER_NODE'):
        if not env.get(name):
            continue
        counts = _expand_slurm_counts(name, env[name])
        node = _count(env, 'SLURM_NODEID') if env.get('SLURM_NODEID') \
            else 0
        if not 0 <= node < len(counts):
            raise ValueError(
                f'SLURM_NODEID={node} has no entry in {name}='
                f'{env[name]!r} ({len(counts)} node(s))')
        return max(1, counts[node])
    if env.get('SLURM_NTASKS_PER_NODE'):
        return max(1, _count(env, 'SLURM_NTASKS_PER_NODE'))
    return 1


def shared_decoder_threads() -> int:
    """Decoder threads for one PyAV read in this process: the usable cores
    divided among the node's loader processes, 1 to
    :data:`MAX_SHARED_THREADS`.

    The loader processes are this DataLoader's workers (or the process
    itself with ``num_workers=0``) times the training processes on the
    node (:func:`training_processes_on_node`: ``LOCAL_WORLD_SIZE`` under
    ``torchrun``, Slurm's task counts under ``srun``; 1 without either).
    """
    from torch.utils.data import get_worker_info
    info = get_worker_info()
    workers = info.num_workers if info is not None else 1
    ranks = training_processes_on_node()
    return max(1, min(MAX_SHARED_THREADS,
                      _usable_cores() // (workers * ranks)))
