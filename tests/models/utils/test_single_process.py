"""World-size-1 behaviour of the shared utilities (no process group)."""
import io
import math

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn

from mmavcl.models.utils import (FeatureQueue, GradientReversal,
                                 MomentumEncoder, all_gather_with_grad,
                                 batch_shuffle_ddp, batch_unshuffle_ddp,
                                 concat_all_gather, contrastive_accuracy,
                                 embedding_std, get_dist_info)


def test_dist_helpers_without_process_group():
    assert not dist.is_initialized()
    assert get_dist_info() == (0, 1)
    x = torch.randn(3, 2, requires_grad=True)
    assert all_gather_with_grad(x) is x
    out, off = all_gather_with_grad(x, return_offset=True)
    assert out is x and off == 0
    g = concat_all_gather(x)
    assert not g.requires_grad and torch.equal(g, x)
    y, idx = batch_shuffle_ddp(x)
    assert y is x and batch_unshuffle_ddp(y, idx) is x


def test_feature_queue_wraparound_and_checkpoint():
    q = FeatureQueue(length=5, dim=2, normalize=False, gather=False)
    assert torch.allclose(q.queue.norm(dim=1), torch.ones(5))
    assert q.ptr.item() == 0
    before = q.features()
    keys = torch.arange(6, dtype=torch.float).view(3, 2)   # rows 0..2
    q.enqueue(keys)
    assert q.ptr.item() == 3 and torch.equal(q.queue[:3], keys)
    assert torch.equal(q.queue[3:], before[3:])
    # The snapshot taken before enqueue is a copy, untouched by the write.
    assert not torch.equal(before[:3], keys)
    keys2 = 10 + torch.arange(6, dtype=torch.float).view(3, 2)
    q.enqueue(keys2)                     # 3 keys at rows 3, 4, 0: wraps
    assert q.ptr.item() == 1
    assert torch.equal(q.queue[3], keys2[0])
    assert torch.equal(q.queue[4], keys2[1])
    assert torch.equal(q.queue[0], keys2[2])
    assert torch.equal(q.queue[1:3], keys[1:3])
    # More keys than the queue holds: the newest 5 survive in FIFO order.
    keys3 = 100 + torch.arange(14, dtype=torch.float).view(7, 2)
    q.enqueue(keys3)                     # ptr 1 -> rows 1..5,0,1 for 7 keys
    assert q.ptr.item() == (1 + 7) % 5
    for k in range(2, 7):
        assert torch.equal(q.queue[(1 + k) % 5], keys3[k])
    # Both buffers travel through a state dict round trip.
    buf = io.BytesIO()
    torch.save(q.state_dict(), buf)
    buf.seek(0)
    q2 = FeatureQueue(length=5, dim=2)
    q2.load_state_dict(torch.load(buf, weights_only=True))
    assert q2.ptr.item() == q.ptr.item() and torch.equal(q2.queue, q.queue)
    assert set(q.state_dict()) == {'queue', 'ptr'}


def test_feature_queue_normalises_and_inits():
    q = FeatureQueue(length=4, dim=3, gather=False)
    q.enqueue(torch.tensor([[3., 0., 4.]]))
    assert torch.allclose(q.queue[0], torch.tensor([0.6, 0., 0.8]))
    torch.manual_seed(0)
    u = FeatureQueue(length=20000, dim=12, init='uniform')
    bound = 1 / math.sqrt(12 / 3)
    assert u.queue.abs().max() <= bound
    # VCLR's init gives E||row||^2 = 1.
    assert (u.queue.pow(2).sum(1).mean() - 1).abs() < 0.02
    with pytest.raises(ValueError, match='init'):
        FeatureQueue(4, 3, init='zeros')
    with pytest.raises(ValueError, match=r'\(N, 3\)'):
        q.enqueue(torch.randn(2, 4))


class _Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.bn(self.fc(x)))


def test_momentum_encoder_update_rule():
    torch.manual_seed(0)
    online = _Net()
    enc = MomentumEncoder(online, momentum=0.9)
    assert enc.ema.momentum == pytest.approx(0.1)   # mmengine: new-value wt
    assert all(not p.requires_grad for p in enc.parameters())
    # First update copies (picks up weights loaded after construction).
    with torch.no_grad():
        online.fc.weight.fill_(1.0)
    enc.update(online)
    assert torch.equal(enc.module.fc.weight, online.fc.weight)
    xi = enc.module.fc.weight.clone()
    with torch.no_grad():
        online.fc.weight.fill_(3.0)
        online.bn.running_mean.fill_(7.0)
    enc.update(online)
    expected = 0.9 * xi + 0.1 * online.fc.weight
    assert torch.allclose(enc.module.fc.weight, expected)
    # BN buffers are copied from the online encoder.
    assert torch.equal(enc.module.bn.running_mean, online.bn.running_mean)


def test_momentum_encoder_cosine_schedule_and_modes():
    online = _Net()
    enc = MomentumEncoder(online, momentum=0.99, end_momentum=1.0)
    enc.update(online, cur_iter=0, max_iters=100)
    assert enc.momentum == pytest.approx(0.99)
    enc.update(online, cur_iter=50, max_iters=100)
    assert enc.momentum == pytest.approx(0.995)
    enc.update(online, cur_iter=100, max_iters=100)
    assert enc.momentum == pytest.approx(1.0)
    assert enc.ema.momentum == pytest.approx(0.0)
    frozen = enc.module.fc.weight.clone()
    with torch.no_grad():
        online.fc.weight.add_(1.0)
    enc.update(online, cur_iter=100, max_iters=100)
    assert torch.equal(enc.module.fc.weight, frozen)   # m = 1 freezes
    with pytest.raises(ValueError, match='max_iters'):
        enc.update(online)
    # Train mode: BN in train, dropout off; eval mode: all eval.
    enc.train()
    assert enc.module.bn.training and not enc.module.drop.training
    x = torch.randn(8, 3)
    out = enc(x)
    assert not out.requires_grad
    assert torch.equal(out, enc(x))   # no dropout randomness
    enc.eval()
    assert not enc.module.bn.training
    enc2 = MomentumEncoder(online, bn_train=False).train()
    assert not enc2.module.bn.training
    with pytest.raises(ValueError, match='momentum'):
        MomentumEncoder(online, momentum=1.5)


def test_gradient_reversal():
    x = torch.randn(4, requires_grad=True)
    y = GradientReversal(0.5)(x)
    assert torch.equal(y, x)
    (y * torch.arange(4.)).sum().backward()
    assert torch.allclose(x.grad, -0.5 * torch.arange(4.))


def test_monitor_values():
    logits = torch.tensor([[3., 1., 0.], [0., 1., 2.], [5., 0., 0.]])
    pos = torch.tensor([[1, 0, 0], [1, 0, 0], [0, 1, 1]], dtype=torch.bool)
    assert contrastive_accuracy(logits, pos).item() == pytest.approx(100 / 3)
    z = torch.ones(6, 4)
    assert embedding_std(z).item() == pytest.approx(0.0, abs=1e-7)
    # Two antipodal points per dim: std of +-1/sqrt(D)... computed by hand.
    z = torch.tensor([[1., 0.], [-1., 0.], [0., 1.], [0., -1.]])
    # each dim: values (1,-1,0,0) -> unbiased std sqrt(2/3)
    assert embedding_std(z).item() == pytest.approx(math.sqrt(2 / 3))
    torch.manual_seed(0)
    d = 64
    spread = embedding_std(torch.randn(4096, d)).item()
    assert spread == pytest.approx(1 / math.sqrt(d), rel=0.05)
    with pytest.raises(ValueError):
        contrastive_accuracy(logits, pos[:2])
