"""The non-finite guard refuses a step whose gradient explodes under a finite
loss, before the step, so that no checkpoint holds the ruined weights.

``ToyRegressor`` fits ``y = 0`` on ``SpikyToyVectors`` (``engine_toys``);
the sampler does not shuffle and sample 9 is multiplied by ``spike``, so
batch 3 of every epoch (iterations 3 and 9) has a finite loss and a huge
gradient. With ``spike=1e12`` the loss is about 1e22 and the largest
gradient entry about 1e23 (finite in float32), but the total norm overflows
to inf.
"""
import copy
import glob
import os.path as osp
import re
import statistics

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch.utils._python_dispatch import TorchDispatchMode

import engine_toys as T
from mmavcl.engine.hooks import (ExplodingGradientError, NonFiniteLossError,
                                 NonFiniteLossGuard, NonFiniteLossGuardHook)
from mmavcl.registry import HOOKS

SPIKE_ITER = 3


@HOOKS.register_module(force=True)
class ParamsBeforeIterHook(Hook):
    """Copies the parameters before every iteration (1-based keys) and
    the total loss after it, independently of any checkpoint."""

    params: dict = {}
    losses: dict = {}
    grad_norms: list = []

    def before_train(self, runner):
        ParamsBeforeIterHook.params, ParamsBeforeIterHook.losses = {}, {}
        norms = ParamsBeforeIterHook.grad_norms = []

        def record(optimizer, args, kwargs):  # float64, before every step
            norms.append(float(torch.cat([
                p.grad.double().flatten() for group in optimizer.param_groups
                for p in group['params'] if p.grad is not None]).norm()))

        runner.optim_wrapper.optimizer.register_step_pre_hook(record)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = getattr(runner.model, 'module', runner.model)
        self.params[runner.iter + 1] = {
            k: v.detach().clone() for k, v in model.named_parameters()}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses[runner.iter + 1] = float(outputs['loss'].detach())


def _runner(tmp_path, spike: float = 1e12, nan_index=None, clip_grad=None,
            spike_index: int = 9, max_epochs: int = 2, resume: bool = False,
            load_from=None, custom_guard=None, **guard):
    """A runner of a config that inherits ``default_runtime.py``: its
    default guard, with the arguments ``guard`` merged in, and the guard
    config ``custom_guard`` in ``custom_hooks``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = T.toy_cfg(str(tmp_path / 'work'), shuffle=False, ckpt_interval=1,
                    lr=0.01, max_epochs=max_epochs, resume=resume,
                    load_from=load_from)
    cfg.model = dict(type='ToyRegressor')
    if clip_grad is not None:
        cfg.optim_wrapper.clip_grad = clip_grad
    cfg.train_dataloader.dataset.update(type='SpikyToyVectors', spike=spike,
                                        spike_index=spike_index,
                                        nan_index=nan_index)
    return T.build_runner_with_runtime(
        tmp_path, cfg,
        "\ncustom_hooks = [dict(type='ParamsBeforeIterHook')" +
        ('' if custom_guard is None else f', {custom_guard!r}') + "]\n"
        f"default_hooks['nonfinite_guard'] = {guard!r}\n")


def _state(path):
    return torch.load(path, weights_only=False)['state_dict']


def _log_text(work_dir):
    return '\n'.join(open(p).read()
                     for p in glob.glob(osp.join(work_dir, '*', '*.log')))


def test_default_guard_stops_before_an_inf_gradient_norm_step(tmp_path):
    runner = _runner(tmp_path)
    with pytest.raises(ExplodingGradientError) as info:
        runner.train()
    msg = str(info.value)
    assert msg.startswith('non-finite gradient norm inf (largest: net.')
    assert f'at iteration {SPIKE_ITER} (epoch 1, batch 3)' in msg
    assert 'The loss was finite' in msg
    # the files are context, not accused as 'on a batch of ...'
    assert 'on a batch of' not in msg
    assert 'the batch held 4 file(s): /data/videos/clip_008.mp4' in msg
    # the modules by gradient norm, largest first, with float64 values
    largest = msg.split('(largest: ')[1].split(')')[0].split(', ')
    names = [item.split(' ')[0] for item in largest]
    assert sorted(names) == ['net.0', 'net.2']
    assert all(1e15 < float(item.split(' ')[1]) < float('inf')
               for item in largest)
    # the loss of that iteration was finite: only the gradient tripped
    loss = float(msg.split('loss_mse=')[1].split('.', 1)[0] + '.' +
                 msg.split('loss_mse=')[1].split('.', 1)[1].split('. ')[0])
    assert 1e15 < loss < float('inf')
    work = tmp_path / 'work'
    assert sorted(osp.basename(p) for p in glob.glob(str(work / '*.pth'))) \
        == ['iter_1.pth', 'iter_2.pth']
    assert open(work / 'last_checkpoint').read().endswith('iter_2.pth')
    # the last checkpoint and the model in memory hold the weights from
    # before iteration 3, recorded independently
    before = ParamsBeforeIterHook.params[SPIKE_ITER]
    saved = _state(work / 'iter_2.pth')
    model = runner.model
    for k, v in before.items():
        assert torch.equal(saved[k], v), k
        assert torch.equal(model.state_dict()[k], v), k
    assert 'non-finite gradient norm inf' in _log_text(str(work))


def test_without_the_gradient_check_the_step_ruins_the_checkpoint(tmp_path):
    # the gap the check closes, on the same data: the loss guard lets the
    # finite-loss step through and iteration 3's checkpoint holds its result
    runner = _runner(tmp_path, check_grad_norm=False)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    assert not isinstance(info.value, ExplodingGradientError)
    blown = _state(tmp_path / 'work' / 'iter_3.pth')
    norm = torch.cat([v.flatten() for v in blown.values()]).double().norm()
    assert not norm < 1e6, norm


def test_nan_loss_message_gives_the_last_gradient_norms(tmp_path):
    # sample 9 is NaN, not spiked: iteration 3's loss is NaN, and the
    # message shows the norms of the two applied steps before it
    runner = _runner(tmp_path, spike=1.0, nan_index=9)
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    assert not isinstance(info.value, ExplodingGradientError)
    norms = ParamsBeforeIterHook.grad_norms
    assert len(norms) == 2
    assert 'Gradient norms of the last applied steps: ' + ', '.join(
        f'{n:.3g}' for n in norms) + ' (' in str(info.value)


def test_max_grad_norm_stops_a_finite_explosion(tmp_path):
    # spike 1e4: gradient norm ~1e7, finite; only the threshold catches it
    runner = _runner(tmp_path, spike=1e4, max_grad_norm=1000.0)
    with pytest.raises(ExplodingGradientError,
                       match=r'gradient norm \S+ above max_grad_norm=1000 '
                       r'\(largest: net\.\d [\d.e+]+, net\.\d [\d.e+]+\) at '
                       r'iteration 3 ') as info:
        runner.train()
    norm = float(str(info.value).split('gradient norm ')[1].split(' ')[0])
    assert 1e5 < norm < 1e10
    assert not osp.exists(tmp_path / 'work' / 'iter_3.pth')


def test_skip_refuses_the_exploding_step_and_goes_on(tmp_path):
    runner = _runner(tmp_path, spike=1e4, action='skip',
                     max_grad_norm=1000.0)
    runner.train()
    params = ParamsBeforeIterHook.params
    model = runner.model
    after = {k: v.detach() for k, v in model.named_parameters()}
    for it in (SPIKE_ITER, 9):  # refused: the next iteration starts equal
        nxt = params.get(it + 1, after)
        assert all(torch.equal(params[it][k], nxt[k]) for k in nxt), it
    assert not all(torch.equal(params[2][k], params[3][k]) for k in after)
    log = _log_text(str(tmp_path / 'work'))
    assert 'above max_grad_norm=1000' in log and \
        'optimizer step skipped' in log


def test_normal_training_is_unaffected(tmp_path):
    # no spike: the guarded run equals an unguarded one bit for bit, and
    # the loss falls. The relative check runs from step 2 with a ratio of
    # 3 (the largest norm of this run is 1.64x the median before it)
    guarded = _runner(tmp_path / 'a', spike=1.0, max_grad_norm=1000.0,
                      max_grad_norm_ratio=3, grad_norm_warmup=1)
    guarded.train()
    losses = dict(ParamsBeforeIterHook.losses)
    # the guard logs the norm of every step (mmengine logs it only with
    # clip_grad), equal to the one recorded independently
    logged = guarded.message_hub.get_scalar('train/grad_norm').data[0]
    assert logged == pytest.approx(ParamsBeforeIterHook.grad_norms,
                                   rel=1e-5)
    assert len(logged) == 12
    plain = _runner(tmp_path / 'b', spike=1.0, action='off')
    plain.train()
    assert losses == ParamsBeforeIterHook.losses
    for (k, v), (k2, v2) in zip(guarded.model.named_parameters(),
                                plain.model.named_parameters()):
        assert k == k2 and torch.equal(v, v2), k
    first, last = sum(list(losses.values())[:6]), \
        sum(list(losses.values())[-6:])
    assert last < 0.5 * first, losses


class CPUAmpOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` (its ``backward`` and ``step``) with
    a CPU ``GradScaler``: its constructor asserts an accelerator."""

    def __init__(self, init_scale: float, **kwargs):
        OptimWrapper.__init__(self, **kwargs)
        self._scale_update_param = None
        self.cast_dtype = None
        self.loss_scaler = torch.amp.GradScaler('cpu', init_scale=init_scale)


def _amp_step(max_grad_norm, grad: float, init_scale: float = 2.0**16,
              **ratio):
    """One guarded update of ``w`` whose unscaled gradient is ``grad``;
    returns (guard, w after, the scale after)."""
    w = nn.Parameter(torch.zeros(1))
    wrapper = CPUAmpOptimWrapper(
        init_scale, optimizer=torch.optim.SGD([w], lr=1.0))
    guard = NonFiniteLossGuard(wrapper, {id(w): 'head.w'},
                               max_grad_norm=max_grad_norm, **ratio)
    wrapper.update_params((w * grad).sum())
    return guard, float(w.detach()), float(wrapper.loss_scaler.get_scale())


def test_amp_norm_is_unscaled():
    # unscaled norm 5, scaled 5 * 65536: a threshold of 100 passes ...
    guard, w, _ = _amp_step(100.0, 5.0)
    assert guard.last_bad_grad is None and w == -5.0
    # ... and one of 1 trips on the unscaled 5
    guard, w, _ = _amp_step(1.0, 5.0)
    assert w == 0.0
    norm, largest, why = guard.last_bad_grad
    assert norm == 5.0 and largest == [('head', 5.0)]
    assert why == 'gradient norm 5 above max_grad_norm=1'


def test_amp_ratio_compares_the_unscaled_norm():
    # a history of norm 1 and a ratio of 10: the unscaled 5 passes (scaled,
    # 5 * 65536, it would not) and 50 is refused, with no max_grad_norm
    ratio = dict(max_grad_norm_ratio=10, grad_norm_warmup=3,
                 norm_history=[1.0, 1.0, 1.0])
    guard, w, _ = _amp_step(None, 5.0, **ratio)
    assert guard.last_bad_grad is None and w == -5.0
    assert guard.recent_norms == [1.0, 1.0, 5.0]
    guard, w, _ = _amp_step(None, 50.0, **ratio)
    assert w == 0.0 and guard.last_bad_grad[0] == 50.0


@pytest.mark.parametrize('max_grad_norm', [None, 1e3])
def test_amp_overflow_is_left_to_the_scaler(max_grad_norm):
    # 1e36 * 65536 overflows float32: the scaler's own skip, which halves
    # the scale, not a guard stop
    guard, w, scale = _amp_step(max_grad_norm, 1e36)
    assert guard.last_bad_grad is None and w == 0.0
    assert scale == 2.0**15


# ------------------------------------------- one norm for guard and clip_grad
class NormReductions(TorchDispatchMode):
    """Counts the operators that reduce tensors to norms (``get_total_norm``
    runs ``_foreach_norm`` over the gradients, or ``linalg_vector_norm``
    on each, then ``linalg_vector_norm`` over those norms)."""

    OPS = ('linalg_vector_norm', '_foreach_norm', 'norm')

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket.__name__ in self.OPS:
            self.calls += 1
        return func(*args, **(kwargs or {}))


def _conv_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 4))


@pytest.mark.parametrize('clip', [
    dict(max_norm=0.01), dict(max_norm=0.01, foreach=False),
    dict(max_norm=0.01, error_if_nonfinite=True),
    dict(max_norm=0.01, norm_type='inf')])
def test_clip_grad_reuses_the_norm_of_the_check(clip):
    """Guard + ``clip_grad`` give the parameters and the logged norm of
    plain ``clip_grad_norm_`` + ``step``, bit for bit, with no norm
    reduction of their own: clipping by the 2-norm takes the guard's. The
    inf-norm is clipped by its own, on top of the guard's 2-norm."""
    model = _conv_net()
    reference = copy.deepcopy(model)
    x = torch.randn(4, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    wrapper = OptimWrapper(optimizer=torch.optim.SGD(
        model.parameters(), lr=0.5, momentum=0.9), clip_grad=dict(clip))
    guard = NonFiniteLossGuard(wrapper, max_grad_norm=1e6)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.5, momentum=0.9)
    hub = MessageHub.get_current_instance()
    for _ in range(3):
        with NormReductions() as guarded:
            wrapper.update_params(model(x).square().mean())
        with NormReductions() as plain:
            reference(x).square().mean().backward()
            norm = torch.nn.utils.clip_grad_norm_(reference.parameters(),
                                                  **clip)
            optimizer.step()
            optimizer.zero_grad()
        assert float(norm) > 0.01  # clipping scaled the gradients down
        assert hub.get_scalar('train/grad_norm').current() == float(norm)
        for (k, v), v2 in zip(model.named_parameters(),
                              reference.parameters()):
            assert torch.equal(v, v2), k
        if clip.get('norm_type', 2.0) == 2.0:  # the check's norm, reused
            assert guarded.calls == plain.calls
            assert guard.recent_norms[-1] == float(norm)
        else:  # the check's 2-norm: one reduction over the gradients
            assert guarded.calls == plain.calls + 2
    guard.uninstall()
    assert wrapper.clip_func is torch.nn.utils.clip_grad_norm_


def test_amp_clip_grad_computes_its_own_norm():
    # under a loss scaler the check sees the scaled gradients and the
    # clipping the unscaled ones: two norms, each as before
    w = nn.Parameter(torch.zeros(2))
    wrapper = CPUAmpOptimWrapper(2.0**8, optimizer=torch.optim.SGD(
        [w], lr=1.0), clip_grad=dict(max_norm=1.0))
    guard = NonFiniteLossGuard(wrapper, max_grad_norm=100.0)
    with NormReductions() as counted:
        wrapper.update_params((w * torch.tensor([3.0, 4.0])).sum())
    assert counted.calls == 4
    assert guard.recent_norms[-1] == 5.0
    assert w.detach().tolist() == pytest.approx([-0.6, -0.8])


def test_clip_grad_run_equals_an_unguarded_one(tmp_path):
    # a real run with clip_grad: the guard's norm serves the clipping, and
    # the weights and the logged norms are those of mmengine's own clipping
    clip = dict(max_norm=0.05)
    with NormReductions() as guarded_ops:
        guarded = _runner(tmp_path / 'a', spike=1.0, clip_grad=clip,
                          max_grad_norm=1000.0)
        guarded.train()
    logged = guarded.message_hub.get_scalar('train/grad_norm').data[0]
    with NormReductions() as plain_ops:
        plain = _runner(tmp_path / 'b', spike=1.0, clip_grad=clip,
                        action='off')
        plain.train()
    logged = logged.tolist()
    assert logged == \
        plain.message_hub.get_scalar('train/grad_norm').data[0].tolist()
    assert len(logged) == 12 and max(logged) > 0.05
    # the norms the optimizer met (the plain run's, recorded before each
    # step in float64) are the clipped ones
    assert ParamsBeforeIterHook.grad_norms == pytest.approx(
        [min(n, 0.05) for n in logged], rel=1e-5)
    for (k, v), (k2, v2) in zip(guarded.model.named_parameters(),
                                plain.model.named_parameters()):
        assert k == k2 and torch.equal(v, v2), k
    assert guarded_ops.calls == plain_ops.calls


# ------------------------------------------ a spike relative to the history
# Sample 21 is the last of batch 6: iterations 6 and 12. Normal steps have
# norms of 0.3-1.7; with spike=1e3 iteration 6's norm is about 7e4, finite,
# and the steps after it blow the weights up until the norm overflows.
RATIO_SPIKE = dict(spike=1e3, spike_index=21)


def _guard_of(runner) -> NonFiniteLossGuard:
    """The guard the runner's (only) guard hook installed."""
    (hook, ) = [h for h in runner.hooks
                if isinstance(h, NonFiniteLossGuardHook)]
    (guard, ) = hook.guards
    return guard


def _median_of_applied(count: int) -> float:
    """The median of the first ``count`` applied steps' norms, recorded
    independently (float64, in the optimizer's step pre-hook)."""
    return statistics.median(ParamsBeforeIterHook.grad_norms[:count])


def test_ratio_stops_a_finite_spike_the_absolute_check_lets_through(
        tmp_path):
    # the default guard (max_grad_norm_ratio=1000) with a warm-up of 5
    runner = _runner(tmp_path / 'ratio', grad_norm_warmup=5, **RATIO_SPIKE)
    with pytest.raises(ExplodingGradientError) as info:
        runner.train()
    msg = str(info.value)
    norm, times, median = (float(v) for v in re.match(
        r'gradient norm (\S+) \((\S+) x the median (\S+) of the last 5 '
        r'applied steps\) above max_grad_norm_ratio=1000 \(largest: '
        r'net\.\d [\d.e+]+, net\.\d [\d.e+]+\) at iteration 6 \(epoch 1, '
        r'batch 6\)', msg).groups())
    assert median == pytest.approx(_median_of_applied(5), rel=1e-3)
    assert 1e3 * median < norm < float('inf')
    assert times == pytest.approx(norm / median, rel=1e-2)
    assert 'The loss was finite' in msg
    work = tmp_path / 'ratio' / 'work'
    assert open(work / 'last_checkpoint').read().endswith('iter_5.pth')
    assert not osp.exists(work / 'iter_6.pth')
    before = ParamsBeforeIterHook.params[6]
    for k, v in runner.model.named_parameters():
        assert torch.equal(v, before[k]), k

    # without the ratio the spike is applied, the norms grow for two more
    # steps, and iteration 9's loss overflows: that stop names iteration
    # 9's innocent files, and the checkpoints since iteration 6 hold the
    # blown-up weights
    runner = _runner(tmp_path / 'plain', max_grad_norm_ratio=None,
                     **RATIO_SPIKE)
    with pytest.raises(NonFiniteLossError, match='at iteration 9 ') as info:
        runner.train()
    assert not isinstance(info.value, ExplodingGradientError)
    norms = ParamsBeforeIterHook.grad_norms
    assert 1e3 * _median_of_applied(5) < norms[5] < norms[6] < norms[7]
    blown = _state(tmp_path / 'plain' / 'work' / 'iter_6.pth')
    weights = torch.cat([v.flatten() for v in blown.values()]).double()
    assert weights.norm() > 100 * torch.cat(
        [v.flatten() for v in before.values()]).double().norm()


@pytest.mark.parametrize('custom, ratio', [
    (dict(action='skip'), 1000),  # another key: the default's ratio stays
    (dict(action='skip', max_grad_norm_ratio=None), None)])  # explicit None
def test_a_custom_guard_keeps_the_default_settings_it_does_not_name(
        tmp_path, custom, ratio):
    """A guard declared in ``custom_hooks`` is merged into the default one
    (``grad_norm_warmup=5`` set there): with the ratio, iteration 6's
    spike is refused and training goes on ('skip'); with the user's
    explicit None it is applied and the weights blow up."""
    runner = _runner(tmp_path, grad_norm_warmup=5, custom_guard=dict(
        type='NonFiniteLossGuardHook', **custom), **RATIO_SPIKE)
    (hook, ) = [h for h in runner.hooks
                if isinstance(h, NonFiniteLossGuardHook)]
    assert (hook.action, hook.max_grad_norm_ratio,
            hook.grad_norm_warmup) == ('skip', ratio, 5)
    runner.train()
    params = ParamsBeforeIterHook.params
    applied = any(not torch.equal(params[7][k], params[6][k])
                  for k in params[6])
    log = _log_text(str(tmp_path / 'work'))
    if ratio is None:
        assert applied and 'max_grad_norm_ratio' not in log
        assert ParamsBeforeIterHook.grad_norms[5] > \
            1e3 * _median_of_applied(5)
    else:
        assert not applied
        assert 'above max_grad_norm_ratio=1000' in log
        assert 'at iteration 6 (epoch 1, batch 6); optimizer step ' \
            'skipped' in log


@pytest.mark.parametrize('warmup, refused', [(5, [6, 12]), (6, [12])])
def test_ratio_is_off_during_the_warmup(tmp_path, warmup, refused):
    # spike=10: a norm of about 8x the median at iteration 6 (harmless to
    # the weights) and 30-100x at iteration 12. With a ratio of 5 the
    # check refuses iteration 6 only once 5 steps have been applied
    runner = _runner(tmp_path, spike=10.0, spike_index=21, action='skip',
                     max_grad_norm_ratio=5, grad_norm_warmup=warmup)
    runner.train()
    params = ParamsBeforeIterHook.params
    after = {k: v.detach() for k, v in runner.model.named_parameters()}
    unchanged = [it for it in range(1, 13) if all(
        torch.equal(params[it][k], params.get(it + 1, after)[k])
        for k in after)]
    assert unchanged == refused
    log = _log_text(str(tmp_path / 'work'))
    assert log.count('above max_grad_norm_ratio=5') == len(refused)
    # the refused norms do not enter the history: 12 steps, 12 - refused
    guard = _guard_of(runner)
    assert list(guard.norm_history) == pytest.approx(
        ParamsBeforeIterHook.grad_norms, rel=1e-5)
    assert len(guard.norm_history) == 12 - len(refused)


def test_ratio_history_survives_resume(tmp_path):
    # one epoch without a spike, then a resume into epoch 2 where
    # iteration 12 spikes (about 40x the median with spike=10). With a
    # warm-up of 8 only the 6 norms saved in iter_6.pth make the check
    # active there: a fresh history would hold 5
    guard = dict(max_grad_norm_ratio=5, grad_norm_warmup=8)
    first = _runner(tmp_path, spike=1.0, max_epochs=1, **guard)
    first.train()
    saved = torch.load(tmp_path / 'work' / 'iter_6.pth', weights_only=False)
    history = saved['nonfinite_guard']['grad_norm_history']
    assert all(type(n) is float for n in history[0])  # plain data
    assert history == [pytest.approx(ParamsBeforeIterHook.grad_norms,
                                     rel=1e-5)]
    assert len(history[0]) == 6
    resumed = _runner(tmp_path, spike=10.0, spike_index=21, resume=True,
                      **guard)
    with pytest.raises(ExplodingGradientError, match=r'the median \S+ of '
                       r'the last 11 applied steps\) above max_grad_norm_'
                       r'ratio=5 .* at iteration 12 \(epoch 2, batch 6\)'):
        resumed.train()
    assert min(ParamsBeforeIterHook.params) == 7  # it did resume
    # loading only the weights starts a new history
    loaded = _runner(tmp_path / 'load', spike=1.0, max_epochs=1,
                     load_from=str(tmp_path / 'work' / 'iter_6.pth'),
                     **guard)
    loaded.train()
    assert list(_guard_of(loaded).norm_history) == pytest.approx(
        ParamsBeforeIterHook.grad_norms, rel=1e-5)
    assert len(ParamsBeforeIterHook.grad_norms) == 6


def _ratio_rank(rank: int, init_file: str, out_dir: str) -> None:
    """One of two gloo ranks: its own guard (a history of norm 1) and a
    gradient of norm 5 (rank 0) or 50 (rank 1), no DDP averaging."""
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=2)
    w = nn.Parameter(torch.zeros(2))
    wrapper = OptimWrapper(optimizer=torch.optim.SGD([w], lr=1.0))
    guard = NonFiniteLossGuard(wrapper, {id(w): 'head.w'},
                               max_grad_norm_ratio=10, grad_norm_warmup=3,
                               norm_history=[1.0, 1.0, 1.0])
    wrapper.update_params((w * torch.tensor([3.0, 4.0]) * (1 + 9 * rank))
                          .sum())
    refused = guard.last_bad_grad
    torch.save(dict(w=w.detach().tolist(), why=refused and refused[2],
                    history=list(guard.norm_history)),
               osp.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


def test_ratio_verdict_is_shared_by_every_rank(tmp_path):
    # only rank 1's norm is above 10x its median; both ranks refuse
    # forked: the children need nothing the parent has not imported
    mp.start_processes(_ratio_rank, args=(str(tmp_path / 'init'),
                                          str(tmp_path)),
                       nprocs=2, join=True, start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    assert [r['w'] for r in ranks] == [[0.0, 0.0], [0.0, 0.0]]
    assert [r['history'] for r in ranks] == [[1.0, 1.0, 1.0]] * 2
    assert ranks[0]['why'] == 'gradient norm 5 refused on another rank'
    assert ranks[1]['why'] == (
        'gradient norm 50 (50 x the median 1 of the last 3 applied steps) '
        'above max_grad_norm_ratio=10')
