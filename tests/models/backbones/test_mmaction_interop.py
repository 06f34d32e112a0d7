"""Weights move to MMAction2's own classes without key surgery."""
import pytest
import torch

from mmavcl.models.backbones import ResNet2Plus1d, ResNet3d
from mmavcl.utils.compat import patch_mmaction_wheel

R3D18 = dict(depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
             with_pool2=False, temporal_strides=(1, 2, 2, 2))
R2P1D18 = dict(depth=18, temporal_strides=(1, 2, 2, 2),
               norm_cfg=dict(type='BN3d', eps=1e-3), zero_init_residual=False)
SLOWONLY = dict(depth=50, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1),
                with_pool2=False, base_channels=8)


@pytest.fixture(scope='module')
def mmaction_models():
    patch_mmaction_wheel()
    try:
        import mmaction.models as mm
    except Exception as err:  # mmaction2 is an optional extra
        pytest.skip(f'mmaction.models is not importable: {err!r}')
    return mm


def _randomise(m):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, t in m.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith('running_var'):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)


@pytest.mark.parametrize('ours,theirs,cfg,extra', [
    (ResNet3d, 'ResNet3d', R3D18, {}),
    (ResNet2Plus1d, 'ResNet2Plus1d', R2P1D18,
     dict(conv_cfg=dict(type='Conv2plus1d'))),
    (ResNet3d, 'ResNet3d', SLOWONLY, {}),
])
def test_state_dict_loads_into_mmaction(mmaction_models, tmp_path, ours,
                                        theirs, cfg, extra):
    from mmengine.registry import DefaultScope
    src = ours(**cfg)
    _randomise(src)
    path = tmp_path / 'backbone.pth'
    torch.save(src.state_dict(), path)
    with DefaultScope.overwrite_default_scope('mmaction'):
        dst = getattr(mmaction_models, theirs)(
            pretrained=None, pretrained2d=False, **cfg, **extra)
    sd = torch.load(path, weights_only=True)
    result = dst.load_state_dict(sd, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    src.eval()
    dst.eval()
    x = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(src(x), dst(x), rtol=1e-4, atol=1e-5)
