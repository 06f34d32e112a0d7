"""NonFiniteLossGuardHook: a NaN sample must not corrupt weights/checkpoints.

The data set holds one real NaN sample (index 9) and the sampler does not
shuffle, so batch 3 of every epoch (iterations 3 and 9) has a NaN loss.
"""
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook

import engine_toys as T
from mmavcl.engine.hooks import NonFiniteLossError
from mmavcl.registry import HOOKS

NAN_ITERS = (3, 9)
# mmengine's warning when a parameter scheduler steps before the first
# optimizer step (the counter it wraps ``optimizer.step`` in is still 0)
_SCHEDULER_FIRST = r'call of `scheduler.step\(\)` before `optimizer.step\(\)`'


@HOOKS.register_module(force=True)
class SnapshotParamsHook(Hook):
    """Keeps a copy of every parameter after each iteration (in memory)."""

    priority = 'LOWEST'
    snapshots = {}

    def before_train(self, runner):
        SnapshotParamsHook.snapshots = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = getattr(runner.model, 'module', runner.model)
        SnapshotParamsHook.snapshots[runner.iter + 1] = {
            k: v.detach().clone() for k, v in model.named_parameters()}


def _cfg(tmp_path, action=None, **kw):
    hooks = [dict(type='SnapshotParamsHook')]
    if action:
        hooks.append(dict(type='NonFiniteLossGuardHook', action=action))
    return T.toy_cfg(str(tmp_path), shuffle=False, nan_index=9,
                     ckpt_interval=1, custom_hooks=hooks, **kw)


def _finite(state):
    return all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_stop_keeps_the_last_good_checkpoint(tmp_path):
    runner = T.build_runner(_cfg(tmp_path, 'stop'))
    with pytest.raises(NonFiniteLossError, match='iteration 3'):
        runner.train()
    # iteration 3 was never saved; iteration 2 is the last, and it is good
    assert not osp.exists(tmp_path / 'iter_3.pth')
    ck = torch.load(tmp_path / 'iter_2.pth', weights_only=False)
    assert _finite(ck['state_dict'])
    assert open(tmp_path / 'last_checkpoint').read().endswith('iter_2.pth')
    # the step was refused: the weights in memory are still finite
    model = runner.model
    assert _finite(dict(model.named_parameters()))
    log = T.log_text(str(tmp_path))
    assert 'iteration 3' in log and 'loss_nce=nan' in log and \
        'loss_reg=' in log


def test_without_the_guard_the_nan_reaches_weights_and_checkpoint(tmp_path):
    # the failure the guard prevents, on the same data
    T.build_runner(_cfg(tmp_path)).train()
    assert not _finite(torch.load(tmp_path / 'iter_3.pth',
                                  weights_only=False)['state_dict'])


@pytest.mark.parametrize('wrapper', ['OptimWrapper', 'AutocastOptimWrapper'])
def test_skip_refuses_the_step_and_goes_on(tmp_path, wrapper):
    cfg = _cfg(tmp_path, 'skip')
    cfg.optim_wrapper.type = wrapper
    runner = T.build_runner(cfg)
    runner.train()
    snaps = SnapshotParamsHook.snapshots
    assert sorted(snaps) == list(range(1, 13))
    for it in NAN_ITERS:  # parameters unchanged by the bad iteration
        for k in snaps[it]:
            assert torch.equal(snaps[it][k], snaps[it - 1][k]), (it, k)
    for it in (2, 4, 10):  # ... and changed by good ones
        assert any(not torch.equal(snaps[it][k], snaps[it - 1][k])
                   for k in snaps[it])
    ck = torch.load(tmp_path / 'iter_12.pth', weights_only=False)
    assert _finite(ck['state_dict'])
    for s in ck['optimizer']['state'].values():
        assert torch.isfinite(s['momentum_buffer']).all()
    hook = [h for h in runner.hooks if type(h).__name__ ==
            'NonFiniteLossGuardHook'][0]
    assert hook.num_skipped == 2
    log = T.log_text(str(tmp_path))
    assert 'iteration 3' in log and 'iteration 9' in log and \
        'optimizer step skipped' in log


def test_skip_drops_the_whole_accumulation_window(tmp_path):
    cfg = _cfg(tmp_path, 'skip')
    cfg.optim_wrapper.accumulative_counts = 2
    # iteration 1 only accumulates, and the per-iteration schedule steps
    # after it before any optimizer step, which mmengine points out
    with pytest.warns(UserWarning, match=_SCHEDULER_FIRST):
        T.build_runner(cfg).train()
    snaps = SnapshotParamsHook.snapshots
    # window (3, 4) holds the NaN: no optimizer update at 4 (the EMA copy,
    # updated in the good iteration 4's forward, may move); window (1, 2)
    # did update
    for k in snaps[4]:
        if k.startswith('encoder.'):
            assert torch.equal(snaps[4][k], snaps[2][k]), k
    assert any(not torch.equal(snaps[2][k], snaps[1][k]) for k in snaps[2])
    assert any(not torch.equal(snaps[6][k], snaps[4][k]) for k in snaps[6])


def test_skip_gives_up_after_too_many_consecutive_nans(tmp_path):
    cfg = T.toy_cfg(str(tmp_path), shuffle=False, by_epoch=False,
                    max_iters=6, sampler='InfiniteSampler',
                    custom_hooks=[dict(type='NonFiniteLossGuardHook',
                                       action='skip',
                                       max_consecutive_skips=2)])
    cfg.train_dataloader.dataset.scale = float('inf')
    # the refused first step leaves the schedule's first step without an
    # optimizer step before it, which mmengine points out
    with pytest.raises(NonFiniteLossError, match='3 consecutive'), \
            pytest.warns(UserWarning, match=_SCHEDULER_FIRST):
        T.build_runner(cfg).train()


def test_bad_action_is_a_clear_error():
    from mmavcl.engine.hooks import NonFiniteLossGuardHook
    with pytest.raises(ValueError, match="'stop' or 'skip'"):
        NonFiniteLossGuardHook(action='ignore')
