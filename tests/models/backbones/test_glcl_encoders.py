"""GLCL's encoders against the released code (yunyikristy/global_local
@75c3c89, ``resnet3d.py`` ``BasicBlock_SF`` / ``ResNet_SF`` and
``resnet1d.py``).

The expected layouts below are written from reading that code, not copied
from it: the video block is one 3x3x3 and one 1x1x1 conv, their order per
stage given by ``ksize`` (slow (1, 1, 3, 3), fast (3, 3, 3, 3)), the first
conv carrying the spatial stride; the audio net has biases on the stem and
block convs, bias-free shortcuts and a 1x1 shortcut in ``layer1``. The
literal totals (15,256,128 / 241,832 / 3,887,424) were measured by building
the released modules; the analytic counts re-derive them from the layout.
"""
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config

from mmavcl.models.backbones import (AudioResNet1d, GLCLBasicBlock3d,
                                     GLCLResNet3d, ResNet3d,
                                     TwoPathwayResNet3d)
from mmavcl.models.backbones.resnet3d import BasicBlock3d
from mmavcl.registry import MODELS

ROOT = __file__.rsplit('/tests/', 1)[0]
PAPER_CONFIG = (f'{ROOT}/configs/glcl/'
                'glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py')
SNIPPET = f'{ROOT}/configs/_base_/models/backbone_glcl.py'

RELEASED_SLOW_PARAMS = 15_256_128
RELEASED_FAST_PARAMS = 241_832
RELEASED_AUDIO_PARAMS = 3_887_424
SLOW_KSIZE, FAST_KSIZE = (1, 1, 3, 3), (3, 3, 3, 3)
SPATIAL_STRIDES = (1, 2, 2, 1)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def released_video_layout(width: int, stem_kt: int, ksizes):
    """{conv name: (c_in, c_out, kernel, stride)} of one released
    ``ResNet_SF`` pathway of depth 18, in mmavcl's module names."""
    full, point = (3, 3, 3), (1, 1, 1)
    convs = {'conv1': (3, width, (stem_kt, 7, 7), (1, 2, 2))}
    c_in = width
    for i, (ksize, s) in enumerate(zip(ksizes, SPATIAL_STRIDES)):
        c_out = width * 2**i
        first, second = (full, point) if ksize == 3 else (point, full)
        for j in range(2):
            stride = (1, s, s) if j == 0 else (1, 1, 1)
            cin_j = c_in if j == 0 else c_out
            convs[f'layer{i + 1}.{j}.conv1'] = (cin_j, c_out, first, stride)
            convs[f'layer{i + 1}.{j}.conv2'] = (c_out, c_out, second,
                                                (1, 1, 1))
        if s != 1 or c_in != c_out:
            convs[f'layer{i + 1}.0.downsample'] = (c_in, c_out, point,
                                                   (1, s, s))
        c_in = c_out
    return convs


def analytic_params(layout) -> int:
    """Bias-free convs, each followed by a BN (weight + bias)."""
    total = 0
    for c_in, c_out, k, _ in layout.values():
        total += c_in * c_out * k[0] * k[1] * k[2] + 2 * c_out
    return total


def conv3d_layout(pathway: nn.Module):
    out = {}
    for name, m in pathway.named_modules():
        if isinstance(m, nn.Conv3d):
            # ConvBNAct3d names its conv `<name>.conv`
            assert m.bias is None and name.endswith('.conv'), name
            out[name[:-len('.conv')]] = (m.in_channels, m.out_channels,
                                         tuple(m.kernel_size),
                                         tuple(m.stride))
    return out


def test_released_layout_analytic_counts():
    slow = released_video_layout(64, 1, SLOW_KSIZE)
    fast = released_video_layout(8, 5, FAST_KSIZE)
    assert analytic_params(slow) == RELEASED_SLOW_PARAMS
    assert analytic_params(fast) == RELEASED_FAST_PARAMS


def test_two_pathway_default_is_the_released_encoder():
    m = TwoPathwayResNet3d()
    assert m.block_layout == 'glcl'
    assert isinstance(m.slow_path, GLCLResNet3d)
    assert count(m.slow_path) == RELEASED_SLOW_PARAMS
    assert count(m.fast_path) == RELEASED_FAST_PARAMS
    # every conv: channels, kernel and stride, per stage and pathway
    assert conv3d_layout(m.slow_path) == released_video_layout(
        64, 1, SLOW_KSIZE)
    assert conv3d_layout(m.fast_path) == released_video_layout(
        8, 5, FAST_KSIZE)
    # one 3x3x3 conv per block in every stage of both pathways
    for path in (m.slow_path, m.fast_path):
        blocks = [b for b in path.modules()
                  if isinstance(b, GLCLBasicBlock3d)]
        assert len(blocks) == 8
        for b in blocks:
            kernels = sorted([b.conv1.conv.kernel_size,
                              b.conv2.conv.kernel_size])
            assert kernels == [(1, 1, 1), (3, 3, 3)]
    m.eval()
    with torch.no_grad():
        slow, fast = m(torch.randn(1, 3, 32, 112, 112))
    assert slow.shape == (1, 512, 4, 7, 7)
    assert fast.shape == (1, 64, 32, 7, 7)


def test_first_conv_kernels_order_and_stride():
    net = GLCLResNet3d(base_channels=4, first_conv_kernels=(3, 1, 3, 1))
    assert net.layer1[0].conv1.conv.kernel_size == (3, 3, 3)
    assert net.layer1[0].conv2.conv.kernel_size == (1, 1, 1)
    # 1x1x1 first, and it carries the stride (a strided 1x1x1 conv, as in
    # the released code)
    assert net.layer2[0].conv1.conv.kernel_size == (1, 1, 1)
    assert net.layer2[0].conv1.conv.stride == (1, 2, 2)
    assert net.layer2[0].conv2.conv.kernel_size == (3, 3, 3)
    assert net.layer2[0].conv2.conv.padding == (1, 1, 1)
    with pytest.raises(ValueError, match='1 or 3'):
        GLCLResNet3d(first_conv_kernels=(1, 1, 5, 3))
    with pytest.raises(TypeError, match='first_conv_kernels'):
        GLCLResNet3d(inflate=(0, 0, 1, 1))
    with pytest.raises(KeyError, match='depth'):
        GLCLResNet3d(depth=50)


def test_our_two_conv_variant_and_key_names():
    ours = TwoPathwayResNet3d(block_layout='mmaction2')
    glcl = TwoPathwayResNet3d()
    assert isinstance(ours.slow_path, ResNet3d)
    assert not isinstance(ours.slow_path, GLCLResNet3d)
    assert count(ours.slow_path) == 31_820_352
    assert count(ours.fast_path) == 524_712
    # same key names in both layouts; only kernel shapes differ
    sd_ours, sd_glcl = ours.state_dict(), glcl.state_dict()
    assert list(sd_ours) == list(sd_glcl)
    differ = [k for k in sd_ours if sd_ours[k].shape != sd_glcl[k].shape]
    assert 'slow_path.layer1.0.conv1.conv.weight' in differ
    assert all(k.endswith('conv.weight') for k in differ)
    # the variant's slow pathway is MMAction2's ResNet3d with these arguments
    mm = ResNet3d(depth=18, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1),
                  spatial_strides=(1, 2, 2, 1), with_pool2=False)
    mm.load_state_dict(ours.slow_path.state_dict(), strict=True)
    with pytest.raises(RuntimeError, match='size mismatch'):
        mm.load_state_dict(glcl.slow_path.state_dict(), strict=True)
    with pytest.raises(ValueError, match='block_layout'):
        TwoPathwayResNet3d(block_layout='slowfast')


@pytest.mark.parametrize('layout', ['glcl', 'mmaction2'])
def test_zero_init_residual_off_in_video_encoder(layout):
    m = TwoPathwayResNet3d(block_layout=layout, slow_channels=16, beta=1 / 4)
    assert not m.slow_path.zero_init_residual
    assert not m.fast_path.zero_init_residual
    m.init_weights()
    for name, mod in m.named_modules():
        if isinstance(mod, nn.BatchNorm3d):
            assert torch.all(mod.weight == 1), name
    blocks = [b for b in m.modules() if isinstance(b, BasicBlock3d)]
    assert blocks and all(b.conv2.bn.weight.abs().min() == 1
                          for b in blocks)


def released_audio_layout(mels=80, width=64):
    """{conv name: (c_in, c_out, kernel, bias)} of the released
    ``resnet18_1d`` in mmavcl's names."""
    convs = {'conv1.conv': (mels, width, 7, True)}
    c_in = width
    for i in range(4):
        c_out = width * 2**i
        for j in range(2):
            convs[f'layer{i + 1}.{j}.conv1.conv'] = (
                c_in if j == 0 else c_out, c_out, 3, True)
            convs[f'layer{i + 1}.{j}.conv2.conv'] = (c_out, c_out, 3, True)
        # layer1 is given stride=2 (ignored by its convs), which still
        # triggers a projection shortcut; the others change width
        convs[f'layer{i + 1}.0.downsample.conv'] = (c_in, c_out, 1, False)
        c_in = c_out
    return convs


def test_audio_resnet1d_is_the_released_net():
    m = AudioResNet1d()
    layout = {n: (c.in_channels, c.out_channels, c.kernel_size[0],
                  c.bias is not None)
              for n, c in m.named_modules() if isinstance(c, nn.Conv1d)}
    assert layout == released_audio_layout()
    assert all(c.stride == (1, ) for c in m.modules()
               if isinstance(c, nn.Conv1d))
    analytic = sum(ci * co * k + (co if bias else 0) + 2 * co
                   for ci, co, k, bias in layout.values())
    assert count(m) == analytic == RELEASED_AUDIO_PARAMS
    assert m(torch.randn(2, 80, 96)).shape == (2, 512, 96)


def test_audio_resnet1d_init_and_zero_init_residual_off():
    torch.manual_seed(0)
    m = AudioResNet1d()
    assert not m.zero_init_residual
    bias_before = m.layer4[1].conv2.conv.bias.detach().clone()
    m.init_weights()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            assert torch.all(mod.weight == 1)
    # Xavier normal: std = sqrt(2 / (fan_in + fan_out)) with fan = C * k
    w = m.layer4[1].conv2.conv.weight
    expected = (2 / (512 * 3 + 512 * 3))**0.5
    assert w.std().item() == pytest.approx(expected, rel=0.02)
    # biases keep PyTorch's default init, as in the released code
    assert torch.equal(m.layer4[1].conv2.conv.bias, bias_before)
    assert bias_before.abs().max() > 0


def test_audio_resnet_options_off_restore_the_plain_net():
    plain = AudioResNet1d(conv_bias=False, layer1_projection_shortcut=False,
                          conv_init='kaiming', zero_init_residual=True)
    assert plain.layer1[0].downsample is None
    assert all(c.bias is None for c in plain.modules()
               if isinstance(c, nn.Conv1d))
    assert count(plain) == 3_879_296
    with pytest.raises(ValueError, match='conv_init'):
        AudioResNet1d(conv_init='orthogonal')


def test_paper_config_and_snippet_build_the_released_encoders():
    cfg = Config.fromfile(PAPER_CONFIG)
    snippet = Config.fromfile(SNIPPET)
    assert cfg.model.backbone.to_dict() == snippet.glcl_video_backbone
    assert cfg.model.audio_backbone.to_dict() == snippet.glcl_audio_backbone
    video = MODELS.build(cfg.model.backbone)
    audio = MODELS.build(cfg.model.audio_backbone)
    assert count(video.slow_path) == RELEASED_SLOW_PARAMS
    assert count(video.fast_path) == RELEASED_FAST_PARAMS
    assert count(audio) == RELEASED_AUDIO_PARAMS
    assert not video.slow_path.zero_init_residual
    assert not video.fast_path.zero_init_residual
    assert not audio.zero_init_residual
