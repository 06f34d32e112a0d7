"""Fixtures shared across test folders."""
import os.path as osp
import sys

import pytest

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
