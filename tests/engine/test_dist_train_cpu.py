"""`bash tools/dist_train.sh CONFIG 2` on CPU: gloo DDP, checkpoints, resume.
"""
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch

import engine_toys as T


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_dist_train_two_cpu_ranks_then_resume_auto(tmp_path):
    work = str(tmp_path / 'work')
    cfg = T.toy_cfg(work, by_epoch=False, max_iters=6, ckpt_interval=3,
                    batch_size=2, sampler='InfiniteSampler',
                    custom_hooks=[dict(type='DumpRankWeightsHook')])
    config = T.write_cfg(str(tmp_path / 'toy_dist.py'), cfg)
    env = T.subprocess_env()
    env.update(PYTHON=sys.executable, PORT=str(T.free_port()))
    res = subprocess.run(
        ['bash', osp.join(T.REPO, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', work], env=env, capture_output=True, text=True,
        timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    for name in ('iter_3.pth', 'iter_6.pth', 'last_checkpoint'):
        assert osp.exists(osp.join(work, name)), name
    w0 = torch.load(osp.join(work, 'rank0.pth'))
    w1 = torch.load(osp.join(work, 'rank1.pth'))
    # DDP keeps parameters (and the EMA copy built from them) identical;
    # the toy's queue holds each rank's own keys (it does not all-gather)
    for k in w0:
        if k != 'queue':
            assert torch.equal(w0[k], w1[k]), k
    ck = torch.load(osp.join(work, 'iter_6.pth'), weights_only=False)
    for k, v in ck['state_dict'].items():
        if k != 'queue':
            assert torch.equal(v, w0[k]), k
    state = ck['meta']['mmavcl_resume']
    # both ranks' RNG states were gathered into rank 0's checkpoint
    assert state['world_size'] == 2 and len(state['rng']) == 2

    res = subprocess.run(
        [sys.executable, osp.join(T.REPO, 'tools', 'train.py'), config,
         '--work-dir', work, '--resume', 'auto', '--cfg-options',
         'train_cfg.max_iters=8', 'log_level=INFO'], env=T.subprocess_env(),
        capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert 'resumed epoch: 0, iter: 6' in out
    ck = torch.load(osp.join(work, 'iter_8.pth'), weights_only=False)
    assert ck['meta']['iter'] == 8


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_channels_last_weights_converted_before_ddp(tiny_toy_av, tmp_path):
    """With ``ChannelsLast3dHook``, ``AVRunner`` converts the weights before
    DDP is built, so DDP's gradient buckets have the channels-last layout:
    no "Grad strides do not match bucket view strides" copy (converting in
    the hook, after wrapping, gave that warning on both ranks)."""
    res, out, setup, _ = T.dist_train_vclr_toy(
        tmp_path, tiny_toy_av, 2,
        "extra_hooks = [dict(type='ChannelsLast3dHook')]",
        ['train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
         'default_hooks.checkpoint.save_last=False'], timeout=240)
    assert res.returncode == 0, out[-3000:]
    assert setup['wrapper'] == 'MMDistributedDataParallel'
    assert setup['world_size'] == 2 and setup['channels_last_5d']
    assert 'bucket view strides' not in out
