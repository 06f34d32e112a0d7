"""CtrlAug [RECON]: clip, soft region, MI and order terms against
hand-written references; region targets from a brute-force voxel count."""
import copy

import pytest
import torch

from alg_helpers import (PLAIN_PREPROCESSOR, build, ce_row, close, cls_head,
                         mlp, nce_row, optim, pool, samples, tiny_r3d, unit)
from test_ctrlaug_geometry import _brute_force

B, D, QLEN, TAU, TAU_R, N_LOCAL = 2, 8, 16, 0.2, 0.1, 2
LAMBDA_MI = 0.1
C_LOW, C_LAST = 8, 64           # tiny R3D-18 stage 1 / stage 4 widths

GLOBAL = dict(time_span=(0.0, 4.0), crop_box=(0.0, 0.0, 64.0, 48.0),
              flip=False, reversed=False, view_type='global')
LOCALS = [
    dict(time_span=(0.5, 1.5), crop_box=(8.0, 4.0, 40.0, 36.0), flip=True,
         view_type='local'),
    dict(time_span=(2.25, 3.75), crop_box=(30.0, 10.0, 62.0, 46.0),
         flip=False, view_type='local'),
]


def ctrlaug_cfg(mi='adversarial'):
    # lambda_MI is loss_mi's loss_weight for either estimator
    loss_mi = dict(type='CrossEntropyLoss', loss_weight=LAMBDA_MI) \
        if mi == 'adversarial' else dict(
            type='CLUBEstimator', in_channels=C_LOW, hid_channels=16,
            loss_weight=LAMBDA_MI)
    return dict(
        type='CtrlAug',
        # stride-1 last stage: 32x32 input -> a 2x2 cell grid
        backbone=tiny_r3d(out_indices=(0, 3), spatial_strides=(1, 2, 2, 1)),
        neck=mlp(C_LAST, D),
        region_neck=dict(type='ConvMLPNeck', in_channels=C_LAST,
                         hid_channels=16, out_channels=D),
        order_head=cls_head((N_LOCAL + 1) * C_LAST, 2),
        mi_discriminator=cls_head(2 * C_LOW, 2),
        num_local=N_LOCAL, queue_len=QLEN, feat_dim=D, momentum=0.9,
        loss_clip=dict(type='InfoNCELoss', temperature=TAU,
                       in_batch_negatives=False),
        loss_region=dict(type='SoftTargetContrastLoss', temperature=TAU_R),
        loss_mi=loss_mi, mi_estimator=mi,
        data_preprocessor=PLAIN_PREPROCESSOR)


def make_batch(seed):
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(B, 3, 4, 32, 32, generator=g)] + [
        torch.randn(B, 3, 2, 32, 32, generator=g) for _ in range(N_LOCAL)]
    metas = [[GLOBAL] + LOCALS, [GLOBAL] + LOCALS[::-1]]
    labels = [dict(lg_order=1), dict(lg_order=0)]
    return dict(inputs=dict(video=views),
                data_samples=samples(B, labels, metas))


@torch.no_grad()
def reference(ref, data):
    views = data['inputs']['video']
    metas = [s.view_meta for s in data['data_samples']]
    queue = ref.queue.queue.clone()

    def enc(x):
        low, last = ref.backbone(x)
        cells = ref.region_neck(last)
        return dict(low=pool(low), h=pool(last),
                    z=unit(ref.neck(pool(last))),
                    cells=unit(cells.flatten(2).transpose(1, 2)),
                    grid=tuple(cells.shape[2:]))

    g, locs = enc(views[0]), [enc(x) for x in views[1:]]
    clip, region = [], []
    keys = g['cells'].reshape(-1, D)                 # every video's G cells
    n_g = g['cells'].shape[1]
    for n, l in enumerate(locs):
        clip.append(torch.stack([
            nce_row(l['z'][i] @ g['z'][i] / TAU, queue @ l['z'][i] / TAU)
            for i in range(B)]).mean())
        rows = []
        for i in range(B):
            w = torch.as_tensor(_brute_force(metas[i][n + 1], l['grid'],
                                             metas[i][0], g['grid']),
                                dtype=torch.float32)
            for r in range(l['cells'].shape[1]):
                if w[r].sum() == 0:
                    continue
                wt = torch.zeros(keys.shape[0])
                wt[i * n_g:(i + 1) * n_g] = w[r] / w[r].sum()
                s = keys @ l['cells'][i, r] / TAU_R
                rows.append(-(wt * (s - torch.logsumexp(s, 0))).sum())
        region.append(torch.stack(rows).mean())
    # MI discriminator: matched (label 1) vs. G of the next sample (label 0)
    h_l, h_g = locs[0]['low'], g['low']
    mi = []
    for i in range(B):
        for j, y in ((i, 1), ((i - 1) % B, 0)):
            logit = ref.mi_discriminator(torch.cat([h_l[i], h_g[j]])[None])
            mi.append(ce_row(logit[0], y))
    order_logits = ref.head(torch.cat([g['h']] + [l['h'] for l in locs], 1))
    y = [s.pretext_labels['lg_order'] for s in data['data_samples']]
    order = [ce_row(order_logits[i], y[i]) for i in range(B)]
    mean = lambda xs: torch.stack(xs).mean()  # noqa: E731
    return dict(loss_clip=mean(clip), loss_region=mean(region),
                loss_mi=LAMBDA_MI * mean(mi), loss_order=mean(order),
                k_g=g['z'])


def test_ctrlaug_losses_and_queue():
    torch.manual_seed(0)
    model = build(ctrlaug_cfg())
    ref = copy.deepcopy(model)
    data = make_batch(1)
    log = model.train_step(data, optim(model))
    exp = reference(ref, data)
    for key in ('loss_clip', 'loss_region', 'loss_mi', 'loss_order'):
        close(log[key], exp[key])
    assert int(model.queue.ptr) == B
    close(model.queue.queue[:B], exp['k_g'])
    assert {'acc_clip', 'std_clip', 'acc_mi_disc', 'acc_order',
            'queue_ptr_clip', 'momentum'} <= set(log)


def test_mi_gradient_is_reversed_into_the_encoder():
    model = build(ctrlaug_cfg())
    h_l = torch.randn(B, C_LOW, requires_grad=True)
    h_g = torch.randn(B, C_LOW, requires_grad=True)
    losses = model.mi_loss(h_l, h_g)
    g_rev, = torch.autograd.grad(losses['loss_mi'], h_l, retain_graph=True)
    # same computation without the reversal layer
    pairs = torch.cat([torch.cat([h_l, h_g], 1),
                       torch.cat([h_l, h_g.roll(1, 0)], 1)])
    logits = model.mi_discriminator(pairs)
    target = torch.tensor([1] * B + [0] * B)
    plain = LAMBDA_MI * torch.stack(
        [ce_row(logits[i], int(target[i])) for i in range(2 * B)]).mean()
    g_plain, = torch.autograd.grad(plain, h_l, retain_graph=True)
    close(g_rev, -model.grl.lambda_ * g_plain)
    # the discriminator itself still descends its own loss
    w = next(model.mi_discriminator.parameters())
    g_w, = torch.autograd.grad(losses['loss_mi'], w)
    g_w_plain, = torch.autograd.grad(plain, w)
    close(g_w, g_w_plain)


def test_club_estimate_and_fit():
    torch.manual_seed(0)
    model = build(ctrlaug_cfg(mi='club'))
    club = model.club
    x = torch.randn(4, C_LOW, requires_grad=True)
    y = torch.randn(4, C_LOW, requires_grad=True)
    est = club.estimate(x, y)
    with torch.no_grad():
        mu, logvar = club.mu(x), club.logvar(x)
        ll = lambda i, j: -((mu[i] - y[j])**2 / logvar[i].exp()).sum() / 2  # noqa
        ref = torch.stack([ll(i, i) - torch.stack(
            [ll(i, j) for j in range(4)]).mean() for i in range(4)]).mean()
    close(est, ref)
    # the estimate trains the encoder features only, the fit the estimator
    params = list(club.parameters())
    grads = torch.autograd.grad(est, params + [x], allow_unused=True)
    assert all(g is None for g in grads[:-1]) and grads[-1] is not None
    fit = club.fit_loss(x, y)
    with torch.no_grad():   # Gaussian NLL up to constants, mean over pairs
        nll = torch.stack([
            (((mu[i] - y[i])**2 / logvar[i].exp()) + logvar[i]).sum() / 2
            for i in range(4)]).mean()
    close(fit, nll)
    assert not fit.requires_grad or torch.autograd.grad(
        fit, x, allow_unused=True)[0] is None
    losses = model.mi_loss(x, y)
    close(losses['loss_mi'], LAMBDA_MI * ref)
    close(losses['loss_club_fit'], fit)


def test_missing_view_meta_is_named():
    model = build(ctrlaug_cfg())
    data = make_batch(3)
    data['data_samples'][1].view_meta = data['data_samples'][1].view_meta[:2]
    with pytest.raises(ValueError, match='v1.mp4.*view_meta'):
        model.train_step(data, optim(model))


def test_club_needs_its_estimator_as_loss_mi():
    cfg = ctrlaug_cfg(mi='club')
    cfg['loss_mi'] = dict(type='CrossEntropyLoss', loss_weight=LAMBDA_MI)
    with pytest.raises(ValueError, match='CLUBEstimator'):
        build(cfg)
    assert build(ctrlaug_cfg(mi=None)).mi_loss(
        torch.randn(B, C_LOW), torch.randn(B, C_LOW)) == {}
