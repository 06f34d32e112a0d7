import math

import pytest
import torch
import torch.nn.functional as F

from mmavcl.models.losses import InfoNCELoss, multi_positive_nce
from mmavcl.registry import MODELS


def _ref_infonce(q, k, tau, queue=None, qmask=None, in_batch=True,
                 mode='milnce', normalize=True):
    """Slow per-row reference written from the equation."""
    if normalize:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        queue = None if queue is None else F.normalize(queue, dim=1)
    total = 0.0
    n = q.shape[0]
    for i in range(n):
        cands, pos = [], []
        if in_batch:
            for j in range(n):
                cands.append(float(q[i] @ k[j]) / tau)
                pos.append(i == j)
        else:
            cands.append(float(q[i] @ k[i]) / tau)
            pos.append(True)
        if queue is not None:
            for j in range(queue.shape[0]):
                cands.append(float(q[i] @ queue[j]) / tau)
                pos.append(bool(qmask[i, j]) if qmask is not None else False)
        denom = sum(math.exp(c) for c in cands)
        pos_vals = [c for c, p in zip(cands, pos) if p]
        if mode == 'milnce':
            total += -math.log(sum(math.exp(c) for c in pos_vals) / denom)
        else:
            logs = [c - math.log(denom) for c in pos_vals]
            total += -sum(logs) / len(logs)
    return total / n


def test_hand_computed_two_samples():
    # Unit vectors at 0 and 90 degrees: s_ii = 1/tau, s_ij = 0.
    q = torch.tensor([[1., 0.], [0., 1.]])
    tau = 0.5
    loss = InfoNCELoss(temperature=tau)(q, q.clone())
    expected = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize('mode', ['milnce', 'supcon'])
@pytest.mark.parametrize('in_batch', [True, False])
def test_against_loop_reference_with_queue(mode, in_batch):
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    queue = torch.randn(6, 7, generator=g)
    qmask = torch.rand(5, 6, generator=g) > 0.6
    loss_fn = InfoNCELoss(temperature=0.2, multi_positive=mode,
                          in_batch_negatives=in_batch)
    loss, logits, pos = loss_fn(q, k, queue, qmask, return_logits=True)
    ref = _ref_infonce(q, k, 0.2, queue, qmask, in_batch, mode)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    n_batch = 5 if in_batch else 1
    assert logits.shape == pos.shape == (5, n_batch + 6)
    assert pos[:, n_batch:].equal(qmask)


def test_no_queue_matches_cross_entropy_and_unnormalised():
    g = torch.Generator().manual_seed(1)
    q, k = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    loss = InfoNCELoss(temperature=0.3, normalize=False)(q, k)
    ce = F.cross_entropy(q @ k.t() / 0.3, torch.arange(4))
    assert loss.item() == pytest.approx(ce.item(), rel=1e-6)
    ref = _ref_infonce(q, k, 0.3, normalize=False)
    assert loss.item() == pytest.approx(ref, rel=1e-5)


def test_supcon_and_milnce_differ_only_with_several_positives():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.5, 0.1, 3.0]])
    one = torch.tensor([[True, False, False], [False, False, True]])
    two = torch.tensor([[True, True, False], [False, True, True]])
    a = multi_positive_nce(logits, one, 'milnce')
    b = multi_positive_nce(logits, one, 'supcon')
    assert torch.allclose(a, b)
    mil = multi_positive_nce(logits, two, 'milnce')
    sup = multi_positive_nce(logits, two, 'supcon')
    lz0 = math.log(math.exp(2) + math.exp(1) + 1)
    assert mil[0].item() == pytest.approx(
        lz0 - math.log(math.exp(2) + math.exp(1)), rel=1e-5)
    assert sup[0].item() == pytest.approx(lz0 - 1.5, rel=1e-5)
    assert (sup >= mil - 1e-6).all()  # Jensen


def test_symmetric_is_mean_of_both_directions():
    g = torch.Generator().manual_seed(2)
    q, k = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    sym = InfoNCELoss(temperature=0.1, symmetric=True)(q, k)
    ref = 0.5 * (_ref_infonce(q, k, 0.1) + _ref_infonce(k, q, 0.1))
    assert sym.item() == pytest.approx(ref, rel=1e-5)


def test_gradient_matches_loop_reference():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(4, 5, generator=g, requires_grad=True)
    k = torch.randn(4, 5, generator=g, requires_grad=True)
    InfoNCELoss(temperature=0.2, symmetric=True)(q, k).backward()
    q2, k2 = q.detach().clone().requires_grad_(), k.detach().clone()
    k2.requires_grad_()
    qn, kn = F.normalize(q2, dim=1), F.normalize(k2, dim=1)
    s = qn @ kn.t() / 0.2
    ref = 0.5 * (F.cross_entropy(s, torch.arange(4)) +
                 F.cross_entropy(s.t(), torch.arange(4)))
    ref.backward()
    assert torch.allclose(q.grad, q2.grad, atol=1e-6)
    assert torch.allclose(k.grad, k2.grad, atol=1e-6)


def test_fp32_under_autocast_and_weight():
    g = torch.Generator().manual_seed(4)
    q, k = torch.randn(4, 8, generator=g), torch.randn(4, 8, generator=g)
    ref = InfoNCELoss(loss_weight=2.0)(q, k)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = InfoNCELoss(loss_weight=2.0)(q.bfloat16(), k.bfloat16())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(ref.item(), rel=2e-2)
    assert ref.item() == pytest.approx(2 * _ref_infonce(q, k, 0.1), rel=1e-5)


def test_registered_and_bad_input():
    loss = MODELS.build(dict(type='InfoNCELoss', temperature=0.07))
    assert isinstance(loss, InfoNCELoss)
    with pytest.raises(ValueError, match='same shape'):
        loss(torch.randn(3, 4), torch.randn(2, 4))
    with pytest.raises(ValueError, match='queue must be'):
        loss(torch.randn(3, 4), torch.randn(3, 4), torch.randn(5, 3))
    with pytest.raises(ValueError, match='queue_pos_mask'):
        loss(torch.randn(3, 4), torch.randn(3, 4), torch.randn(5, 4),
             torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match='symmetric'):
        InfoNCELoss(symmetric=True)(torch.randn(3, 4), torch.randn(3, 4),
                                    torch.randn(5, 4))
    with pytest.raises(ValueError, match='multi_positive'):
        InfoNCELoss(multi_positive='mean')
