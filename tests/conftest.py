"""Fixtures shared across test folders.

The suite runs on the CPU on every machine, GPUs hidden, so that a GPU
workstation checks what CI checks (the CPU twins, bitwise resume, gloo
ranks; two ranks on one GPU cannot share NCCL). The CUDA paths are the
``cuda``-marked tests, run with the GPU visible by ``make test-gpu``
(``MMAVCL_TEST_CUDA=1 pytest -m cuda tests``).
"""
import os
import os.path as osp
import sys
import weakref

# before anything initialises CUDA; inherited by the tests' subprocesses
if os.environ.get('MMAVCL_TEST_CUDA') != '1':
    os.environ['CUDA_VISIBLE_DEVICES'] = ''

import pytest  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def tiny_toy_av(tmp_path_factory) -> str:
    """Root of a toy audio-visual set made once per session by
    ``tools/data/make_toy_dataset.py``: 2 videos of 2 s per class (1 train +
    1 val each, so 4 training videos). Read-only for tests."""
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    try:
        from make_toy_dataset import make_toy_dataset
    finally:
        sys.path.pop(0)
    root = str(tmp_path_factory.mktemp('tiny_toy_av') / 'toy_av')
    make_toy_dataset(root, num_per_class=2, duration=2.0, workers=1)
    return root


@pytest.fixture
def one_thread():
    """torch on one intra-op thread for the test: on the 2 shared cores a
    second thread spins against the other sessions (an LSTM's 60 steps:
    26 s with two threads, 1.3 s with one, measured under load 16)."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


#: DataLoader worker iterators made since the running test's setup
_LIVE_LOADER_ITERS: 'weakref.WeakSet' = weakref.WeakSet()


def _track_loader_iterators() -> None:
    """Record every multi-process DataLoader iterator in
    ``_LIVE_LOADER_ITERS`` (its ``__init__`` wrapped once per session)."""
    from torch.utils.data import dataloader
    cls = dataloader._MultiProcessingDataLoaderIter
    if getattr(cls, '_mmavcl_tracked', False):
        return
    init = cls.__init__

    def tracked_init(self, loader):
        _LIVE_LOADER_ITERS.add(self)
        init(self, loader)

    cls.__init__ = tracked_init
    cls._mmavcl_tracked = True


@pytest.fixture(autouse=True)
def _stop_leftover_loader_workers():
    """Stop the workers of the DataLoader iterators a test leaves behind
    (a crashed run's, an InfiniteSampler's, a persistent one's), as the
    end of a training process would. Left to the garbage collector, their
    shutdown waits 5 s per worker (torch's join timeout) inside whichever
    later test triggers the collection: 30 s of
    test_nonfinite_guard.py came from the 3 iterators of
    test_exact_resume.py's InfiniteSampler case."""
    if 'torch' in sys.modules:
        _track_loader_iterators()
    _LIVE_LOADER_ITERS.clear()
    yield
    for it in list(_LIVE_LOADER_ITERS):
        it._shutdown_workers()
    _LIVE_LOADER_ITERS.clear()
