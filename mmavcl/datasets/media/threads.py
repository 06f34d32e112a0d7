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

__all__ = ['MAX_SHARED_THREADS', 'shared_decoder_threads']

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


def shared_decoder_threads() -> int:
    """Decoder threads for one PyAV read in this process: the usable cores
    divided among the node's loader processes, 1 to
    :data:`MAX_SHARED_THREADS`.

    The loader processes are this DataLoader's workers (or the process
    itself with ``num_workers=0``) times the training processes on the
    node (``LOCAL_WORLD_SIZE``, which ``torchrun`` sets; 1 without it).
    """
    from torch.utils.data import get_worker_info
    info = get_worker_info()
    workers = info.num_workers if info is not None else 1
    ranks = max(1, int(os.environ.get('LOCAL_WORLD_SIZE', '1')))
    return max(1, min(MAX_SHARED_THREADS,
                      _usable_cores() // (workers * ranks)))
