"""Training-efficiency switches on CPU, through tools/train.py's config path
and the real AVRunner on the toy dataset (real H.264 files)."""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from engine_toys import new_experiment_name
from mmavcl.apis.runner_utils import build_runner
from mmavcl.engine import AutocastOptimWrapper, convert_to_channels_last
from mmavcl.models.backbones import ResNet3d
from mmavcl.registry import HOOKS
from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/vclr/vclr_r3d-18_toy.py')


def _cfg(train, tiny_toy_av, work_dir, extra_args=(), options=()):
    args = train.parse_args([
        CONFIG, '--work-dir', str(work_dir), *extra_args, '--cfg-options',
        f'train_dataloader.dataset.data_root={tiny_toy_av}',
        # the fixture's 4 training videos = one batch, whatever the config
        'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
        *options
    ])
    return train.merge_args(Config.fromfile(args.config), args)


@HOOKS.register_module(force=True)
class _EffSwitchRecordHook(Hook):
    """Snapshots one backbone weight after every iteration."""

    def __init__(self):
        self.weights = []

    def before_train(self, runner):
        self.weights.append(runner.model.backbone.conv1.conv.weight.detach()
                            .clone())

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.weights.append(runner.model.backbone.conv1.conv.weight.detach()
                            .clone())


@pytest.mark.skipif(torch.cuda.is_available(),
                    reason='CPU twin of test_cuda_paths.py::'
                    'test_amp_is_fp16_with_loss_scaler_on_cuda')
def test_amp_bf16_autoscale_lr_channels_last(tiny_toy_av, tmp_path,
                                             one_thread):
    train = load_script('tools/train.py')
    cfg = _cfg(train, tiny_toy_av, tmp_path, ['--amp', '--auto-scale-lr'],
               ['train_cfg.max_epochs=1', 'auto_scale_lr.base_batch_size=256'])
    cfg.custom_hooks = [dict(type='ChannelsLast3dHook')]
    assert cfg.optim_wrapper.type == 'AutocastOptimWrapper'  # CPU --amp
    runner = build_runner(cfg)
    dtypes = []
    runner.model.backbone.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype))
    runner.train()
    assert isinstance(runner.optim_wrapper, AutocastOptimWrapper)
    assert runner.optim_wrapper.cast_dtype == torch.bfloat16
    # the backbone really ran under bf16 autocast (preprocessing stays fp32)
    assert dtypes and set(dtypes) == {torch.bfloat16}
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    # --auto-scale-lr: lr * (1 GPU x batch 4) / base_batch_size 256
    base = cfg.optim_wrapper.optimizer.lr
    bs = cfg.train_dataloader.batch_size
    want = base * bs / cfg.auto_scale_lr.base_batch_size
    group = runner.optim_wrapper.param_groups[0]
    # initial_lr exists only when a parameter scheduler ran
    assert group.get('initial_lr', group['lr']) == pytest.approx(want)
    # channels_last_3d: every 5-D weight converted, parameters still trained
    w5 = [p for p in runner.model.parameters() if p.dim() == 5]
    assert w5 and all(
        p.is_contiguous(memory_format=torch.channels_last_3d) for p in w5)


def test_accumulation_syncbn_cudnn_benchmark(tiny_toy_av, tmp_path,
                                             one_thread):
    train = load_script('tools/train.py')
    cfg = _cfg(train, tiny_toy_av, tmp_path, options=[
        'train_cfg.max_epochs=2', 'optim_wrapper.accumulative_counts=2',
        'sync_bn=torch', 'default_hooks.checkpoint.interval=10',
        'default_hooks.checkpoint.save_last=False'
    ])
    assert cfg.env_cfg.cudnn_benchmark is True  # default_runtime switch
    cfg.custom_hooks = [dict(type='_EffSwitchRecordHook')]
    torch.backends.cudnn.benchmark = False
    runner = build_runner(cfg)
    record = next(h for h in runner.hooks
                  if isinstance(h, _EffSwitchRecordHook))
    assert torch.backends.cudnn.benchmark is True  # set by the runner
    # single process: mmengine leaves BN as is (SyncBN needs a GPU group)
    assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                   for m in runner.model.modules())
    runner.train()
    w0, w1, w2 = record.weights
    # accumulative_counts=2: the first iteration only accumulates
    assert torch.equal(w0, w1)
    assert not torch.equal(w1, w2)


def test_channels_last_matches_default_layout(one_thread):
    torch.manual_seed(0)
    a = ResNet3d(depth=18, base_channels=8)
    b = ResNet3d(depth=18, base_channels=8)
    b.load_state_dict(a.state_dict())
    handles = convert_to_channels_last(b)
    assert handles
    # eval: train-mode BN on a batch of 2 magnifies rounding differences
    a.eval()
    b.eval()
    x = torch.randn(2, 3, 4, 32, 32)
    ya, yb = a(x), b(x)
    assert yb.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(yb, ya, rtol=1e-4, atol=1e-5)
    ya.square().mean().backward()
    yb.square().mean().backward()
    ga = a.conv1.conv.weight.grad
    gb = b.conv1.conv.weight.grad
    assert gb.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(
        gb, ga, rtol=1e-4, atol=1e-5 * float(ga.abs().max()))
    for h in handles:
        h.remove()


MOCO_CONFIG = osp.join(ROOT, 'configs/baselines/moco_r3d-18_toy.py')


@HOOKS.register_module(force=True)
class _EffSwitchLossHook(Hook):
    """Records every iteration's logged loss terms."""

    def __init__(self):
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append({k: float(torch.as_tensor(v).detach())
                            for k, v in outputs.items()})


def _eager_and_compiled_losses(backend, tiny_toy_av, tmp_path,
                               options=()):
    """Per-iteration losses of two MoCo toy iterations through
    ``tools/train.py`` and the real AVRunner, without and with
    ``--compile BACKEND`` (same seed, same data); ``options`` are more
    ``--cfg-options``."""
    import torch._dynamo
    from torch._dynamo.utils import counters
    train = load_script('tools/train.py')
    runs = {}
    for flag in ((), ('--compile', backend)):
        args = train.parse_args([
            MOCO_CONFIG, '--work-dir', str(tmp_path / str(bool(flag))),
            '--seed', '0', *flag, '--cfg-options',
            f'train_dataloader.dataset.data_root={tiny_toy_av}',
            'train_dataloader.batch_size=4', 'train_cfg.max_epochs=2',
            'default_hooks.checkpoint.interval=10',
            'default_hooks.checkpoint.save_last=False', *options,
            # both runs start within one second: names of their own
            *new_experiment_name()[1:]
        ])
        cfg = train.merge_args(Config.fromfile(args.config), args)
        # a hook named in the config; mmengine's `compile` stays unset
        assert cfg.default_hooks.get('compile') == (
            dict(type='TorchCompileHook', backend=backend) if flag else None)
        assert cfg.get('compile') is None
        cfg.custom_hooks = [dict(type='_EffSwitchLossHook')]
        torch._dynamo.reset()
        counters.clear()
        runner = build_runner(cfg)
        record = next(h for h in runner.hooks
                      if isinstance(h, _EffSwitchLossHook))
        runner.train()
        compiled = runner.model.backbone._compiled_call_impl is not None
        assert compiled == bool(flag)
        assert (counters['stats']['unique_graphs'] > 0) == bool(flag)
        # parameter names unchanged: checkpoints load either way
        assert not any('_orig_mod' in k for k in runner.model.state_dict())
        runs[bool(flag)] = record.losses
    torch._dynamo.reset()
    assert len(runs[True]) == len(runs[False]) == 2
    return runs[False], runs[True]


def test_compile_switch_gives_the_uncompiled_losses(tiny_toy_av, tmp_path,
                                                    one_thread):
    """``--compile aot_eager``: the backbone runs as a dynamo graph (AOT
    autograd forward + backward, eager kernels) and two iterations of MoCo
    give exactly the losses of the uncompiled run (same ops)."""
    eager, compiled = _eager_and_compiled_losses('aot_eager', tiny_toy_av,
                                                 tmp_path)
    for e, c in zip(eager, compiled):
        assert c == pytest.approx(e, rel=1e-6, abs=1e-6)


def _has_cxx() -> bool:
    import shutil
    return any(shutil.which(c) for c in ('c++', 'g++', 'clang++'))


@pytest.mark.skipif(not _has_cxx(), reason='inductor on CPU needs a C++ '
                    'compiler (none on PATH)')
def test_compile_inductor_trains_like_eager(tiny_toy_av, tmp_path):
    """``--compile`` (inductor, the default): generated C++ kernels. The
    first iteration's loss equals the eager one (same weights, same batch:
    only rounding differs); after one optimizer step the fused kernels'
    rounding has moved the weights a little, so the second loss agrees to
    1 % (measured 2026-11-22: 1e-3).

    The backbone is cut to its stem and two stages of one basic block (the
    second with its strided shortcut; the neck takes their 16 channels):
    the kinds of kernels of the full R3D-18 (convolution, BN, ReLU, the
    residual sum, forward and backward), whose further stages and blocks
    only add more of them to generate and compile. The full backbone runs
    under dynamo in the ``aot_eager`` test above."""
    two_blocks = ['model.backbone.num_stages=2',
                  'model.backbone.out_indices=[1]',
                  'model.backbone.stage_blocks=[1,1]',
                  'model.neck.in_channels=16']
    eager, compiled = _eager_and_compiled_losses('inductor', tiny_toy_av,
                                                 tmp_path, two_blocks)
    assert compiled[0] == pytest.approx(eager[0], rel=1e-5, abs=1e-5)
    assert compiled[1] == pytest.approx(eager[1], rel=1e-2)


def test_compile_modules_names_and_errors():
    from mmavcl.engine import compile_modules

    class Net(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Linear(2, 2)
            self.audio_backbone = torch.nn.Linear(2, 2)
            self.head = torch.nn.Linear(2, 2)

    net = Net()
    assert compile_modules(net, backend='eager') == ['backbone',
                                                     'audio_backbone']
    assert net.head._compiled_call_impl is None
    assert compile_modules(Net(), 'head', backend='eager') == ['head']
    with pytest.raises(KeyError, match=r"\['neck'\] not among.*backbone"):
        compile_modules(Net(), ['neck'])
    with pytest.raises(KeyError, match='no \\*backbone child'):
        compile_modules(torch.nn.Sequential(torch.nn.Linear(2, 2)))
