import math

import pytest
import torch
import torch.nn.functional as F

from mmavcl.models.losses import MILNCELoss, time_window_bags


def _ref_milnce(a, c, mask, tau, symmetric, twice=False):
    n, p, _ = c.shape
    total = 0.0
    for i in range(n):
        num = sum(math.exp(float(a[i] @ c[i, k]) / tau)
                  for k in range(p) if mask[i, k])
        den = 0.0
        for j in range(n):
            for k in range(p):
                if mask[j, k]:
                    den += math.exp(float(a[i] @ c[j, k]) / tau)
                if symmetric and (j != i or twice) and mask[i, k]:
                    den += math.exp(float(a[j] @ c[i, k]) / tau)
        total += -math.log(num / den)
    return total / n


@pytest.mark.parametrize('symmetric', [False, True])
def test_against_loop_reference(symmetric):
    g = torch.Generator().manual_seed(0)
    a, c = torch.randn(4, 3, generator=g), torch.randn(4, 5, 3, generator=g)
    mask = torch.rand(4, 5, generator=g) > 0.3
    mask[:, 0] = True
    loss = MILNCELoss(temperature=0.5, symmetric=symmetric)(a, c, mask)
    ref = _ref_milnce(a, c, mask, 0.5, symmetric)
    assert loss.item() == pytest.approx(ref, rel=1e-5)


@pytest.mark.parametrize('positive', ['once', 'twice'])
def test_positive_in_denominator_against_loop_reference(positive):
    g = torch.Generator().manual_seed(2)
    a, c = torch.randn(5, 3, generator=g), torch.randn(5, 4, 3, generator=g)
    mask = torch.rand(5, 4, generator=g) > 0.4
    mask[:, 1] = True
    loss = MILNCELoss(temperature=0.7, symmetric=True,
                      positive_in_denominator=positive)(a, c, mask)
    ref = _ref_milnce(a, c, mask, 0.7, True, twice=positive == 'twice')
    assert loss.item() == pytest.approx(ref, rel=1e-5)


def test_positive_twice_by_hand():
    # a_1 = c_1 = (1, 0), a_2 = c_2 = (0, 1), tau 1: s_ii = 1, s_ij = 0.
    # once:  -log e / (e + 1 + 1)       (s_i1, s_i2, then s_ji for j != i)
    # twice: -log e / (e + 1 + 1 + e)   (s_ii again from the reverse side)
    a = torch.tensor([[1., 0.], [0., 1.]])
    once = MILNCELoss(symmetric=True)(a, a[:, None])
    twice = MILNCELoss(symmetric=True,
                       positive_in_denominator='twice')(a, a[:, None])
    assert once.item() == pytest.approx(-math.log(math.e / (math.e + 2)),
                                        rel=1e-6)
    assert twice.item() == pytest.approx(
        -math.log(math.e / (2 * math.e + 2)), rel=1e-6)


def test_positive_twice_matches_glcl_code_form():
    """GLCL's released global loss, written from its equation: per anchor
    i, LSE over the concatenation of row i of s and row i of s^T (so
    s_ii(p) twice) minus LSE_p s_ii(p), no normalisation, tau 1."""
    g = torch.Generator().manual_seed(3)
    a, c = torch.randn(6, 8, generator=g), torch.randn(6, 9, 8, generator=g)
    dot = torch.einsum('id,jpd->ijp', a, c).double()      # s_ij(p)
    b = dot.shape[0]
    num = torch.stack([torch.logsumexp(dot[i, i], 0) for i in range(b)])
    den = torch.stack([torch.logsumexp(torch.cat([dot[i].flatten(),
                                                  dot[:, i].flatten()]), 0)
                       for i in range(b)])
    ref = (den - num).mean().item()
    loss = MILNCELoss(symmetric=True, positive_in_denominator='twice')(a, c)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    once = MILNCELoss(symmetric=True)(a, c).item()
    assert once < loss.item() <= once + math.log(2) + 1e-6


def test_positive_in_denominator_bad_values():
    with pytest.raises(ValueError, match='positive_in_denominator'):
        MILNCELoss(symmetric=True, positive_in_denominator='thrice')
    with pytest.raises(ValueError, match='needs symmetric=True'):
        MILNCELoss(positive_in_denominator='twice')


def test_hand_computed_single_item_bags_is_infonce():
    a = torch.tensor([[1., 0.], [0., 1.]])
    loss = MILNCELoss(temperature=1.0)(a, a[:, None])
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)),
                                        rel=1e-6)


def test_normalize_and_autocast():
    g = torch.Generator().manual_seed(1)
    a, c = torch.randn(3, 4, generator=g), torch.randn(3, 2, 4, generator=g)
    loss = MILNCELoss(temperature=0.1, normalize=True)(a, c)
    ref = _ref_milnce(F.normalize(a, dim=-1), F.normalize(c, dim=-1),
                      torch.ones(3, 2, dtype=torch.bool), 0.1, False)
    assert loss.item() == pytest.approx(ref, rel=1e-5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = MILNCELoss(temperature=0.1, normalize=True)(a.bfloat16(),
                                                          c.bfloat16())
    assert out.dtype == torch.float32


def test_bad_input():
    with pytest.raises(ValueError, match=r'bags \(N, P, D\)'):
        MILNCELoss()(torch.randn(3, 4), torch.randn(3, 4))
    with pytest.raises(ValueError, match='unmasked'):
        MILNCELoss()(torch.randn(2, 4), torch.randn(2, 3, 4),
                     torch.tensor([[True, False, False], [False] * 3]))


def _ref_overlap(t_a, t_b):
    """Target steps whose span overlaps anchor step t (exact rationals)."""
    from fractions import Fraction
    out = []
    for t in range(t_a):
        lo, hi = Fraction(t, t_a), Fraction(t + 1, t_a)
        out.append([u for u in range(t_b)
                    if Fraction(u, t_b) < hi and Fraction(u + 1, t_b) > lo])
    return out


@pytest.mark.parametrize('t_a,t_b', [(32, 96), (8, 16), (4, 4), (5, 10)])
def test_time_window_bags_integer_ratio_equals_overlap(t_a, t_b):
    bags = time_window_bags(t_a, t_b, t_b // t_a)
    assert bags.tolist() == _ref_overlap(t_a, t_b)


def test_time_window_bags_non_integer_ratio():
    # r = 2.5, default window = round(2.5) -> 3 (round half up).
    bags = time_window_bags(4, 10)
    assert bags.tolist() == [[0, 1, 2], [2, 3, 4], [5, 6, 7], [7, 8, 9]]
    # Each window lies inside [0, T_b) and contains the target step that
    # holds the anchor step's centre.
    bags = time_window_bags(7, 30, 5)
    for t, row in enumerate(bags.tolist()):
        centre = int((t + 0.5) * 30 / 7)
        assert row[0] <= centre <= row[-1]
        assert row == list(range(row[0], row[0] + 5))
        assert 0 <= row[0] and row[-1] < 30
    # More anchor than target steps: each anchor gets its covering step.
    assert time_window_bags(6, 3, 1).flatten().tolist() == [0, 0, 1, 1, 2, 2]


def test_time_window_bags_errors():
    with pytest.raises(ValueError, match='window'):
        time_window_bags(4, 3, 5)
    with pytest.raises(ValueError, match='positive'):
        time_window_bags(0, 3, 1)
