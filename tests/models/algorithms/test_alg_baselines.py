"""MoCoVideo, SimCLRVideo and AVCorrespondence against hand-written
InfoNCE references."""
import copy

import pytest
import torch

from alg_helpers import (PLAIN_PREPROCESSOR, build, close, mlp, nce_row,
                         optim, pool, samples, tiny_r3d, tiny_audio, unit)

B, D, QLEN, TAU, M = 4, 8, 16, 0.2, 0.99


def clips(seed, n=2):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, 2, 32, 32, generator=g) for _ in range(n)]


def moco_cfg(symmetric=False):
    return dict(
        type='MoCoVideo', backbone=tiny_r3d(), neck=mlp(64, D),
        loss=dict(type='InfoNCELoss', temperature=TAU,
                  in_batch_negatives=False),
        symmetric=symmetric, queue_len=QLEN, feat_dim=D, momentum=M,
        data_preprocessor=PLAIN_PREPROCESSOR)


def simclr_cfg():
    return dict(
        type='SimCLRVideo', backbone=tiny_r3d(), neck=mlp(64, D),
        loss=dict(type='InfoNCELoss', temperature=TAU,
                  in_batch_negatives=True, symmetric=True),
        data_preprocessor=PLAIN_PREPROCESSOR)


@pytest.mark.parametrize('symmetric', [False, True])
def test_moco_video_queue_loss(symmetric):
    torch.manual_seed(0)
    model = build(moco_cfg(symmetric))
    ref = copy.deepcopy(model)
    x1, x2 = clips(1)
    data = dict(inputs=dict(video=[x1, x2]), data_samples=samples(B))
    log = model.train_step(data, optim(model))

    queue = ref.queue.queue.clone()
    with torch.no_grad():
        emb = lambda x: unit(ref.neck(pool(ref.backbone(x))))  # noqa: E731
        q1, k2 = emb(x1), emb(x2)     # key encoder == theta_0 at step 1
        terms = [torch.stack([nce_row(q1[i] @ k2[i] / TAU,
                                      queue @ q1[i] / TAU)
                              for i in range(B)]).mean()]
        keys = [k2]
        if symmetric:
            q2, k1 = emb(x2), emb(x1)
            terms.append(torch.stack([nce_row(q2[i] @ k1[i] / TAU,
                                              queue @ q2[i] / TAU)
                                      for i in range(B)]).mean())
            keys.append(k1)
    close(log['loss_clip'], sum(terms) / len(terms))
    n = B * len(keys)
    assert int(model.queue.ptr) == n % QLEN
    close(model.queue.queue[:n], torch.cat(keys))
    for key in ('acc_clip', 'std_clip', 'momentum', 'queue_ptr_clip'):
        assert key in log


def test_simclr_in_batch_symmetric():
    torch.manual_seed(0)
    model = build(simclr_cfg())
    # no key encoder, no queue: one online encoder for both clips
    assert getattr(model, 'queue', None) is None and \
        getattr(model, 'momentum_encoder', None) is None
    ref = copy.deepcopy(model)
    x1, x2 = clips(2)
    data = dict(inputs=dict(video=[x1, x2]), data_samples=samples(B))
    log = model.train_step(data, optim(model))
    with torch.no_grad():
        z1 = unit(ref.neck(pool(ref.backbone(x1))))
        z2 = unit(ref.neck(pool(ref.backbone(x2))))
        s = z1 @ z2.t() / TAU
        fwd = torch.stack([torch.logsumexp(s[i], 0) - s[i, i]
                           for i in range(B)]).mean()
        bwd = torch.stack([torch.logsumexp(s[:, i], 0) - s[i, i]
                           for i in range(B)]).mean()
    close(log['loss_clip'], (fwd + bwd) / 2)


def test_simclr_without_in_batch_negatives_is_rejected():
    cfg = simclr_cfg()
    cfg['loss'] = dict(type='InfoNCELoss', in_batch_negatives=False)
    with pytest.raises(ValueError, match='in_batch_negatives'):
        build(cfg)


def test_av_correspondence_symmetric_in_batch():
    torch.manual_seed(0)
    model = build(dict(
        type='AVCorrespondence', backbone=tiny_r3d(), neck=mlp(64, D),
        audio_backbone=tiny_audio(), audio_neck=mlp(64, D),
        loss=dict(type='InfoNCELoss', temperature=TAU, symmetric=True),
        data_preprocessor=PLAIN_PREPROCESSOR))
    ref = copy.deepcopy(model)
    g = torch.Generator().manual_seed(3)
    video = torch.randn(B, 3, 2, 32, 32, generator=g)
    audio = torch.randn(B, 1, 32, 40, generator=g)
    data = dict(inputs=dict(video=[video], audio=[audio]),
                data_samples=samples(B))
    log = model.train_step(data, optim(model))
    with torch.no_grad():
        v = unit(ref.neck(pool(ref.backbone(video))))
        a = unit(ref.audio_neck(pool(ref.audio_backbone(audio))))
        s = v @ a.t() / TAU
        fwd = torch.stack([torch.logsumexp(s[i], 0) - s[i, i]
                           for i in range(B)]).mean()
        bwd = torch.stack([torch.logsumexp(s[:, i], 0) - s[i, i]
                           for i in range(B)]).mean()
    close(log['loss_va'], (fwd + bwd) / 2)
    assert {'acc_va', 'std_va', 'std_audio'} <= set(log)
