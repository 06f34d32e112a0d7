"""Two real gloo processes on CPU: gather-with-gradient, queue, shuffle-BN.

The parent computes every reference in one process holding the whole batch;
the workers save what they computed and the parent compares.
"""
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from mmavcl.models.algorithms.base import BaseSSLAlgorithm
from mmavcl.models.losses import InfoNCELoss, MILNCELoss
from mmavcl.models.utils import (FeatureQueue, all_gather_with_grad,
                                 batch_shuffle_ddp, batch_unshuffle_ddp,
                                 concat_all_gather, get_dist_info)

WORLD = 2
D_IN, D = 6, 4
N_EQUAL = 3                 # per-rank batch for the DDP check
SIZES = (2, 5)              # unequal per-rank batches for the input check


def _data():
    g = torch.Generator().manual_seed(0)
    return dict(
        xq=torch.randn(WORLD * N_EQUAL, D_IN, generator=g),
        xk=torch.randn(WORLD * N_EQUAL, D_IN, generator=g),
        q=torch.randn(sum(SIZES), D, generator=g),
        k=torch.randn(sum(SIZES), D, generator=g),
        bags=torch.randn(sum(SIZES), 3, D, generator=g),
        net=dict(weight=torch.randn(D, D_IN, generator=g),
                 bias=torch.randn(D, generator=g)),
    )


def _naive_gather(x):
    """Gather that keeps only the local graph and does NOT reduce the
    gradient: the convention the test must be able to tell apart."""
    rank, world = get_dist_info()
    parts = [torch.empty_like(x) for _ in range(world)]
    dist.all_gather(parts, x.detach())
    parts[rank] = x
    return torch.cat(parts)


def _ddp_grads(data, rank, naive):
    net = nn.Linear(D_IN, D)
    net.load_state_dict(data['net'])
    model = DDP(net)  # CPU module: device_ids=None
    sl = slice(rank * N_EQUAL, (rank + 1) * N_EQUAL)
    q, k = model(data['xq'][sl]), model(data['xk'][sl])
    if naive:
        import mmavcl.models.losses.info_nce as mod
        orig = mod.all_gather_with_grad
        mod.all_gather_with_grad = lambda x, return_offset=False: (
            _naive_gather(x), rank * x.shape[0])
        try:
            loss = InfoNCELoss(temperature=0.2, symmetric=True)(q, k)
        finally:
            mod.all_gather_with_grad = orig
    else:
        loss = InfoNCELoss(temperature=0.2, symmetric=True)(q, k)
    loss.backward()
    return {n: p.grad.clone() for n, p in net.named_parameters()}


class _NoLoss(BaseSSLAlgorithm):
    def loss(self, inputs, data_samples):
        return {}


def _worker(rank, init_file, out_dir):
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=WORLD)
    torch.manual_seed(rank)
    data = _data()
    res = {'dist_info': get_dist_info()}
    # 1. DDP parameter gradients, equal batches.
    res['ddp'] = _ddp_grads(data, rank, naive=False)
    res['ddp_naive'] = _ddp_grads(data, rank, naive=True)
    # 2. Input gradients of summed losses with unequal batches.
    start = sum(SIZES[:rank])
    sl = slice(start, start + SIZES[rank])
    q = data['q'][sl].clone().requires_grad_()
    k = data['k'][sl].clone().requires_grad_()
    bags = data['bags'][sl].clone().requires_grad_()
    gathered, offset = all_gather_with_grad(q, return_offset=True)
    res['gathered'], res['offset'] = gathered.detach(), offset
    n = SIZES[rank]
    loss = InfoNCELoss(temperature=0.3, symmetric=True)(q, k) * n
    loss = loss + MILNCELoss(temperature=0.5, symmetric=True)(q, bags) * n
    loss.backward()
    res['q_grad'], res['k_grad'] = q.grad, k.grad
    res['bags_grad'] = bags.grad
    res['loss'] = loss.detach()
    # 3. Feature queue: gathered keys, pointer wrap-around.
    queue = FeatureQueue(length=5, dim=2, normalize=False)
    keys = torch.full((2, 2), float(rank + 1))
    keys[1] += 0.5
    queue.enqueue(keys)
    res['queue1'] = (queue.queue.clone(), int(queue.ptr))
    queue.enqueue(keys + 10)
    res['queue2'] = (queue.queue.clone(), int(queue.ptr))
    # 4. Shuffle-BN round trip.
    x = torch.arange(4, dtype=torch.float)[:, None] + 10 * rank
    xs, idx = batch_shuffle_ddp(x)
    res['shuffled'] = xs
    res['roundtrip'] = batch_unshuffle_ddp(xs * 2 + 1, idx)
    res['all_shuffled'] = concat_all_gather(xs)
    # 5. Logged values of an algorithm: averaged over ranks, while the
    # back-propagated total stays this rank's.
    w = torch.tensor(1.0, requires_grad=True)
    alg = _NoLoss(data_preprocessor=dict(type='mmengine.BaseDataPreprocessor'))
    total, log_vars = alg.parse_losses(dict(
        loss_a=w * (rank + 1), loss_b=w * 10 * rank, acc_a=torch.tensor(
            100.0 * rank)))
    total.backward()
    res['parsed'] = (total.detach(), w.grad,
                     {k: v.item() for k, v in log_vars.items()})
    torch.save(res, osp.join(out_dir, f'rank{rank}.pth'))
    dist.barrier()
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('gloo')
    mp.spawn(_worker, args=(str(tmp / 'init'), str(tmp)), nprocs=WORLD,
             join=True)
    return [torch.load(tmp / f'rank{r}.pth', weights_only=False)
            for r in range(WORLD)]


def _single_process_ddp_reference(data):
    net = nn.Linear(D_IN, D)
    net.load_state_dict(data['net'])
    loss = InfoNCELoss(temperature=0.2, symmetric=True)(
        net(data['xq']), net(data['xk']))
    loss.backward()
    return {n: p.grad for n, p in net.named_parameters()}


def test_ddp_gradient_equals_single_process(results):
    data = _data()
    ref = _single_process_ddp_reference(data)
    for r in range(WORLD):
        assert results[r]['dist_info'] == (r, WORLD)
        for name, g in ref.items():
            torch.testing.assert_close(results[r]['ddp'][name], g,
                                       rtol=1e-5, atol=1e-6)
    # The gather that drops the other ranks' gradient is measurably wrong,
    # so the check above can tell the conventions apart.
    assert not torch.allclose(results[0]['ddp_naive']['weight'],
                              ref['weight'], rtol=1e-3, atol=1e-5)


def test_input_gradients_unequal_batches(results):
    data = _data()
    q = data['q'].clone().requires_grad_()
    k = data['k'].clone().requires_grad_()
    bags = data['bags'].clone().requires_grad_()
    total = sum(SIZES)
    loss = InfoNCELoss(temperature=0.3, symmetric=True)(q, k) * total
    loss = loss + MILNCELoss(temperature=0.5, symmetric=True)(q, bags) * total
    loss.backward()
    summed = results[0]['loss'] + results[1]['loss']
    torch.testing.assert_close(summed, loss.detach(), rtol=1e-5, atol=1e-5)
    for r in range(WORLD):
        start = sum(SIZES[:r])
        sl = slice(start, start + SIZES[r])
        assert results[r]['offset'] == start
        torch.testing.assert_close(results[r]['gathered'], data['q'])
        torch.testing.assert_close(results[r]['q_grad'], q.grad[sl],
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(results[r]['k_grad'], k.grad[sl],
                                   rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(results[r]['bags_grad'], bags.grad[sl],
                                   rtol=1e-5, atol=1e-6)


def test_feature_queue_gathers_and_wraps(results):
    k0 = torch.tensor([[1., 1.], [1.5, 1.5]])
    k1 = torch.tensor([[2., 2.], [2.5, 2.5]])
    gathered = torch.cat([k0, k1])            # rank order
    for r in range(WORLD):
        q1, p1 = results[r]['queue1']
        assert p1 == 4 and torch.equal(q1[:4], gathered)
        q2, p2 = results[r]['queue2']
        assert p2 == (4 + 4) % 5
        # Second batch of 4 goes to rows 4, 0, 1, 2; row 3 keeps batch 1.
        assert torch.equal(q2[[4, 0, 1, 2]], gathered + 10)
        assert torch.equal(q2[3], gathered[3])
    assert torch.equal(results[0]['queue2'][0], results[1]['queue2'][0])


def test_shuffle_bn_round_trip(results):
    x_all = torch.cat([torch.arange(4.)[:, None] + 10 * r
                       for r in range(WORLD)])
    shuffled = results[0]['all_shuffled']
    assert torch.equal(results[1]['all_shuffled'], shuffled)
    assert torch.equal(shuffled.sort(0).values, x_all)   # a permutation
    for r in range(WORLD):
        assert results[r]['shuffled'].shape == (4, 1)
        torch.testing.assert_close(results[r]['roundtrip'],
                                   x_all[r * 4:(r + 1) * 4] * 2 + 1)


def test_logged_values_are_rank_means_backward_is_local(results):
    for rank, res in enumerate(results):
        total, grad, logged = res['parsed']
        # this rank's loss_a + loss_b drives its own backward pass
        assert total.item() == pytest.approx((rank + 1) + 10 * rank)
        assert grad.item() == pytest.approx(1 + 11 * rank)
        # rank 0: 1 + 0, rank 1: 2 + 10 -> means 1.5, 5, 6.5; acc 0/100 -> 50
        assert logged == pytest.approx(
            {'loss': 6.5, 'loss_a': 1.5, 'loss_b': 5.0, 'acc_a': 50.0})
        assert list(logged) == ['loss', 'loss_a', 'loss_b', 'acc_a']
