"""decord is optional (the ``decord`` extra): in a process where
``import decord`` fails, as on aarch64 Linux or macOS arm64 where it has
no wheels, the demo config trains on PyAV, an explicit
``backend='decord'`` is served by PyAV with one warning, and the pipeline
benchmark skips its decord rows with a reason.

decord is blocked with ``sys.modules['decord'] = None`` before anything
runs (``import decord`` then raises ImportError, in the DataLoader's forked
workers too)."""
import os
import os.path as osp
import subprocess
import sys
from typing import List

import pytest

from mmavcl.testing import make_toy_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py'
WARNING = "backend='decord' was asked for but decord is not installed"
# `python SCRIPT ARGS` with decord hidden (the script's folder first on
# sys.path, as python puts it)
_BLOCK = ("import os, runpy, sys; sys.modules['decord'] = None; "
          'sys.argv = sys.argv[1:]; '
          'sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0]))); '
          "runpy.run_path(sys.argv[0], run_name='__main__')")


def run_without_decord(script: str, args: List[str], cwd: str):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-c', _BLOCK, script] + args,
                          cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def toy_dir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp('nodecord')
    make_toy_data(root)
    return str(root)


def test_the_block_really_hides_decord(toy_dir):
    probe = osp.join(toy_dir, 'probe.py')
    with open(probe, 'w') as f:
        f.write('from mmavcl.datasets.media import decord_available\n'
                'from mmavcl.datasets.transforms import VideoInit\n'
                'print(decord_available(), VideoInit().backend)\n')
    out = run_without_decord(probe, [], toy_dir)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ['False', 'pyav']
    assert WARNING not in out.stderr  # nothing asked for decord


@pytest.mark.parametrize('explicit', [False, True],
                         ids=['default-backend', 'backend=decord'])
def test_demo_trains_on_pyav(toy_dir, explicit):
    opts = ['train_dataloader.batch_size=2', 'train_cfg.max_epochs=1',
            'train_dataloader.num_workers=1']
    if explicit:
        opts.append('train_dataloader.dataset.pipeline.0.backend=decord')
    work = osp.join(toy_dir, f'work_{explicit}')
    out = run_without_decord(
        osp.join(ROOT, 'tools', 'train.py'),
        [osp.join(ROOT, DEMO), '--work-dir', work, '--cfg-options'] + opts,
        toy_dir)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Epoch(train) [1][2/2]' in log
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    assert log.count(WARNING) == (1 if explicit else 0), log[-4000:]


def test_pipeline_benchmark_skips_decord_rows(toy_dir):
    tiny = ['--num-videos', '1', '--iters', '2', '--workers', '0',
            '--rounds', '1', '--keyints', '8', '--duration', '1.5',
            '--size', '64x48', '--fps', '16', '--pipelines', 'vclr_segments']
    out = run_without_decord(
        osp.join(ROOT, 'benchmarks', 'benchmark_pipeline.py'), tiny, toy_dir)
    assert out.returncode == 0, out.stderr[-4000:]
    skips = [ln for ln in out.stdout.splitlines()
             if ln.startswith('skipping')]
    assert skips[0] == ('skipping the decode-floor comparisons: decord is '
                        'not installed')
    assert skips[1].startswith('skipping the MMAction2 comparisons: ')
    assert 'vs decode floor' not in out.stdout
    assert 'vs mmaction2' not in out.stdout
    assert 'vclr_segments (keyint 8, 0 workers): ' in out.stdout
    assert 'samples/s' in out.stdout
