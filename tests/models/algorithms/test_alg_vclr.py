"""VCLR: every loss term against a hand-written reference, queues, EMA."""
import copy

import pytest
import torch

from alg_helpers import (PLAIN_PREPROCESSOR, build, ce_row, close, cls_head,
                         mlp, nce_row, optim, pool, samples, tiny_r3d, unit)

K, B, D, QLEN = 3, 2, 8, 16
TAU, TAU_INTRA, M = 0.1, 0.07, 0.9


def vclr_cfg(order_normalize='segments', backbone=None, feat=64):
    return dict(
        type='VCLR',
        backbone=backbone or tiny_r3d(),
        inter_neck=mlp(feat, D), intra_neck=mlp(feat, D),
        segment_neck=mlp(feat, D), order_neck=mlp(feat, D),
        order_head=cls_head(2 * K * D, 4),
        num_segments=K, feat_dim=D, queue_len=QLEN,
        intra_temperature=TAU_INTRA, momentum=M,
        loss_inter=dict(type='InfoNCELoss', temperature=TAU,
                        in_batch_negatives=False, normalize=False),
        loss_segment=dict(type='InfoNCELoss', temperature=TAU,
                          in_batch_negatives=False, normalize=False),
        order_normalize=order_normalize,
        data_preprocessor=PLAIN_PREPROCESSOR)


def make_batch(seed, frames=2, size=32):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(B, 3, frames, size, size, generator=g)
             for _ in range(3 * K + 1)]
    labels = [dict(order=int(i)) for i in
              torch.randint(4, (B, ), generator=g)]
    return dict(inputs=dict(video=views), data_samples=samples(B, labels))


@torch.no_grad()
def reference(ref, data, order_normalize):
    views = data['inputs']['video']
    a, positives = views[0], views[1:K + 1]
    t_q, t_k = views[K + 1:2 * K + 1], views[2 * K + 1:]
    y = [s.pretext_labels['order'] for s in data['data_samples']]
    q_inter = ref.queue_inter.queue.clone()
    q_seg = ref.queue_segment.queue.clone()

    f_a = pool(ref.backbone(a))
    z_a, u_a = unit(ref.inter_neck(f_a)), unit(ref.intra_neck(f_a))
    z_k, u_k = [], []
    for x in positives:  # key encoder == online copy at the first step
        f = pool(ref.backbone(x))
        z_k.append(unit(ref.inter_neck(f)))
        u_k.append(unit(ref.intra_neck(f)))

    def tuple_feats(views):
        f = pool(ref.backbone(torch.cat(views))).reshape(K, B, -1)
        g = unit(ref.segment_neck(f.mean(0)))
        o = torch.stack([ref.order_neck(f[t]) for t in range(K)], dim=1)
        if order_normalize == 'segments':   # official quirk: over K
            o = o / o.pow(2).sum(1, keepdim=True).sqrt()
        else:
            o = o / o.pow(2).sum(2, keepdim=True).sqrt()
        return g, o.reshape(B, -1)

    g_q, o_q = tuple_feats(t_q)
    g_k, o_k = tuple_feats(t_k)
    inter = [nce_row(z_a[i] @ z_k[r][i] / TAU, q_inter @ z_a[i] / TAU)
             for r in range(K) for i in range(B)]
    intra = [nce_row(u_a[i] @ u_k[0][i] / TAU_INTRA,
                     u_a[i] @ u_k[p][i] / TAU_INTRA)
             for p in range(1, K) for i in range(B)]
    seg = [nce_row(g_q[i] @ g_k[i] / TAU, q_seg @ g_q[i] / TAU)
           for i in range(B)]
    logits = ref.head(torch.cat([o_q, o_k], dim=1))
    order = [ce_row(logits[i], y[i]) for i in range(B)]
    mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
    return dict(loss_inter=mean(inter), loss_intra=mean(intra),
                loss_segment=mean(seg), loss_order=mean(order),
                z_keys=torch.cat(z_k), g_k=g_k, q_inter=q_inter, q_seg=q_seg)


def test_vclr_losses_queues_momentum(order_normalize='segments'):
    torch.manual_seed(0)
    model = build(vclr_cfg(order_normalize))
    ref = copy.deepcopy(model)
    data = make_batch(1)
    wrapper = optim(model)
    log = model.train_step(data, wrapper)

    exp = reference(ref, data, order_normalize)
    for key in ('loss_inter', 'loss_intra', 'loss_segment', 'loss_order'):
        close(log[key], exp[key])
    close(log['loss'], sum(exp[k] for k in ('loss_inter', 'loss_intra',
                                            'loss_segment', 'loss_order')))
    for key in ('acc_inter', 'acc_intra', 'acc_segment', 'acc_order',
                'std_inter', 'std_segment', 'momentum', 'queue_ptr_inter',
                'queue_ptr_segment'):
        assert key in log, key

    # queues: this step's keys written at the old pointer, pointer advanced
    n_inter = K * B
    assert int(model.queue_inter.ptr) == n_inter % QLEN
    assert int(model.queue_segment.ptr) == B
    close(model.queue_inter.queue[:n_inter], exp['z_keys'])
    close(model.queue_inter.queue[n_inter:], exp['q_inter'][n_inter:])
    close(model.queue_segment.queue[:B], exp['g_k'])
    close(log['queue_ptr_inter'], float(n_inter))

    # momentum: first update copied theta_0; the second gives
    # xi = m * theta_0 + (1 - m) * theta_1
    theta0 = {k: v.clone() for k, v in ref.named_parameters()}
    theta1 = {k: v.detach().clone() for k, v in model.named_parameters()}
    model.train_step(make_batch(2), wrapper)
    ema = dict(model.momentum_encoder.module.named_parameters())
    for name in ('backbone.conv1.conv.weight', 'inter_neck'):
        keys = [k for k in ema if k.startswith(name)]
        assert keys, name
        for k in keys:
            close(ema[k], M * theta0[k] + (1 - M) * theta1[k])
    assert int(model.queue_inter.ptr) == (2 * n_inter) % QLEN


@pytest.mark.parametrize('mode', ['segments', 'feature', None])
def test_order_normalisation_options(mode):
    model = build(vclr_cfg(mode))
    feat = torch.randn(B, K, 64)
    out = model._order_embed(model.order_neck, feat)
    with torch.no_grad():
        o = torch.stack([model.order_neck(feat[:, t]) for t in range(K)], 1)
        if mode == 'segments':   # the official quirk: over the K frames
            for b in range(B):
                for d in range(D):
                    o[b, :, d] = o[b, :, d] / o[b, :, d].norm()
        elif mode == 'feature':
            for b in range(B):
                for t in range(K):
                    o[b, t] = o[b, t] / o[b, t].norm()
    close(out, o.reshape(B, -1))


def test_vclr_rejects_wrong_view_count_and_missing_label():
    model = build(vclr_cfg())
    data = make_batch(3)
    data['inputs']['video'] = data['inputs']['video'][:-1]
    with pytest.raises(ValueError, match='exactly 10 video views'):
        model.train_step(data, optim(model))
    data = make_batch(3)
    for s in data['data_samples']:
        s.pretext_labels = {}
    with pytest.raises(KeyError, match='v0.mp4.*order'):
        model.train_step(data, optim(model))
