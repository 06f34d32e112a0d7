import math

import pytest
import torch
import torch.nn.functional as F

from mmavcl.models.losses import CrossEntropyLoss, SoftTargetContrastLoss


def test_soft_target_loop_reference():
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(3, 4, generator=g), torch.randn(5, 4, generator=g)
    w = torch.rand(3, 5, generator=g)
    w[1] = 0.0  # skipped row
    loss = SoftTargetContrastLoss(temperature=0.2)(q, k, w)
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    total, rows = 0.0, 0
    for i in range(3):
        if float(w[i].sum()) == 0:
            continue
        s = [float(qn[i] @ kn[j]) / 0.2 for j in range(5)]
        lz = math.log(sum(math.exp(x) for x in s))
        total += -sum(float(w[i, j]) / float(w[i].sum()) * (s[j] - lz)
                      for j in range(5))
        rows += 1
    assert loss.item() == pytest.approx(total / rows, rel=1e-5)


def test_soft_target_one_hot_is_infonce_and_errors():
    q = torch.tensor([[1., 0.], [0., 1.]])
    loss = SoftTargetContrastLoss(temperature=1.0)(q, q, torch.eye(2) * 3)
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)))
    zero = SoftTargetContrastLoss()(q.requires_grad_(), q, torch.zeros(2, 2))
    assert zero.item() == 0.0 and zero.requires_grad
    with pytest.raises(ValueError, match='>= 0'):
        SoftTargetContrastLoss()(q, q, -torch.eye(2))
    with pytest.raises(ValueError, match=r'weights must be \(N, M\)'):
        SoftTargetContrastLoss()(q, q, torch.eye(3))


def test_cross_entropy_hand_value_and_errors():
    logits = torch.tensor([[0., math.log(3.)]])
    ce = CrossEntropyLoss(loss_weight=2.0)(logits, torch.tensor([1]))
    assert ce.item() == pytest.approx(2 * -math.log(3 / 4))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = CrossEntropyLoss()(logits.bfloat16(), torch.tensor([1]))
    assert out.dtype == torch.float32
    with pytest.raises(ValueError, match=r'in \[0, 2\)'):
        CrossEntropyLoss()(logits, torch.tensor([2]))
    with pytest.raises(ValueError, match='target'):
        CrossEntropyLoss()(logits, torch.tensor([[1]]))
