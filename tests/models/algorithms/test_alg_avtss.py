"""AVTSS [RECON]: contrast with queue-neighbour positives and synthesised
hard negatives, and the seven temporal heads, against hand-written
references."""
import copy
import itertools

import pytest
import torch

import mmavcl.models.algorithms.avtss as avtss_module
from alg_helpers import (PLAIN_PREPROCESSOR, build, ce_row, close, cls_head,
                         mlp, optim, pool, samples, tiny_audio, tiny_r3d,
                         unit)

B, D, QLEN, TAU, KNN, NHARD, POOL = 4, 8, 16, 0.2, 2, 3, 5
C = 64


def avtss_cfg():
    return dict(
        type='AVTSS', backbone=tiny_r3d(), neck=mlp(C, D),
        audio_backbone=tiny_audio(), audio_neck=mlp(C, D),
        speed_head=cls_head(C, 4), direction_head=cls_head(C, 2),
        audio_speed_head=cls_head(C, 4), audio_direction_head=cls_head(C, 2),
        order_vv_head=cls_head(2 * C, 3), order_aa_head=cls_head(2 * C, 3),
        order_va_head=cls_head(2 * C, 3),
        loss_vv=dict(type='InfoNCELoss', temperature=TAU,
                     in_batch_negatives=False),
        loss_va=dict(type='InfoNCELoss', temperature=TAU,
                     in_batch_negatives=False),
        num_neighbours=KNN, num_hard_negatives=NHARD,
        hard_negative_pool=POOL, queue_len=QLEN, feat_dim=D, momentum=0.9,
        data_preprocessor=PLAIN_PREPROCESSOR)


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    video = [torch.randn(B, 3, 2, 32, 32, generator=g) for _ in range(2)]
    audio = [torch.randn(B, 1, 32, 40, generator=g) for _ in range(2)]
    labels = []
    for _ in range(B):
        r = torch.randint(4, (8, ), generator=g).tolist()
        labels.append(dict(speed_v0=r[0], speed_v1=r[1], speed_a0=r[2],
                           speed_a1=r[3], direction_v0=r[4] % 2,
                           direction_v1=r[5] % 2, direction_a0=r[6] % 2,
                           direction_a1=r[7] % 2, order_vv=r[0] % 3,
                           order_aa=r[1] % 3, order_va=r[2] % 3))
    return dict(inputs=dict(video=video, audio=audio),
                data_samples=samples(B, labels))


def multi_pos_row(q, key, queue, hard, pos_idx):
    """-log sum_{p in {key} U queue[pos_idx]} e^{q.p/t} / sum_all e^{q.c/t}
    over {key} U queue U hard, ``hard`` (H, D) this query's own synthetic
    negatives (issue #20: not the other queries').
    """
    cands = torch.cat([key[None], queue, hard])
    logits = cands @ q / TAU
    pos = torch.cat([logits[:1], logits[1:][list(pos_idx)]])
    return torch.logsumexp(logits, 0) - torch.logsumexp(pos, 0)


def check_hard_negatives(hard, q, queue, pos_idx):
    """Each synthetic negative lies in the span of two of the POOL queue
    entries nearest to the query (positives excluded) and has unit norm."""
    sims = queue @ q
    sims[list(pos_idx)] = -float('inf')
    nearest = queue[sims.argsort(descending=True)[:POOL]]
    close(hard.norm(dim=1), torch.ones(len(hard)))
    pairs = list(itertools.combinations_with_replacement(range(POOL), 2))
    span = torch.stack([torch.stack([nearest[i], nearest[j]], 1)
                        for i, j in pairs])                  # (P, D, 2)
    for h in hard:
        rhs = h[None, :, None].expand(len(pairs), -1, 1)
        coef = torch.linalg.lstsq(span, rhs).solution
        residual = (span @ coef - rhs).norm(dim=(1, 2))
        assert residual.min() < 1e-4


def test_avtss_losses(monkeypatch):
    torch.manual_seed(0)
    model = build(avtss_cfg())
    ref = copy.deepcopy(model)
    recorded = []
    real = avtss_module.mix_hard_negatives

    def spy(*args, **kwargs):  # records what the real function drew
        out = real(*args, **kwargs)
        recorded.append(out.clone())
        return out

    monkeypatch.setattr(avtss_module, 'mix_hard_negatives', spy)
    data = make_batch(1)
    log = model.train_step(data, optim(model))
    assert len(recorded) == 3                        # vv, va, av

    (v1, v2), (a1, a2) = data['inputs']['video'], data['inputs']['audio']
    lab = [s.pretext_labels for s in data['data_samples']]
    qv, qa = ref.queue_video.queue.clone(), ref.queue_audio.queue.clone()
    with torch.no_grad():
        hv1, hv2 = pool(ref.backbone(v1)), pool(ref.backbone(v2))
        ha1, ha2 = pool(ref.audio_backbone(a1)), pool(ref.audio_backbone(a2))
        zv1, zv2 = unit(ref.neck(hv1)), unit(ref.neck(hv2))
        za1 = unit(ref.audio_neck(ha1))
        # keys: the momentum copy equals the online weights at step 1
        kv1, kv2, ka1 = zv1, zv2, za1

        def nce(q, k, queue, hard):
            rows = []
            for i in range(B):
                nn_idx = (queue @ k[i]).argsort(descending=True)[:KNN]
                h = hard[i]                          # (NHARD, D)
                assert h.shape == (NHARD, D)
                check_hard_negatives(h, q[i], queue, nn_idx.tolist())
                rows.append(multi_pos_row(q[i], k[i], queue, h,
                                          nn_idx.tolist()))
            return torch.stack(rows).mean()

        vv = nce(zv1, kv2, qv, recorded[0])
        va = nce(zv1, ka1, qa, recorded[1])
        av = nce(za1, kv1, qv, recorded[2])
        close(log['loss_vv'], vv)
        close(log['loss_va'], (va + av) / 2)

        def ce(logits, targets):
            return torch.stack([ce_row(logits[i], targets[i])
                                for i in range(len(targets))]).mean()

        feats = dict(v=(hv1, hv2), a=(ha1, ha2))
        heads = dict(speed_v=ref.speed_head, direction_v=ref.direction_head,
                     speed_a=ref.audio_speed_head,
                     direction_a=ref.audio_direction_head)
        for name, head in heads.items():
            task, m = name.split('_')
            logits = head(torch.cat(feats[m]))
            targets = [l[f'{task}_{m}0'] for l in lab] + \
                [l[f'{task}_{m}1'] for l in lab]
            close(log[f'loss_{name}'], ce(logits, targets))
        for name, head, x, y in (('vv', ref.order_vv_head, hv1, hv2),
                                 ('aa', ref.order_aa_head, ha1, ha2),
                                 ('va', ref.order_va_head, hv2, ha2)):
            close(log[f'loss_order_{name}'],
                  ce(head(torch.cat([x, y], 1)),
                     [l[f'order_{name}'] for l in lab]))

    assert int(model.queue_video.ptr) == 2 * B
    assert int(model.queue_audio.ptr) == B
    close(model.queue_video.queue[:2 * B], torch.cat([kv1, kv2]))
    close(model.queue_audio.queue[:B], ka1)
    for key in ('acc_vv', 'acc_va', 'acc_av', 'std_vv', 'acc_speed_v',
                'acc_order_va', 'queue_ptr_video', 'queue_ptr_audio',
                'momentum'):
        assert key in log, key


def test_avtss_modality_wide_labels_and_missing_label():
    model = build(avtss_cfg())
    data = make_batch(2)
    for s in data['data_samples']:  # one speed for both clips
        lab = s.pretext_labels
        lab['speed_v'] = lab.pop('speed_v0')
        lab.pop('speed_v1')
    labels = model.view_labels(data['data_samples'], 'speed', 'v', 2, 'cpu')
    expected = [s.pretext_labels['speed_v'] for s in data['data_samples']]
    assert [t.tolist() for t in labels] == [expected, expected]
    labels = model.view_labels(data['data_samples'], 'direction', 'a', 2,
                               'cpu')
    assert labels[1].tolist() == [
        s.pretext_labels['direction_a1'] for s in data['data_samples']]
    for s in data['data_samples']:
        s.pretext_labels.pop('order_va')
    with pytest.raises(KeyError, match='v0.mp4.*order_va'):
        model.pretext_label(data['data_samples'], 'order_va', 'cpu')


def test_avtss_weights_are_the_loss_configs_loss_weight():
    """lambda_vv, lambda_va and lambda (all seven temporal terms) are the
    loss_weight of loss_vv, loss_va and loss_cls: the same model and batch
    with weights (2, 3, 0.5) gives each term times its weight."""
    def run(w_vv, w_va, w_cls):
        cfg = avtss_cfg()
        cfg['loss_vv'] = dict(cfg['loss_vv'], loss_weight=w_vv)
        cfg['loss_va'] = dict(cfg['loss_va'], loss_weight=w_va)
        cfg['loss_cls'] = dict(type='CrossEntropyLoss', loss_weight=w_cls)
        torch.manual_seed(0)
        model = build(cfg)
        torch.manual_seed(1)   # the same synthetic negatives
        data = make_batch(4)
        return model.loss(data['inputs'], data['data_samples'])

    plain, weighted = run(1.0, 1.0, 1.0), run(2.0, 3.0, 0.5)
    close(weighted['loss_vv'], 2.0 * plain['loss_vv'])
    close(weighted['loss_va'], 3.0 * plain['loss_va'])
    temporal = [k for k in plain if k.startswith('loss_') and
                k not in ('loss_vv', 'loss_va')]
    assert len(temporal) == 7
    for key in temporal:
        close(weighted[key], 0.5 * plain[key])
    assert weighted['acc_vv'] == plain['acc_vv']


def test_avtss_loss_va_gradient_reaches_both_online_encoders(monkeypatch):
    """MoCo-style, as the spec's InfoNCE with a momentum encoder: each
    direction of loss_va trains the online encoder of its query (v->a the
    video one, a->v the audio one) and nothing else; the keys, the queue
    and the synthetic negatives carry no gradient. The parameter gradients
    equal those of a hand-written per-row loss on the online embeddings
    (hard negatives as drawn), so a stop-gradient on a query, or one
    missing on a key, shows."""
    torch.manual_seed(0)
    model = build(avtss_cfg())
    ref = copy.deepcopy(model)
    recorded = []
    real = avtss_module.mix_hard_negatives

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        recorded.append(out.clone())
        return out

    monkeypatch.setattr(avtss_module, 'mix_hard_negatives', spy)
    data = make_batch(5)
    model.loss(data['inputs'], data['data_samples'])['loss_va'].backward()

    (v1, _), (a1, _) = data['inputs']['video'], data['inputs']['audio']
    qv, qa = ref.queue_video.queue.clone(), ref.queue_audio.queue.clone()
    zv1 = unit(ref.neck(pool(ref.backbone(v1))))
    za1 = unit(ref.audio_neck(pool(ref.audio_backbone(a1))))
    # keys: the momentum copy equals the online weights at step 1
    kv1, ka1 = zv1.detach(), za1.detach()

    def nce(q, k, queue, hard):
        rows = []
        for i in range(B):
            nn_idx = (queue @ k[i]).argsort(descending=True)[:KNN]
            rows.append(multi_pos_row(q[i], k[i], queue, hard[i],
                                      nn_idx.tolist()))
        return torch.stack(rows).mean()

    # recorded: vv, va, av
    ref_va = 0.5 * (nce(zv1, ka1, qa, recorded[1]) +
                    nce(za1, kv1, qv, recorded[2]))
    ref_va.backward()
    for name in ('backbone', 'neck', 'audio_backbone', 'audio_neck'):
        got = dict(getattr(model, name).named_parameters())
        for pname, p in getattr(ref, name).named_parameters():
            assert got[pname].grad is not None, f'{name}.{pname}'
            scale = float(p.grad.abs().max())
            assert scale > 0, f'{name}.{pname}'
            close(got[pname].grad, p.grad, atol=1e-5 * scale)
    for name in ('momentum_video', 'momentum_audio', 'speed_head',
                 'order_va_head'):
        assert all(p.grad is None
                   for p in getattr(model, name).parameters()), name
