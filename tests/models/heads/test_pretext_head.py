import math

import pytest
import torch
import torch.nn as nn

from mmavcl.models.heads import PretextClsHead
from mmavcl.models.losses import CrossEntropyLoss
from mmavcl.registry import MODELS


def test_linear_head_concat_and_loss_value():
    """The head makes logits only; an algorithm scores them with its own
    loss config (a CrossEntropyLoss here)."""
    head = PretextClsHead(in_channels=4, num_classes=3)
    assert [type(m) for m in head.mlp] == [nn.Linear]
    with torch.no_grad():
        head.mlp[0].weight.zero_()
        head.mlp[0].bias.copy_(torch.tensor([0., math.log(2.), 0.]))
    a, b = torch.randn(2, 2, 3, 3), torch.randn(2, 2)   # dense + pooled
    logits = head([a, b])
    assert logits.shape == (2, 3)
    assert not hasattr(head, 'loss') and not hasattr(head, 'loss_module')
    loss = CrossEntropyLoss()(logits, torch.tensor([1, 1]))
    assert loss.item() == pytest.approx(-math.log(2 / 4))


def test_mlp_head_build_and_errors():
    head = MODELS.build(dict(type='PretextClsHead', in_channels=8,
                             num_classes=4, hid_channels=[16],
                             norm_cfg=dict(type='BN1d'), dropout=0.1))
    assert [type(m) for m in head.mlp] == [nn.Linear, nn.BatchNorm1d,
                                          nn.ReLU, nn.Dropout, nn.Linear]
    x = torch.randn(3, 8, requires_grad=True)
    CrossEntropyLoss()(head(x), torch.tensor([0, 3, 2])).backward()
    assert x.grad is not None
    with pytest.raises(ValueError, match='8 channels'):
        head(torch.randn(3, 7))
    with pytest.raises(ValueError, match='num_classes'):
        PretextClsHead(8, 1)
