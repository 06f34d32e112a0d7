"""The GPU-only training paths, on a real CUDA device; skipped without one.

Each has a CPU twin that runs in CI (test_efficiency_switches.py,
test_dist_train_cpu.py): fp16 ``AmpOptimWrapper`` with its loss scaler
(CPU: bf16 autocast), channels-last cuDNN kernels, SyncBN over NCCL through
``tools/dist_train.sh`` (CPU: gloo with plain BN), inductor's Triton kernels
(CPU: C++), and the device-side data path (pinned uint8 batch, non-blocking
copy, log-mel and kornia augmentation on the GPU).
"""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper

import engine_toys as T
from mmavcl.apis.runner_utils import build_runner
from mmavcl.engine import AutocastOptimWrapper, convert_to_channels_last
from mmavcl.models.backbones import ResNet3d
from mmavcl.testing import load_script
from test_efficiency_switches import ROOT, _cfg, _eager_and_compiled_losses

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA device (make test-gpu)')
]


@pytest.fixture
def exact_fp32():
    """Plain fp32 convolutions and matmuls (no TF32) for comparisons."""
    old = (torch.backends.cudnn.allow_tf32,
           torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    yield
    (torch.backends.cudnn.allow_tf32,
     torch.backends.cuda.matmul.allow_tf32) = old


def _conv1(runner) -> torch.Tensor:
    return runner.model.backbone.conv1.conv.weight


def test_amp_is_fp16_with_loss_scaler_on_cuda(tiny_toy_av, tmp_path):
    train = load_script('tools/train.py')
    cfg = _cfg(train, tiny_toy_av, tmp_path, ['--amp'],
               ['train_cfg.max_epochs=4', 'default_hooks.checkpoint=None'])
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'  # CUDA --amp
    runner = build_runner(cfg)
    dtypes = []
    runner.model.backbone.register_forward_hook(
        lambda m, i, o: dtypes.append((o.dtype, o.device.type)))
    w0 = _conv1(runner).detach().clone()
    runner.train()
    assert isinstance(runner.optim_wrapper, AmpOptimWrapper)
    assert dtypes and set(dtypes) == {(torch.float16, 'cuda')}
    assert _conv1(runner).dtype == torch.float32  # fp32 master weights
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss)
    scale = runner.optim_wrapper.loss_scaler.get_scale()
    assert 0 < scale < math.inf
    # a step that overflowed is skipped and halves the scale: either the
    # weights moved or the scaler backed off (it starts at 2 ** 16)
    assert not torch.equal(w0, _conv1(runner).detach()) or scale < 2**16


def test_bf16_autocast_channels_last_on_cuda(tiny_toy_av, tmp_path):
    train = load_script('tools/train.py')
    cfg = _cfg(train, tiny_toy_av, tmp_path, options=[
        'train_cfg.max_epochs=2', 'default_hooks.checkpoint=None',
        'optim_wrapper.type=AutocastOptimWrapper',
        'optim_wrapper.dtype=bfloat16'
    ])
    cfg.custom_hooks = [dict(type='ChannelsLast3dHook')]
    runner = build_runner(cfg)
    seen = []
    runner.model.backbone.conv1.conv.register_forward_hook(
        lambda m, i, o: seen.append(
            (o.dtype, i[0].is_contiguous(
                memory_format=torch.channels_last_3d))))
    w0 = _conv1(runner).detach().clone()
    runner.train()
    assert isinstance(runner.optim_wrapper, AutocastOptimWrapper)
    # every first convolution ran in bf16 on channels-last input
    assert seen and set(seen) == {(torch.bfloat16, True)}
    w5 = [p for p in runner.model.parameters() if p.dim() == 5]
    assert all(p.is_cuda and p.is_contiguous(
        memory_format=torch.channels_last_3d) for p in w5)
    assert not torch.equal(w0, _conv1(runner).detach())
    assert math.isfinite(
        runner.message_hub.get_scalar('train/loss').current())


def test_channels_last_matches_default_layout_on_cuda(exact_fp32):
    torch.manual_seed(0)
    a = ResNet3d(depth=18, base_channels=16).cuda().eval()
    b = ResNet3d(depth=18, base_channels=16).cuda().eval()
    b.load_state_dict(a.state_dict())
    handles = convert_to_channels_last(b)
    x = torch.randn(2, 3, 8, 56, 56, device='cuda')
    ya, yb = a(x), b(x)
    assert yb.is_contiguous(memory_format=torch.channels_last_3d)
    # cuDNN picks other algorithms for NDHWC: equal up to reassociation
    torch.testing.assert_close(yb, ya, rtol=1e-3,
                               atol=1e-4 * float(ya.abs().max()))
    ya.square().mean().backward()
    yb.square().mean().backward()
    ga, gb = a.conv1.conv.weight.grad, b.conv1.conv.weight.grad
    assert gb.is_contiguous(memory_format=torch.channels_last_3d)
    torch.testing.assert_close(gb, ga, rtol=1e-3,
                               atol=1e-4 * float(ga.abs().max()))
    for h in handles:
        h.remove()


def test_dist_train_nccl_with_syncbn(tiny_toy_av, tmp_path):
    """``bash tools/dist_train.sh CONFIG 1`` on a GPU: NCCL process group,
    DDP on the GPU, and ``sync_bn='torch'`` kept (the CPU gloo twin drops
    it); the run trains and checkpoints."""
    res, out, setup, work = T.dist_train_vclr_toy(
        tmp_path, tiny_toy_av, 1, "sync_bn = 'torch'",
        ['train_dataloader.batch_size=4', 'train_cfg.max_epochs=2',
         'default_hooks.logger.interval=1'])
    assert res.returncode == 0, out[-3000:]
    assert setup['backend'] == 'nccl'
    assert setup['wrapper'] == 'MMDistributedDataParallel'
    assert setup['devices'] == ['cuda:0']
    assert setup['norms'] and set(setup['norms']) == {'SyncBatchNorm'}
    assert (work / 'epoch_2.pth').exists()
    ckpt = torch.load(work / 'epoch_2.pth', map_location='cpu',
                      weights_only=False)
    # plain BN names: the checkpoint loads into a single-GPU/CPU model
    assert any(k.endswith('bn.running_mean') for k in ckpt['state_dict'])
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())


def test_compile_inductor_on_cuda(tiny_toy_av, tmp_path, exact_fp32):
    """``--compile`` with Triton kernels: the first iteration's loss equals
    eager's up to kernel rounding, the second after one step to 1 %."""
    eager, compiled = _eager_and_compiled_losses('inductor', tiny_toy_av,
                                                 tmp_path)
    assert compiled[0] == pytest.approx(eager[0], rel=1e-4, abs=1e-4)
    assert compiled[1] == pytest.approx(eager[1], rel=1e-2)


def test_preprocessor_on_cuda_matches_cpu(tiny_toy_av, exact_fp32):
    """The data path's device half: a pinned uint8 batch copied with
    ``non_blocking=True``, per-sample (``pseudo_collate``) or stacked in the
    worker (``av_collate``), then normalisation and log-mel on the GPU give
    the CPU's values; kornia's augmentation runs on the GPU batch."""
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmavcl.datasets import av_collate
    from mmavcl.registry import DATASETS, MODELS
    init_default_scope('mmavcl')
    cfg = Config.fromfile(osp.join(ROOT,
                                   'configs/baselines/avc_r3d-18_toy.py'))
    cfg.train_dataloader.dataset.data_root = tiny_toy_av
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    samples = [ds[i] for i in range(4)]
    batch = pseudo_collate(samples)
    video = batch['inputs']['video']
    assert video[0][0].dtype == torch.uint8  # uint8 until the device
    pinned = dict(batch, inputs={
        k: [[t.pin_memory() for t in view] for view in v]
        for k, v in batch['inputs'].items()
    })
    pre_cfg = cfg.model.data_preprocessor
    cpu = MODELS.build(pre_cfg)
    gpu = MODELS.build(pre_cfg).cuda()
    assert gpu._non_blocking  # the default
    stacked = av_collate(samples)
    pinned_stacked = dict(stacked, inputs={
        k: [view.pin_memory() for view in v]
        for k, v in stacked['inputs'].items()
    })
    out_cpu = cpu(batch, True)['inputs']
    for gpu_batch in (pinned, pinned_stacked):
        out_gpu = gpu(gpu_batch, True)['inputs']
        for key in ('video', 'audio'):
            for c, g in zip(out_cpu[key], out_gpu[key]):
                assert g.is_cuda and g.dtype == torch.float32
                torch.testing.assert_close(g.cpu(), c, rtol=1e-4, atol=1e-3)
    aug = MODELS.build(dict(pre_cfg, video_aug=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4, hue=0.1, p=1.0),
        dict(type='RandomGrayscale', p=0.5)])).cuda()
    out_aug = aug(pinned, True)['inputs']['video'][0]
    assert out_aug.is_cuda and torch.isfinite(out_aug).all()
    assert not torch.allclose(out_aug.cpu(), out_cpu['video'][0])
