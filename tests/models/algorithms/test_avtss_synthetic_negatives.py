"""AVTSS synthetic hard negatives (issue #20 §4): each query is contrasted
with its own synthesised negatives (``hard_negative_scope='query'``, the
default, as the docstring, the README and the abstract's "sample-dependent"
negatives say), and ``'batch'`` keeps the old code's sharing exactly.

Every expected value here is a slow per-sample Python loop written from the
equations (class docstring of ``AVTSS`` and ``mix_hard_negatives``), fed
with the same recorded random draws as the model.
"""
import math

import pytest
import torch

import mmavcl.models.algorithms.avtss as avtss_module
from alg_helpers import build, close, unit
from mmavcl.models.losses import InfoNCELoss
from test_alg_avtss import D, KNN, NHARD, POOL, QLEN, TAU
from test_alg_avtss import avtss_cfg as base_avtss_cfg

N = 4


def avtss_cfg(**kw):
    cfg = base_avtss_cfg()  # the same tiny model as test_alg_avtss.py
    cfg.update(kw)
    return cfg


def fixed_tensors(seed=0):
    """Unit-norm queries (leaf, with grad), keys and queue."""
    g = torch.Generator().manual_seed(seed)
    q = unit(torch.randn(N, D, generator=g)).requires_grad_()
    k = unit(torch.randn(N, D, generator=g))
    queue = unit(torch.randn(QLEN, D, generator=g))
    return q, k, queue


@pytest.fixture
def recorded_draws(monkeypatch):
    """Spy on ``sample_mixing_weights``: each call's (a, b, lam)."""
    calls = []
    real = avtss_module.sample_mixing_weights

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(tuple(t.clone() for t in out))
        return out

    monkeypatch.setattr(avtss_module, 'sample_mixing_weights', spy)
    return calls


# ------------------------------------------------------- slow references
def ref_hard_negatives(q, k, queue, a, b, lam):
    """Per query i, loop by loop: positives = the KNN queue rows nearest to
    k_i; pool = the POOL rows nearest to q_i among the rest (sorted by
    cosine); h_im = unit(lam u_a + (1 - lam) u_b). Returns a list of N
    (NHARD, D) tensors."""
    out = []
    for i in range(N):
        pos = set(torch.argsort(queue @ k[i], descending=True)[:KNN]
                  .tolist())
        order = [j for j in torch.argsort(queue @ q[i].detach(),
                                          descending=True).tolist()
                 if j not in pos][:POOL]
        hs = []
        for m in range(NHARD):
            lm = float(lam[i, m, 0])
            mix = lm * queue[order[int(a[i, m])]] + \
                (1 - lm) * queue[order[int(b[i, m])]]
            hs.append(mix / math.sqrt(float(mix @ mix)))
        out.append(torch.stack(hs))
    return out


def ref_row(qi, ki, queue, pos_idx, negs):
    """-log sum_{p in {k_i} U queue[pos]} e^{q.p/t} / sum_c e^{q.c/t} with
    c over {k_i} U queue U negs, one scalar at a time."""
    terms = [qi @ ki / TAU] + [qi @ queue[j] / TAU for j in range(QLEN)] + \
        [qi @ h / TAU for h in negs]
    pos_terms = [terms[0]] + [terms[1 + j] for j in pos_idx]
    return torch.logsumexp(torch.stack(terms), 0) - \
        torch.logsumexp(torch.stack(pos_terms), 0)


def ref_contrast(q, k, queue, hard, shared):
    """Mean over rows. ``shared``: every row also gets the other rows'
    negatives (the code before issue #20). ``InfoNCELoss(normalize=True)``
    L2-normalises the queries, so the reference does too: the values agree
    without it (unit inputs), the gradients would not (the normalisation
    projects out the radial part)."""
    q = unit(q)
    rows = []
    for i in range(N):
        pos_idx = torch.argsort(queue @ k[i], descending=True)[:KNN].tolist()
        negs = [h for j in range(N) for h in hard[j]] if shared \
            else list(hard[i])
        rows.append(ref_row(q[i], k[i], queue, pos_idx, negs))
    return torch.stack(rows).mean()


# ----------------------------------------------------------------- tests
@pytest.mark.parametrize('mode', ['milnce', 'supcon'])
@pytest.mark.parametrize('in_batch', [True, False])
def test_infonce_row_negatives_against_loop(mode, in_batch):
    """``row_negatives[i]`` are candidates of row i alone: value, logits
    layout and gradient against a scalar loop."""
    g = torch.Generator().manual_seed(1)
    q = torch.randn(N, D, generator=g).requires_grad_()
    k = torch.randn(N, D, generator=g)
    queue = torch.randn(6, D, generator=g)
    qmask = torch.rand(N, 6, generator=g) > 0.6
    own = torch.randn(N, 3, D, generator=g)
    loss_fn = InfoNCELoss(temperature=TAU, multi_positive=mode,
                          in_batch_negatives=in_batch)
    loss, logits, pos = loss_fn(q, k, queue, qmask, return_logits=True,
                                row_negatives=own)
    assert logits.shape == (N, (N if in_batch else 1) + 6 + 3)
    assert not pos[:, -3:].any()

    q2 = q.detach().clone().requires_grad_()
    qn, kn, un = unit(q2), unit(k), unit(queue)
    total = 0
    for i in range(N):
        cands = ([(kn[j], i == j) for j in range(N)] if in_batch
                 else [(kn[i], True)])
        cands += [(un[j], bool(qmask[i, j])) for j in range(6)]
        cands += [(unit(own[i, h]), False) for h in range(3)]
        s = torch.stack([qn[i] @ c / TAU for c, _ in cands])
        p = torch.tensor([flag for _, flag in cands])
        log_z = torch.logsumexp(s, 0)
        if mode == 'milnce':
            total = total + log_z - torch.logsumexp(s[p], 0)
        else:
            total = total - (s[p] - log_z).mean()
    ref = total / N
    close(loss, ref)
    loss.backward()
    ref.backward()
    close(q.grad, q2.grad)


def test_infonce_row_negatives_bad_input():
    q = torch.randn(N, D)
    with pytest.raises(ValueError, match='row_negatives must be'):
        InfoNCELoss()(q, q, row_negatives=torch.randn(N + 1, 2, D))
    with pytest.raises(ValueError, match='row_negatives must be'):
        InfoNCELoss()(q, q, row_negatives=torch.randn(N, D))
    with pytest.raises(ValueError, match='symmetric'):
        InfoNCELoss(symmetric=True)(q, q,
                                    row_negatives=torch.randn(N, 2, D))


def test_mix_hard_negatives_against_loop(recorded_draws):
    q, k, queue = fixed_tensors()
    pos = avtss_module.neighbour_positives(k, queue, KNN)
    g = torch.Generator().manual_seed(7)
    hard = avtss_module.mix_hard_negatives(q, queue, pos, NHARD, POOL, g)
    assert hard.shape == (N, NHARD, D) and not hard.requires_grad
    (a, b, lam), = recorded_draws
    ref = ref_hard_negatives(q, k, queue, a, b, lam)
    close(hard, torch.stack(ref))
    # the draws are seedable: the same seed gives the same negatives
    again = avtss_module.mix_hard_negatives(
        q, queue, pos, NHARD, POOL, torch.Generator().manual_seed(7))
    assert torch.equal(hard, again)
    assert avtss_module.mix_hard_negatives(q, queue, pos, 0, POOL).shape \
        == (N, 0, D)


@pytest.mark.parametrize('scope', ['query', 'batch'])
def test_contrast_value_and_gradient_against_loop(scope, recorded_draws):
    """(a) value and (b) gradient of ``AVTSS.contrast`` against the slow
    per-sample loop, with the model's seeded draws; 'query' gives each row
    only its own NHARD negatives, 'batch' all N * NHARD."""
    model = build(avtss_cfg(hard_negative_scope=scope))
    model.hard_negative_generator = torch.Generator().manual_seed(3)
    q, k, queue = fixed_tensors()
    loss, logs = model.contrast(model.loss_vv, 'vv', q, k, queue)
    (a, b, lam), = recorded_draws
    q_ref = q.detach().clone().requires_grad_()
    hard = ref_hard_negatives(q_ref, k, queue, a, b, lam)
    ref = ref_contrast(q_ref, k, queue, hard, shared=scope == 'batch')
    close(loss, ref)
    loss.backward()
    ref.backward()
    close(q.grad, q_ref.grad)
    assert 'acc_vv' in logs and 'std_vv' in logs
    # the other scope's value is a different number: the test tells them
    # apart (the old code fails the 'query' case)
    other = ref_contrast(q_ref.detach(), k, queue, hard,
                         shared=scope != 'batch')
    assert abs(float(other) - float(ref.detach())) > 1e-3


def test_batch_scope_reproduces_the_old_code():
    """(c) 'batch' equals the code at HEAD before issue #20, written out by
    hand: draws randint, randint, rand from one generator over (N, NHARD);
    mixes flattened to (N * NHARD, D) and appended to the queue for every
    row. The same generator seed must give the same loss."""
    model = build(avtss_cfg(hard_negative_scope='batch'))
    model.hard_negative_generator = torch.Generator().manual_seed(11)
    q, k, queue = fixed_tensors(seed=5)
    loss, _ = model.contrast(model.loss_va, 'va', q, k, queue)

    g = torch.Generator().manual_seed(11)
    with torch.no_grad():
        knn = (k @ queue.t()).topk(KNN, dim=1).indices
        pos = torch.zeros(N, QLEN, dtype=torch.bool)
        pos.scatter_(1, knn, True)
        sim = (q @ queue.t()).masked_fill(pos, float('-inf'))
        near = queue[sim.topk(POOL, dim=1).indices]       # (N, POOL, D)
        i = torch.randint(POOL, (N, NHARD), generator=g)
        j = torch.randint(POOL, (N, NHARD), generator=g)
        lam = torch.rand(N, NHARD, 1, generator=g)
        rows = torch.arange(N)[:, None]
        mixed = lam * near[rows, i] + (1 - lam) * near[rows, j]
        hard = (mixed / mixed.norm(dim=2, keepdim=True)).reshape(-1, D)
        old = []
        for r in range(N):
            negs = [hard[m] for m in range(N * NHARD)]
            old.append(ref_row(q[r], k[r], queue, knn[r].tolist(), negs))
    close(loss, torch.stack(old).mean())


def test_query_scope_rows_do_not_see_each_other(recorded_draws):
    """Per query, row 0's loss gradient does not depend on the other
    queries (nothing is shared, so nothing needs gathering across ranks);
    with 'batch' it does, through their negatives."""
    def grad_row0(scope, q):
        model = build(avtss_cfg(hard_negative_scope=scope))
        model.hard_negative_generator = torch.Generator().manual_seed(3)
        q = q.detach().clone().requires_grad_()
        model.contrast(model.loss_vv, 'vv', q, k, queue)[0].backward()
        return q.grad[0]

    q, k, queue = fixed_tensors()
    q_other = q.detach().clone()
    q_other[1:] = unit(torch.randn(N - 1, D,
                                   generator=torch.Generator().manual_seed(9)))
    close(grad_row0('query', q), grad_row0('query', q_other))
    assert not torch.allclose(grad_row0('batch', q),
                              grad_row0('batch', q_other), atol=1e-5)


def test_build_checks():
    with pytest.raises(ValueError, match='hard_negative_scope'):
        build(avtss_cfg(hard_negative_scope='global'))
    with pytest.raises(ValueError, match='hard_negative_pool'):
        build(avtss_cfg(hard_negative_pool=QLEN - KNN + 1))
    # no synthetic negatives: the pool is never used, so no constraint
    build(avtss_cfg(num_hard_negatives=0, hard_negative_pool=QLEN))
