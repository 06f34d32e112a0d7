"""The VCLR toy config through `bash tools/dist_train.sh CONFIG 2` on CPU
(gloo, real toy videos), then `--resume`: queues and their pointers, the
momentum encoder and the iteration count continue from the checkpoint."""
import glob
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'vclr', 'vclr_r3d-18_toy.py')
KEYS_PER_ITER = 3 * 4 * 2      # K positives x batch 4 x 2 ranks
QLEN = 64


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _train(work, data, epochs, resume=False):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()),
               OMP_NUM_THREADS='1')
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), CONFIG, '2',
           '--work-dir', work, '--cfg-options',
           f'train_dataloader.dataset.data_root={data}',
           'train_dataloader.dataset.indices=8',
           f'train_cfg.max_epochs={epochs}', 'default_hooks.logger.interval=1']
    if resume:
        cmd.append('--resume')
    res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout + res.stderr


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_vclr_toy_dist_train_and_resume(tmp_path):
    data = str(tmp_path / 'toy')
    subprocess.run([sys.executable,
                    osp.join(ROOT, 'tools', 'data', 'make_toy_dataset.py'),
                    '--out', data, '--num-per-class', '3', '--val-ratio',
                    '0.01', '--workers', '1'], check=True,
                   capture_output=True, timeout=120)
    work = str(tmp_path / 'work')
    _train(work, data, epochs=2)           # 8 videos, 2 ranks x 4: 1 iter
    ck = torch.load(osp.join(work, 'epoch_2.pth'), weights_only=False)
    sd = ck['state_dict']
    assert int(sd['queue_inter.ptr']) == 2 * KEYS_PER_ITER % QLEN
    assert int(sd['queue_segment.ptr']) == 2 * 4 * 2
    assert any(k.startswith('momentum_encoder.ema.module.backbone')
               for k in sd)

    out = _train(work, data, epochs=3, resume=True)
    assert 'resumed epoch: 2, iter: 2' in out
    ck3 = torch.load(osp.join(work, 'epoch_3.pth'), weights_only=False)
    assert int(ck3['state_dict']['queue_inter.ptr']) == \
        3 * KEYS_PER_ITER % QLEN
    # rows written before the checkpoint survive the resume
    torch.testing.assert_close(ck3['state_dict']['queue_inter.queue'][8:48],
                               sd['queue_inter.queue'][8:48])
    rows = [json.loads(line) for f in glob.glob(
        osp.join(work, '*', 'vis_data', 'scalars.json')) for line in open(f)]
    logged = sorted((r['iter'], r['queue_ptr_inter']) for r in rows
                    if 'queue_ptr_inter' in r)
    assert [it for it, _ in logged] == [1, 2, 3]
    assert logged[2][1] == 3 * KEYS_PER_ITER % QLEN
    losses = [r for r in rows if 'loss' in r]
    assert all(torch.isfinite(torch.tensor(r['loss'])) for r in losses)
