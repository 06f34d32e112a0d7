import pytest
import torch

from mmavcl.models.backbones import Conv2plus1d, ResNet2Plus1d, ResNet3d
from mmavcl.registry import MODELS

R3D18 = dict(depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
             with_pool2=False, temporal_strides=(1, 2, 2, 2))
R2P1D18 = dict(depth=18, temporal_strides=(1, 2, 2, 2),
               norm_cfg=dict(type='BN3d', eps=1e-3), zero_init_residual=False)


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_literature():
    # R3D-18: torchvision r3d_18 has 33,371,472 params with a 512x400 fc
    # (205,200 params) -> 33,166,272 without it.
    assert _count(ResNet3d(**R3D18)) == 33_166_272
    # R(2+1)D-18 with the parameter-matching mid width: 33.2 M.
    n = _count(ResNet2Plus1d(**R2P1D18))
    assert n == 33_227_745
    assert abs(n / 1e6 - 33.2) < 0.05


def test_mid_channels_formula():
    # floor(3 * 49 * 3 * 64 / (49 * 3 + 3 * 64)) = floor(83.26) = 83
    assert Conv2plus1d(3, 64, (3, 7, 7)).mid_channels == 83
    # 1x1x1 projection 64 -> 128: floor(3*64*128 / (64 + 384)) = 54
    assert Conv2plus1d(64, 128, 1).mid_channels == 54
    assert Conv2plus1d(64, 64, 3).mid_channels == 144


def test_keys_follow_mmaction_layout():
    keys = set(ResNet2Plus1d(depth=18, base_channels=8).state_dict())
    for k in ('conv1.conv.conv_s.weight', 'conv1.conv.bn_s.running_mean',
              'conv1.conv.conv_t.weight', 'conv1.bn.weight',
              'layer1.0.conv1.conv.conv_s.weight',
              'layer2.0.downsample.conv.conv_t.weight',
              'layer2.0.downsample.bn.running_var'):
        assert k in keys
    keys = set(ResNet3d(depth=50, base_channels=8).state_dict())
    for k in ('conv1.conv.weight', 'layer1.0.conv3.bn.weight',
              'layer1.0.downsample.conv.weight', 'layer4.2.conv2.conv.weight'):
        assert k in keys


def test_shapes_strides_and_out_indices():
    x = torch.randn(2, 3, 8, 32, 32)
    m = ResNet3d(depth=18, base_channels=8, out_indices=(0, 1, 2, 3),
                 **{k: v for k, v in R3D18.items() if k != 'depth'})
    m.eval()
    outs = m(x)
    # stem: s=2 (no pool1); stages: spatial (1,2,2,2), temporal (1,2,2,2)
    assert [tuple(o.shape) for o in outs] == [(2, 8, 8, 16, 16),
                                              (2, 16, 4, 8, 8),
                                              (2, 32, 2, 4, 4),
                                              (2, 64, 1, 2, 2)]
    assert m.out_channels == (8, 16, 32, 64)
    # MMAction2 defaults: pool1 (H/4), pool2 halves T after stage 1.
    m2 = ResNet3d(depth=18, base_channels=8, out_indices=(1, ))
    assert m2(x).shape == (2, 16, 4, 4, 4)
    with pytest.raises(ValueError, match='out_indices'):
        ResNet3d(depth=18, out_indices=(4, ))
    with pytest.raises(KeyError, match='depth'):
        ResNet3d(depth=20)
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        m(torch.randn(3, 8, 32, 32))


def test_slowonly_r50_inflation():
    m = ResNet3d(depth=50, base_channels=8, conv1_kernel=(1, 7, 7),
                 inflate=(0, 0, 1, 1), with_pool2=False)
    assert m.conv1.conv.weight.shape[2:] == (1, 7, 7)
    assert m.layer2[0].conv1.conv.weight.shape[2:] == (1, 1, 1)
    assert m.layer3[0].conv1.conv.weight.shape[2:] == (3, 1, 1)
    assert m.layer3[0].conv2.conv.weight.shape[2:] == (1, 3, 3)
    out = m(torch.randn(1, 3, 4, 32, 32))
    assert out.shape == (1, 256, 4, 1, 1)
    assert m.feat_dim == 256


def test_gradient_flows_and_checkpointing_matches():
    torch.manual_seed(0)
    a = ResNet3d(depth=18, base_channels=4, zero_init_residual=False)
    b = ResNet3d(depth=18, base_channels=4, with_cp=True,
                 zero_init_residual=False)
    a.init_weights()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 4, 32, 32)
    a(x).sum().backward()
    b(x).sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert pa.grad is not None, n
        torch.testing.assert_close(pa.grad, pb.grad, rtol=1e-4, atol=1e-5)


def test_init_zero_residual_and_pretrained_with_prefix(tmp_path):
    m = ResNet3d(depth=18, base_channels=4)
    m.init_weights()
    assert m.layer1[0].conv2.bn.weight.abs().sum() == 0
    assert (m.conv1.bn.weight == 1).all()
    src = ResNet2Plus1d(depth=18, base_channels=4)
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    ckpt = {'state_dict': {f'backbone.{k}': v
                           for k, v in src.state_dict().items()}}
    ckpt['state_dict']['neck.fc.weight'] = torch.zeros(2)
    path = tmp_path / 'ssl.pth'
    torch.save(ckpt, path)
    dst = MODELS.build(
        dict(type='ResNet2Plus1d', depth=18, base_channels=4,
             init_cfg=dict(type='Pretrained', checkpoint=str(path),
                           prefix='backbone.')))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_frozen_stages_and_norm_eval():
    m = ResNet3d(depth=18, base_channels=4, frozen_stages=1, norm_eval=True)
    m.train()
    assert not any(p.requires_grad for p in m.conv1.parameters())
    assert not any(p.requires_grad for p in m.layer1.parameters())
    assert all(p.requires_grad for p in m.layer2.parameters())
    assert not m.layer3[0].conv1.bn.training
    assert m.training


def test_autocast_bf16():
    m = ResNet2Plus1d(depth=18, base_channels=4).eval()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(torch.randn(1, 3, 4, 32, 32))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()
