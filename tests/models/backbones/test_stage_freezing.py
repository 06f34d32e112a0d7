"""frozen_stages / norm_eval behave the same in every ResNet-style backbone
(they share StageFreezingMixin)."""
import pytest
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmavcl.models.backbones import (AudioResNet1d, AudioResNet2d, ResNet3d,
                                     TSNResNet2d)

BACKBONES = [
    (ResNet3d, dict(depth=18, base_channels=4), ['conv1']),
    (AudioResNet2d, dict(depth=10, base_channels=4), ['conv1']),
    (AudioResNet1d, dict(depth=10, base_channels=4), ['conv1']),
    (TSNResNet2d, dict(depth=18), ['conv1', 'bn1']),
]


@pytest.mark.parametrize('cls,kwargs,stem', BACKBONES,
                         ids=[b[0].__name__ for b in BACKBONES])
def test_frozen_stages_and_norm_eval(cls, kwargs, stem):
    m = cls(frozen_stages=2, norm_eval=False, **kwargs).train()
    frozen = [getattr(m, n) for n in stem] + [m.layer1, m.layer2]
    for mod in frozen:
        assert not mod.training
        assert all(not p.requires_grad for p in mod.parameters())
    for mod in (m.layer3, m.layer4):
        assert mod.training
        assert all(p.requires_grad for p in mod.parameters())

    m = cls(frozen_stages=-1, norm_eval=True, **kwargs).train()
    bns = [x for x in m.modules() if isinstance(x, _BatchNorm)]
    assert bns and all(not bn.training for bn in bns)
    convs = [x for x in m.modules()
             if isinstance(x, (nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    assert all(c.training for c in convs)
    assert all(p.requires_grad for p in m.parameters())
