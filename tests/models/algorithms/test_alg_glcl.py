"""GLCL: global (spatial bags) and local (time-window bags) cross-modal
MIL-NCE against loop references with windows from an explicit overlap
rule."""
import copy

import pytest
import torch

from alg_helpers import PLAIN_PREPROCESSOR, build, close, optim, samples

B, T, TA, MELS = 3, 8, 24, 16
CS, CF, CA, CL = 64, 16, 64, 16       # slow, fast, audio, local widths


def proj(cin, cout, ndim):
    return dict(type='ConvMLPNeck', in_channels=cin, out_channels=cout,
                num_layers=1, ndim=ndim)


def glcl_cfg(**loss_kw):
    return dict(
        type='GLCL',
        backbone=dict(type='TwoPathwayResNet3d', depth=18, alpha=4,
                      beta=1 / 4, slow_channels=8),
        audio_backbone=dict(type='AudioResNet1d', depth=18,
                            in_channels=MELS, base_channels=8),
        slow_proj=proj(CS, CS, 3), fast_proj=proj(CF, CF, 3),
        audio_global_proj=proj(CA, CS, 1), audio_local_proj=proj(CA, CL, 1),
        loss_global=dict(type='MILNCELoss', symmetric=True, **loss_kw),
        loss_local=dict(type='MILNCELoss', symmetric=True, **loss_kw),
        data_preprocessor=PLAIN_PREPROCESSOR)


def symmetric_milnce(sim, pos_of):
    """sim[n][m] = similarities of anchor n to bag m (1-D tensor).
    l_n = LSE({sim[n][m]} U {sim[m][n], m != n}) - LSE(sim[n][n])."""
    rows = []
    for n in range(len(sim)):
        terms = [sim[n][m] for m in range(len(sim))] + \
            [sim[m][n] for m in range(len(sim)) if m != n]
        rows.append(torch.logsumexp(torch.cat(terms), 0) -
                    torch.logsumexp(sim[n][n], 0))
    return torch.stack(rows).mean()


def overlap_window(t, t_v, t_a):
    """Audio steps whose time interval overlaps video step t."""
    return [u for u in range(t_a)
            if u / t_a < (t + 1) / t_v and (u + 1) / t_a > t / t_v]


@pytest.mark.parametrize('loss_kw', [{}, dict(temperature=0.07,
                                              normalize=True)])
def test_glcl_losses(loss_kw):
    torch.manual_seed(0)
    model = build(glcl_cfg(**loss_kw))
    ref = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    video = torch.randn(B, 3, T, 32, 32, generator=g)
    audio = torch.randn(B, 1, MELS, TA, generator=g)
    data = dict(inputs=dict(video=[video], audio=[audio]),
                data_samples=samples(B))
    log = model.train_step(data, optim(model))

    tau = loss_kw.get('temperature', 1.0)
    norm = (lambda x: x / x.norm(dim=-1, keepdim=True)) \
        if loss_kw.get('normalize') else (lambda x: x)
    with torch.no_grad():
        slow, fast = ref.backbone(video)
        seq = ref.audio_backbone(audio)                      # (B, CA, TA)
        v = ref.slow_proj(slow).mean(2).flatten(2)           # (B, C, P)
        a = ref.audio_global_proj(seq).mean(2)               # (B, C)
        sim = [[norm(v[j].t()) @ norm(a[i]) / tau for j in range(B)]
               for i in range(B)]
        close(log['loss_global'], symmetric_milnce(sim, None))

        # attention from the raw (un-normalised, un-tempered) scores
        attn = [torch.softmax(v[i].t() @ a[i], 0) for i in range(B)]
        f = ref.fast_proj(fast).flatten(3)                   # (B, CL, Tf, P)
        t_v = f.shape[2]
        loc = ref.audio_local_proj(seq)                      # (B, CL, TA)
        anchors = [(f[i, :, t] @ attn[i]) for i in range(B)
                   for t in range(t_v)]
        bags = [loc[i][:, overlap_window(t, t_v, TA)].t() for i in range(B)
                for t in range(t_v)]
        assert all(len(b) == TA // t_v for b in bags)
        sim = [[norm(bags[m]) @ norm(anchors[n]) / tau
                for m in range(len(bags))] for n in range(len(anchors))]
        close(log['loss_local'], symmetric_milnce(sim, None))
    assert {'acc_global', 'acc_local', 'std_global', 'attn_max'} <= set(log)


def test_glcl_non_integer_ratio_uses_explicit_windows():
    """T_a = 20 for T_v = 8: the code's reshape would misalign; explicit
    windows still run and give every step a bag."""
    model = build(glcl_cfg())
    video = torch.randn(2, 3, T, 32, 32)
    audio = torch.randn(2, 1, MELS, 20)
    log = model.train_step(dict(inputs=dict(video=[video], audio=[audio]),
                                data_samples=samples(2)), optim(model))
    assert torch.isfinite(log['loss_local'])
