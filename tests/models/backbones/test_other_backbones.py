import pytest
import torch
import torch.nn as nn

from mmavcl.models.backbones import (S3DG, AudioResNet1d, AudioResNet2d,
                                     ResNet3d, TSNResNet2d,
                                     TwoPathwayResNet3d)
from mmavcl.models.backbones.s3dg import SelfGating
from mmavcl.registry import MODELS


def _count(m):
    return sum(p.numel() for p in m.parameters())


def test_tsn_resnet2d_matches_per_frame_application():
    # torchvision resnet50 has 25,557,032 params, fc 2048*1000+1000.
    assert _count(TSNResNet2d(depth=50)) == 25_557_032 - 2_049_000
    m = TSNResNet2d(depth=18, out_indices=(2, 3)).eval()
    x = torch.randn(2, 3, 3, 32, 32)
    s3, s4 = m(x)
    assert s4.shape == (2, 512, 3, 1, 1) and s3.shape == (2, 256, 3, 2, 2)
    # frame t of sample b equals the 2D net applied to that frame alone
    single = TSNResNet2d(depth=18, out_indices=(3, )).eval()
    single.load_state_dict(m.state_dict())
    torch.testing.assert_close(s4[1, :, 2], single(x[1:2, :, 2])[0])
    keys = set(m.state_dict())
    assert {'conv1.weight', 'bn1.running_mean', 'layer2.0.downsample.0.weight',
            'layer2.0.downsample.1.weight'} <= keys


def test_tsn_loads_moco_style_checkpoint(tmp_path):
    src = TSNResNet2d(depth=18)
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    sd = {f'module.encoder_q.{k}': v for k, v in src.state_dict().items()}
    sd['module.encoder_q.fc.0.weight'] = torch.zeros(4, 512)
    torch.save({'state_dict': sd}, tmp_path / 'moco.pth')
    dst = MODELS.build(dict(type='TSNResNet2d', depth=18, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'moco.pth'),
        prefix='module.encoder_q.')))
    dst.init_weights()
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k


def test_two_pathway_sampling_and_independence():
    m = TwoPathwayResNet3d(depth=18, slow_channels=16, beta=1 / 4,
                           alpha=4).eval()
    assert m.out_channels == (128, 32)
    x = torch.randn(1, 3, 8, 32, 32)
    slow, fast = m(x)
    # no temporal downsampling; spatial strides 2*2*(1,2,2,1) = /16
    assert slow.shape == (1, 128, 2, 2, 2)
    assert fast.shape == (1, 32, 8, 2, 2)
    # slow sees frames 0 and 4 only; fast is not fed by slow (no laterals)
    y = x.clone()
    y[:, :, [1, 2, 3, 5, 6, 7]] = 0
    torch.testing.assert_close(m(y)[0], slow)
    torch.testing.assert_close(m.slow_path(x[:, :, ::4]), slow)
    torch.testing.assert_close(m.fast_path(x), fast)
    assert m.slow_path.conv1.conv.weight.shape[2:] == (1, 7, 7)
    assert m.fast_path.conv1.conv.weight.shape[2:] == (5, 7, 7)
    assert 'slow_path.layer3.0.conv1.conv.weight' in m.state_dict()
    with pytest.raises(ValueError, match='fewer than'):
        m(torch.randn(1, 3, 2, 32, 32))
    # the GLCL defaults: 64-512 slow, 8-64 fast
    full = TwoPathwayResNet3d()
    assert full.out_channels == (512, 64)


def test_s3dg_shapes_gating_and_counts():
    m = S3DG(out_indices=(0, 1, 2)).eval()
    outs = m(torch.randn(1, 3, 8, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(1, 480, 4, 4, 4),
                                              (1, 832, 2, 2, 2),
                                              (1, 1024, 1, 1, 1)]
    # gating adds one C x C linear (+C) per branch and after conv_2c
    plain = S3DG(gating=False)
    gates = [mod for mod in m.modules() if isinstance(mod, SelfGating)]
    assert len(gates) == 1 + 4 * 9
    assert _count(m) - _count(plain) == sum(_count(g) for g in gates)
    g = SelfGating(2)
    with torch.no_grad():
        g.fc.weight.copy_(torch.eye(2))
        g.fc.bias.zero_()
    x = torch.ones(1, 2, 1, 1, 1)
    x[0, 1] = -1
    torch.testing.assert_close(
        g(x).flatten(), torch.tensor([torch.sigmoid(torch.tensor(1.)),
                                      -torch.sigmoid(torch.tensor(-1.))]))


def test_audio_resnet2d_outputs():
    m = AudioResNet2d(depth=18, base_channels=8).eval()
    x = torch.randn(2, 1, 64, 40)
    fmap = m(x)
    assert fmap.shape == (2, 64, 2, 2)
    m.output = 'time'
    torch.testing.assert_close(m(x), fmap.mean(2))
    m.output = 'pooled'
    torch.testing.assert_close(m(x), fmap.mean((2, 3)))
    # keep time resolution by striding along frequency only
    m2 = AudioResNet2d(depth=10, base_channels=8, conv1_stride=(2, 1),
                       with_maxpool=False,
                       strides=(1, (2, 1), (2, 1), (2, 1)), output='time')
    assert m2(x).shape == (2, 64, 40)
    with pytest.raises(ValueError, match=r'\(B, 1, F, T\)'):
        m(torch.randn(2, 2, 8, 8))
    with pytest.raises(ValueError, match='output'):
        AudioResNet2d(output='seq')


def test_audio_resnet1d_glcl():
    m = MODELS.build(dict(type='AudioResNet1d', in_channels=80,
                          base_channels=8)).eval()
    assert isinstance(m.conv1.activate, nn.LeakyReLU)
    assert m.conv1.conv.kernel_size == (7, )
    x = torch.randn(2, 1, 80, 96)
    out = m(x)
    assert out.shape == (2, 64, 96)               # no temporal downsampling
    torch.testing.assert_close(m(x[:, 0]), out)
    m.output = 'pooled'
    torch.testing.assert_close(m(x), out.mean(2))
    # a time-local input change stays time-local in early layers but the
    # output at far-away steps is untouched beyond the receptive field
    m.output = 'time'
    y = x.clone()
    y[..., 0] += 5.0
    diff = (m(y) - out).abs().amax(dim=(0, 1))
    assert diff[0] > 0 and diff[-1] == 0
    with pytest.raises(ValueError, match='mel bins as channels'):
        m(torch.randn(2, 1, 64, 96))


@pytest.mark.parametrize('cls,kwargs,shape', [
    (ResNet3d, dict(depth=18, base_channels=4), (1, 3, 4, 32, 32)),
    (TSNResNet2d, dict(depth=18), (1, 3, 2, 32, 32)),
    (AudioResNet2d, dict(base_channels=4), (1, 1, 32, 32)),
    (AudioResNet1d, dict(base_channels=4, in_channels=16), (1, 16, 20)),
])
def test_autocast_bf16_backbones(cls, kwargs, shape):
    m = cls(**kwargs).eval()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = m(torch.randn(*shape))
    assert torch.isfinite(out.float()).all()
