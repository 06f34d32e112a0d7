"""Crash-safe checkpoints: atomic writes, fallback on resume, safe pruning."""
import glob
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook

import engine_toys as T
from mmavcl.engine.checkpointing import (LOCK_NAME, checkpoint_candidates,
                                         checkpoint_problem,
                                         find_resumable_checkpoint)
from mmavcl.registry import HOOKS, METRICS


def _damage(path: str, how: str) -> None:
    if how == 'missing':  # last_checkpoint names a file that is gone
        os.remove(path)
        return
    data = open(path, 'rb').read()
    if how == 'truncated':
        data = data[:len(data) // 2]
    elif how == 'zero-byte':
        data = b''
    elif how == 'flipped-bytes':  # same size, payload corrupted
        mid = len(data) // 3
        data = data[:mid] + bytes(b ^ 0xFF for b in data[mid:mid + 64]) + \
            data[mid + 64:]
    with open(path, 'wb') as f:
        f.write(data)


@pytest.mark.parametrize('how', ['truncated', 'zero-byte', 'flipped-bytes',
                                 'missing'])
def test_resume_auto_skips_a_damaged_newest_checkpoint(tmp_path, how):
    work = str(tmp_path)
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=12,
                             sampler='InfiniteSampler',
                             ckpt_interval=4)).train()
    _damage(osp.join(work, 'iter_12.pth'), how)
    assert checkpoint_problem(osp.join(work, 'iter_12.pth')) is not None

    runner = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=14,
                                      sampler='InfiniteSampler',
                                      ckpt_interval=4, resume=True))
    runner.train()
    log = T.log_text(work)
    assert 'Skipping checkpoint' in log and 'iter_12.pth' in log
    assert 'Resuming from' in log and 'iter_8.pth' in log
    # it resumed from 8, so it re-trained 9..14 and rewrote iter_12.pth
    assert runner.iter == 14
    assert checkpoint_problem(osp.join(work, 'iter_12.pth')) is None
    assert torch.load(osp.join(work, 'iter_14.pth'),
                      weights_only=False)['meta']['iter'] == 14


def test_resume_auto_with_no_complete_checkpoint_is_an_error(tmp_path):
    work = str(tmp_path)
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=4,
                             sampler='InfiniteSampler',
                             ckpt_interval=2)).train()
    for p in glob.glob(osp.join(work, 'iter_*.pth')):
        _damage(p, 'truncated')
    with pytest.raises(RuntimeError, match='none is complete'):
        find_resumable_checkpoint(work)


def test_resume_explicit_damaged_path_names_the_file(tmp_path):
    work = str(tmp_path)
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=2,
                             sampler='InfiniteSampler',
                             ckpt_interval=2)).train()
    path = osp.join(work, 'iter_2.pth')
    _damage(path, 'truncated')
    r = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=4,
                                 sampler='InfiniteSampler', resume=True,
                                 load_from=path))
    with pytest.raises(RuntimeError, match='Cannot resume from .*iter_2.pth'):
        r.train()


def test_candidates_are_newest_first(tmp_path):
    for i, name in enumerate(['iter_2.pth', 'iter_10.pth', 'iter_4.pth']):
        p = tmp_path / name
        p.write_bytes(b'x')
        os.utime(p, ns=(10**9 * (i + 1), 10**9 * (i + 1)))
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_10.pth'))
    assert [osp.basename(p) for p in checkpoint_candidates(str(tmp_path))] \
        == ['iter_10.pth', 'iter_4.pth', 'iter_2.pth']


@HOOKS.register_module(force=True)
class FailNthSaveHook(Hook):
    """Raises inside the n-th checkpoint save (like a full disk would)."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def before_save_checkpoint(self, runner, checkpoint):
        self.calls += 1
        if self.calls == self.n:
            raise OSError(28, 'No space left on device')


def test_max_keep_ckpts_never_deletes_the_only_good_checkpoint(tmp_path):
    work = str(tmp_path)
    cfg = T.toy_cfg(work, by_epoch=False, max_iters=12,
                    sampler='InfiniteSampler', ckpt_interval=4,
                    max_keep_ckpts=1,
                    custom_hooks=[dict(type='FailNthSaveHook', n=2)])
    with pytest.raises(OSError, match='No space left'):
        T.build_runner(cfg).train()
    # mmengine's CheckpointHook deletes iter_4 before writing iter_8
    assert sorted(os.listdir(work)) == sorted(
        [d for d in os.listdir(work) if not d.endswith('.pth')] +
        ['iter_4.pth'])
    assert checkpoint_problem(osp.join(work, 'iter_4.pth')) is None
    assert open(osp.join(work, 'last_checkpoint')).read().endswith(
        'iter_4.pth')
    # and the run resumes from it; pruning still keeps exactly one
    r = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=12,
                                 sampler='InfiniteSampler',
                                 ckpt_interval=4, max_keep_ckpts=1,
                                 resume=True))
    r.train()
    assert sorted(glob.glob(osp.join(work, '*.pth'))) == [
        osp.join(work, 'iter_12.pth')]


@METRICS.register_module(force=True)
class RisingMetric(BaseMetric):
    """1, 2, 3, ... at each evaluation in the process: every validation
    is a new best (``rule='greater'``)."""

    evaluations = 0

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        RisingMetric.evaluations += 1
        return dict(rising=float(RisingMetric.evaluations))


def _best_cfg(work: str, fail_at: int):
    cfg = T.toy_cfg(work, by_epoch=False, max_iters=8, validate=True,
                    sampler='InfiniteSampler', ckpt_interval=4,
                    custom_hooks=[dict(type='FailNthSaveHook', n=fail_at)])
    cfg.val_evaluator = dict(type='RisingMetric')
    cfg.default_hooks.checkpoint.update(save_best='rising', rule='greater')
    return cfg


def _pth(work: str):
    return sorted(p for p in os.listdir(work) if p.endswith('.pth'))


def test_a_failed_best_save_keeps_the_previous_best(tmp_path):
    """Saves: iter_4, best_rising_iter_4, iter_4 again (its message hub
    names the new best), iter_8, then best_rising_iter_8 fails. mmengine
    removed the previous best before saving the new one."""
    work = str(tmp_path / 'failed')
    with pytest.raises(OSError, match='No space left'):
        T.build_runner(_best_cfg(work, fail_at=5)).train()
    assert _pth(work) == ['best_rising_iter_4.pth', 'iter_4.pth',
                          'iter_8.pth']
    assert checkpoint_problem(osp.join(work, 'best_rising_iter_4.pth')) \
        is None
    # a best save that succeeds replaces the previous one
    work = str(tmp_path / 'saved')
    T.build_runner(_best_cfg(work, fail_at=0)).train()
    assert _pth(work) == ['best_rising_iter_8.pth', 'iter_4.pth',
                          'iter_8.pth']


_WRITE_FAULT = r'''
import resource, signal, sys
sys.path[:0] = {paths!r}
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
import engine_toys as T
from mmavcl.registry import HOOKS

@HOOKS.register_module(force=True)
class FileSizeLimitHook(Hook):
    """From the 2nd save on, files may not grow past 2 kB: the kernel cuts
    the checkpoint write short with EFBIG, as a full disk would."""
    calls = 0
    def before_save_checkpoint(self, runner, checkpoint):
        FileSizeLimitHook.calls += 1
        if FileSizeLimitHook.calls == 2:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (2048, hard))

cfg = T.toy_cfg({work!r}, by_epoch=False, max_iters=12, ckpt_interval=4,
                sampler='InfiniteSampler',
                custom_hooks=[dict(type='FileSizeLimitHook')])
T.build_runner(cfg).train()
'''


def test_a_write_cut_short_never_leaves_a_partial_checkpoint(tmp_path):
    work = str(tmp_path / 'work')
    code = _WRITE_FAULT.format(paths=[T.REPO, T.HERE], work=work)
    res = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120, env=T.subprocess_env())
    assert res.returncode != 0 and 'File too large' in res.stderr, \
        res.stderr[-2000:]
    names = os.listdir(work)
    # no partial iter_8.pth, no temporary file left behind (the work dir
    # lock file stays: flock needs no cleanup, see test_work_dir_lock.py)
    assert [n for n in names if n.endswith('.pth')] == ['iter_4.pth']
    assert not [n for n in names if n.startswith('.') and n != LOCK_NAME]
    assert checkpoint_problem(osp.join(work, 'iter_4.pth')) is None
    assert find_resumable_checkpoint(work).endswith('iter_4.pth')


def test_a_runner_that_only_validates_saves_no_best(tmp_path):
    """``runner.val()`` on a fresh runner (no ``before_train``, so no file
    backend): without ``save_best`` the hook does nothing, as mmengine's.
    It raised ``AttributeError: ... no attribute 'file_backend'``."""
    cfg = T.toy_cfg(str(tmp_path / 'work'), validate=True)
    metrics = T.build_runner(cfg).val()
    assert set(metrics) == {'mean_norm'}
    assert not glob.glob(str(tmp_path / 'work' / '*.pth'))
