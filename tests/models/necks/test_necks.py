import pytest
import torch
import torch.nn as nn

from mmavcl.models.necks import ConvMLPNeck, MLPNeck
from mmavcl.registry import MODELS


def test_mlp_neck_pools_then_projects_by_hand():
    neck = MLPNeck(in_channels=3, hid_channels=4, out_channels=2,
                   num_layers=2, norm_cfg=None)
    x = torch.randn(2, 3, 2, 3, 3)
    lin1, lin2 = neck.mlp[0], neck.mlp[2]
    pooled = x.mean(dim=(2, 3, 4))
    ref = lin2(torch.relu(lin1(pooled)))
    torch.testing.assert_close(neck(x), ref)
    # tuple input -> last map
    torch.testing.assert_close(neck((torch.zeros(1), x)), ref)


def test_mlp_neck_layers_bn_and_pool_time():
    neck = MODELS.build(dict(type='MLPNeck', in_channels=8,
                             hid_channels=[16, 16], out_channels=4,
                             num_layers=3, norm_cfg=dict(type='BN1d'),
                             with_last_bn=True))
    types = [type(m) for m in neck.mlp]
    assert types == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear,
                     nn.BatchNorm1d, nn.ReLU, nn.Linear, nn.BatchNorm1d]
    assert neck(torch.randn(4, 8, 2, 3, 3)).shape == (4, 4)
    # Per-time features: pool H, W only; equals the MLP applied per step.
    neck_t = MLPNeck(8, 6, 5, pool_time=True).eval()
    x = torch.randn(2, 8, 3, 4, 4)
    out = neck_t(x)
    assert out.shape == (2, 3, 5)
    for t in range(3):
        torch.testing.assert_close(out[:, t], neck_t.mlp(x[:, :, t].mean(
            dim=(2, 3))))
    # Audio (B, C, F, T) with time on the last axis.
    a = torch.randn(2, 8, 4, 7)
    out = MLPNeck(8, 6, 5, pool_time=True, time_dim=3)(a)
    assert out.shape == (2, 7, 5)
    # max pooling
    neck_m = MLPNeck(8, 6, 5, num_layers=1, pool='max')
    torch.testing.assert_close(neck_m(x), neck_m.mlp(x.amax(dim=(2, 3, 4))))


def test_mlp_neck_errors():
    with pytest.raises(ValueError, match='num_layers'):
        MLPNeck(4, [8, 8], 2, num_layers=2)
    with pytest.raises(ValueError, match=r'\(B, 4, \.\.\.\)'):
        MLPNeck(4, 8, 2)(torch.randn(2, 5))


def test_conv_mlp_neck_is_pointwise_mlp():
    neck = ConvMLPNeck(6, 5, 3, num_layers=2, ndim=3,
                       norm_cfg=dict(type='BN3d')).eval()
    x = torch.randn(2, 6, 2, 3, 3)
    out = neck(x)
    assert out.shape == (2, 3, 2, 3, 3)
    # Position (t, h, w) depends only on the features at that position.
    conv1, bn, _, conv2 = neck.mlp
    h = torch.relu(bn(conv1(x))[:, :, 1, 2, 0])
    ref = h @ conv2.weight.view(3, 5).t() + conv2.bias
    torch.testing.assert_close(out[:, :, 1, 2, 0], ref)
    assert ConvMLPNeck(64, 64, 64, ndim=1)(torch.randn(2, 64, 9)).shape == (
        2, 64, 9)
    with pytest.raises(ValueError, match='ndim=3'):
        neck(torch.randn(2, 6, 3, 3))
