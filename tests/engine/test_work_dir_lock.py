"""One training run per work dir, and no stale lock after a kill.

A second ``tools/train.py`` into the work dir of a live run fails fast and
names the holder; ``tools/test.py`` is allowed alongside (it writes no
checkpoints); after the holder is SIGKILLed a new run starts and removes the
temporary files a killed checkpoint save leaves, and only those. The holder
is a subprocess (the lock is between processes, and it is killed); the
others run the tools' ``main`` in this process.
"""
import json
import os
import os.path as osp
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

import engine_toys as T
from mmavcl.testing import load_script
from mmavcl.engine.checkpointing import (LOCK_NAME, WorkDirLock,
                                         WorkDirLockedError)

TRAIN = osp.join(T.REPO, 'tools', 'train.py')
TEST = osp.join(T.REPO, 'tools', 'test.py')
STALE = ['.iter_4.pth.tmp-4242', '.last_checkpoint.ab_cd123.tmp']
# look alike, but not names a save leaves: never touched
KEEP = ['.notes.tmp', 'iter_4.pth.tmp-4242', '.iter_4.pth.tmp-42x',
        'my.last_checkpoint.abcdefgh.tmp']


def _wait_for_lock_holder(path: str, proc: subprocess.Popen,
                          log: str) -> dict:
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError('first run exited early:\n' +
                                 open(log).read()[-3000:])
        try:
            with open(path) as f:
                info = json.load(f)
            if info.get('pid') == proc.pid:
                return info
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise AssertionError('the first run never took the lock')


def test_second_writer_refused_test_allowed_sigkill_frees(tmp_path):
    work = tmp_path / 'work'
    slow = T.write_cfg(str(tmp_path / 'slow.py'), T.toy_cfg(
        'unused', by_epoch=False, max_iters=100000, ckpt_interval=100000,
        custom_hooks=[dict(type='SlowHook', seconds=0.2)]))
    cfg = T.toy_cfg('unused', by_epoch=False, max_iters=2, ckpt_interval=2,
                    validate=True)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_cfg, cfg.test_evaluator = dict(), dict(type='ToyMeanNorm')
    quick = T.write_cfg(str(tmp_path / 'quick.py'), cfg)
    env = T.subprocess_env()
    log = str(tmp_path / 'first.log')
    with open(log, 'w') as out:
        first = subprocess.Popen(
            [sys.executable, TRAIN, slow, '--work-dir', str(work)],
            env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        info = _wait_for_lock_holder(str(work / LOCK_NAME), first, log)
        assert info['host'] == socket.gethostname()
        for name in STALE + KEEP:
            (work / name).write_bytes(b'x')

        start = time.time()
        with pytest.raises(WorkDirLockedError) as second:
            load_script(TRAIN).main([quick, '--work-dir', str(work),
                                     *T.new_experiment_name()])
        assert (f'work dir {work} is in use by another training run (pid '
                f'{first.pid} on host {socket.gethostname()}') in str(
                    second.value), str(second.value)
        # refused before it trained or touched anything
        assert time.time() - start < 120
        assert not (work / 'iter_2.pth').exists()
        assert all((work / n).exists() for n in STALE + KEEP)

        # evaluating alongside a live training run is allowed
        weights = str(tmp_path / 'weights.pth')
        torch.save({'state_dict': T.ToyMoCo().state_dict()}, weights)
        load_script(TEST).main([quick, weights, '--work-dir', str(work),
                                *T.new_experiment_name()])
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()

    load_script(TRAIN).main([quick, '--work-dir', str(work),
                             *T.new_experiment_name()])
    assert (work / 'iter_2.pth').exists()
    # in the logs of the work dir's runs: only this one removes files
    assert 'Removed 2 temporary file(s) left by an interrupted checkpoint ' \
        'save' in T.log_text(str(work))
    assert not any((work / n).exists() for n in STALE)
    assert all((work / n).exists() for n in KEEP)


def test_lock_is_held_for_train_and_released_on_a_crash(tmp_path):
    work = str(tmp_path / 'work')
    holder = WorkDirLock(work)
    assert holder.acquire()
    try:
        runner = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=2))
        with pytest.raises(WorkDirLockedError,
                           match=rf'in use .*pid {os.getpid()} on'):
            runner.train()
    finally:
        holder.release()
    # a run that crashes gives the lock back (in-process: no exit to do it)
    runner = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=4,
                                      custom_hooks=[dict(type='CrashHook',
                                                         at_iter=2)]))
    with pytest.raises(T.SimulatedCrash):
        runner.train()
    again = WorkDirLock(work)
    assert again.acquire()
    again.release()
