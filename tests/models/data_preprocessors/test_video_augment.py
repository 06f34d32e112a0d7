"""BatchedVideoAug against kornia's VideoSequential on identical inputs.

Three kinds of check: (1) with the parameters fixed, the pixels equal
kornia's (bit for bit for brightness, grayscale and solarize; within the
stated float tolerance where the arithmetic differs); (2) the drawn
parameters have kornia's ranges, probabilities and (quantile by quantile)
distributions; (3) over many draws on the same clips, the outputs' mean and
spread agree with kornia's within the sampling error.
"""
import itertools

import pytest
import torch

from mmavcl.models.data_preprocessors import (AVDataPreprocessor,
                                              BatchedVideoAug)
from mmavcl.models.data_preprocessors.video_augment import shift_hue

K = pytest.importorskip('kornia.augmentation')
kornia_enhance = pytest.importorskip('kornia.enhance')
kornia_filters = pytest.importorskip('kornia.filters')

# the K400 configs' augmentation (configs/_base_/models/data_preprocessors.py)
MOCO_AUG = [
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1, p=0.8),
    dict(type='RandomGrayscale', p=0.2),
    dict(type='RandomGaussianBlur', kernel_size=(11, 11), sigma=(0.1, 2.0),
         p=0.5),
]


def kornia_video(cfgs):
    augs = []
    for cfg in cfgs:
        cfg = dict(cfg)
        augs.append(getattr(K, cfg.pop('type'))(**cfg))
    return K.VideoSequential(*augs, data_format='BCTHW', same_on_frame=True)


def clips(batch=3, t=3, hw=16, seed=0):
    """Video-like clips: smooth colour gradients plus noise, in [0, 1],
    with exact greys, blacks and whites (the hue's edge cases)."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, hw), torch.linspace(0, 1, hw),
                            indexing='ij')
    base = torch.stack([yy, xx, 1 - yy * xx])[:, None]           # (3,1,H,W)
    x = base + 0.3 * torch.rand(batch, 3, t, hw, hw, generator=g)
    x = x.clamp(0, 1)
    x[:, :, :, 0, :4] = torch.tensor([0.0, 1.0, 0.5, 0.25])      # greys
    return x


@pytest.mark.parametrize('cfg,exact', [
    (dict(type='ColorJitter', brightness=(1.3, 1.3), p=1.0), True),
    (dict(type='ColorJitter', brightness=(0.6, 0.6), p=1.0), True),
    (dict(type='ColorJitter', contrast=(0.7, 0.7), p=1.0), False),
    (dict(type='ColorJitter', saturation=(1.4, 1.4), p=1.0), False),
    (dict(type='ColorJitter', hue=(0.07, 0.07), p=1.0), False),
    (dict(type='ColorJitter', hue=(-0.5, -0.5), p=1.0), False),
    (dict(type='RandomGrayscale', p=1.0), True),
    (dict(type='RandomGaussianBlur', kernel_size=(11, 11),
          sigma=(1.3, 1.3), p=1.0), False),
    (dict(type='RandomGaussianBlur', kernel_size=(3, 5),
          sigma=(0.7, 0.7), p=1.0), False),
    (dict(type='RandomSolarize', thresholds=(0.4, 0.4),
          additions=(0.1, 0.1), p=1.0), True),
])
def test_fixed_parameters_give_kornias_pixels(cfg, exact):
    x = clips()
    ref = kornia_video([cfg])(x)
    out = BatchedVideoAug([cfg])(x)
    if exact:
        assert torch.equal(out, ref)
    else:
        # contrast/saturation: one fused multiply-add; hue: the HSV
        # arithmetic without the HSV image; blur: another summation order
        torch.testing.assert_close(out, ref, rtol=0, atol=2e-6)


def test_hue_matches_kornia_on_edge_pixels():
    # every sextant, ties between maxima, greys, black, white, wrap-around
    vals = torch.tensor([0.0, 0.2, 0.5, 1.0])
    px = torch.tensor(list(itertools.product(vals, repeat=3))).T  # (3, 64)
    x = px.reshape(1, 3, 1, 8, 8).expand(9, 3, 1, 8, 8).contiguous()
    shift = torch.linspace(-0.5, 0.5, 9)
    ref = kornia_enhance.adjust_hue(x[:, :, 0], shift * 2 * torch.pi)
    torch.testing.assert_close(shift_hue(x, shift)[:, :, 0], ref, rtol=0,
                               atol=2e-6)


def test_hue_tiles_of_frames_give_the_untiled_pixels():
    # the CPU path runs shift_hue over tiles of frames to stay in cache;
    # a tile of one frame (and a tile not dividing T) must change nothing
    x = clips(batch=3, t=5, hw=12)
    shift = torch.tensor([-0.4, 0.05, 0.3])
    whole = shift_hue(x, shift, tile=1 << 30)
    for tile in (1, 3 * 144 * 2):
        assert torch.equal(shift_hue(x, shift, tile=tile), whole)


def test_blur_gives_each_clip_kornias_blur_with_its_own_sigma():
    # one depthwise convolution for all clips: clip i's planes must get
    # clip i's kernel (a wrong plane -> clip mapping fails here)
    cfg = dict(type='RandomGaussianBlur', kernel_size=(7, 5),
               sigma=(0.3, 2.5), p=0.6)
    aug = BatchedVideoAug([cfg])
    x = clips(batch=6, t=3, hw=16)
    torch.manual_seed(4)
    params = aug.draw(6)
    # gaps between the chosen clips
    chosen = params[0]['chosen'] = torch.tensor([1, 0, 1, 1, 0, 1]).bool()
    sigma = params[0]['sigma']
    assert len(set(sigma.tolist())) == 6
    out = aug(x, params)
    for b in range(6):
        if not chosen[b]:
            assert torch.equal(out[b], x[b])
            continue
        frames = x[b].transpose(0, 1)                       # (T, C, H, W)
        ref = kornia_filters.gaussian_blur2d(
            frames, (7, 5), sigma[b].expand(1, 2), border_type='reflect')
        torch.testing.assert_close(out[b], ref.transpose(0, 1), rtol=0,
                                   atol=2e-6)


def test_per_clip_order_is_kornias_fixed_order():
    # every clip gets its own order; each clip equals kornia's ColorJitter
    # with that order and that clip's factors
    torch.manual_seed(1)
    cfg = dict(type='ColorJitter', brightness=0.4, contrast=0.4,
               saturation=0.4, hue=0.1, p=1.0)
    aug = BatchedVideoAug([cfg])
    x = clips(batch=24)
    params = aug.draw(24)
    out = aug(x, params)
    prm = params[0]
    assert len({tuple(o) for o in prm['order'].tolist()}) > 5
    for b in range(24):
        f = prm['factors'][b].tolist()
        ref = K.VideoSequential(
            K.ColorJitter(brightness=(f[0], f[0]), contrast=(f[1], f[1]),
                          saturation=(f[2], f[2]), hue=(f[3], f[3]),
                          p=1.0, order=prm['order'][b].tolist()),
            data_format='BCTHW', same_on_frame=True)(x[b:b + 1])
        torch.testing.assert_close(out[b:b + 1], ref, rtol=0, atol=1e-5)


def _kornia_params(cfg, n):
    cfg = dict(cfg)
    return getattr(K, cfg.pop('type'))(**cfg).forward_parameters(
        torch.Size([n, 3, 8, 8]))


def _assert_same_uniform(ours, theirs, lo, hi):
    """Same range and deciles: each sample's deciles of U(lo, hi) lie
    within 0.02 (hi - lo) of the true ones (n = 20000: the decile's
    standard error is ~0.002 (hi - lo))."""
    span = hi - lo
    assert ours.min() >= lo and ours.max() <= hi
    assert theirs.min() >= lo - 1e-6 and theirs.max() <= hi + 1e-6
    q = torch.linspace(0.1, 0.9, 9)
    truth = lo + q * span
    for sample in (ours, theirs):
        assert (sample.quantile(q) - truth).abs().max() < 0.02 * span


def test_parameter_distributions_and_probabilities_match_kornia():
    torch.manual_seed(2)
    n = 20000
    # probability tolerance: 5 binomial standard errors
    def close_p(frac, p):
        return abs(frac - p) <= 5 * (p * (1 - p) / n) ** 0.5 + 1e-9
    aug = BatchedVideoAug(MOCO_AUG + [dict(type='RandomSolarize',
                                           thresholds=0.1, additions=0.1,
                                           p=0.3)])
    cj, gray, blur, sol = aug.draw(n)
    kcj = _kornia_params(MOCO_AUG[0], n)
    # ColorJitter: chosen with p, factors uniform in kornia's ranges
    assert close_p(cj['chosen'].float().mean().item(), 0.8)
    assert close_p(kcj['batch_prob'].float().mean().item(), 0.8)
    on = cj['chosen']
    for j, key, (lo, hi) in [(0, 'brightness_factor', (0.6, 1.4)),
                             (1, 'contrast_factor', (0.6, 1.4)),
                             (2, 'saturation_factor', (0.6, 1.4)),
                             (3, 'hue_factor', (-0.1, 0.1))]:
        _assert_same_uniform(cj['factors'][on, j], kcj[key], lo, hi)
    # clips not jittered keep neutral factors
    assert torch.equal(cj['factors'][~on],
                       torch.tensor([1.0, 1.0, 1.0, 0.0]).expand(
                           int((~on).sum()), 4))
    # order: a uniform permutation per clip (kornia: per call, uniform too)
    counts = torch.zeros(24)
    perms = {p: i for i, p in enumerate(itertools.permutations(range(4)))}
    for o in cj['order'].tolist():
        counts[perms[tuple(o)]] += 1
    assert all(close_p(c / n, 1 / 24) for c in counts.tolist())
    korders = torch.stack([_kornia_params(MOCO_AUG[0], 1)['order']
                           for _ in range(2400)])
    for pos in range(4):
        for op in range(4):
            assert abs((korders[:, pos] == op).float().mean() - 0.25) < 0.05
    # grayscale, blur, solarize
    assert close_p(gray['chosen'].float().mean().item(), 0.2)
    assert close_p(_kornia_params(MOCO_AUG[1], n)['batch_prob'].mean()
                   .item(), 0.2)
    kbl = _kornia_params(MOCO_AUG[2], n)
    assert close_p(blur['chosen'].float().mean().item(), 0.5)
    assert close_p(kbl['batch_prob'].mean().item(), 0.5)
    _assert_same_uniform(blur['sigma'], kbl['sigma'], 0.1, 2.0)
    ksol = _kornia_params(dict(type='RandomSolarize', thresholds=0.1,
                               additions=0.1, p=0.3), n)
    assert close_p(sol['chosen'].float().mean().item(), 0.3)
    _assert_same_uniform(sol['thresholds'], ksol['thresholds'], 0.4, 0.6)
    _assert_same_uniform(sol['additions'], ksol['additions'], -0.1, 0.1)
    # ops are drawn independently of each other
    both = (cj['chosen'] & gray['chosen']).float().mean().item()
    assert close_p(both, 0.8 * 0.2)


def _clip_stats(out):
    """Per clip: the mean of each channel, the pixel std, whether it is
    grey, the mean absolute horizontal gradient (blur lowers it)."""
    chan = out.mean((2, 3, 4))                              # (B, 3)
    std = out.flatten(1).std(1)
    grey = ((out[:, 0] == out[:, 1]) & (out[:, 1] == out[:, 2])).flatten(
        1).all(1).float()
    grad = (out[..., 1:] - out[..., :-1]).abs().mean((1, 2, 3, 4))
    return torch.cat([chan, std[:, None], grey[:, None], grad[:, None]], 1)


def test_output_statistics_match_kornia_over_many_draws():
    """The MoCo-v2 augmentation on identical clips, 1536 draws each.

    Tolerance per statistic: the difference of the two means must be
    within 4.5 standard errors of that difference (6 statistics: a false
    alarm ~5e-5); each statistic's spread across draws within 10 % (its
    sampling error at n = 1536 is ~2 %)."""
    torch.manual_seed(3)
    x = clips(batch=4, t=2, hw=24, seed=4).repeat(64, 1, 1, 1, 1)  # 256
    ours, theirs = BatchedVideoAug(MOCO_AUG), kornia_video(MOCO_AUG)
    s_ours = torch.cat([_clip_stats(ours(x)) for _ in range(6)])
    s_theirs = torch.cat([_clip_stats(theirs(x)) for _ in range(6)])
    n = s_ours.shape[0]
    se = ((s_ours.var(0) + s_theirs.var(0)) / n).sqrt()
    diff = (s_ours.mean(0) - s_theirs.mean(0)).abs()
    assert (diff <= 4.5 * se + 1e-7).all(), (diff, se)
    rel = (s_ours.std(0) / s_theirs.std(0) - 1).abs()
    assert (rel < 0.10).all(), rel
    # grey clips come from RandomGrayscale only: P = 0.2 in both
    assert abs(s_ours[:, 4].mean() - 0.2) < 5 * (0.16 / n) ** 0.5


def test_input_kept_unless_inplace_and_unaugmented_clips_unchanged():
    torch.manual_seed(5)
    x = clips(batch=64)
    keep = x.clone()
    aug = BatchedVideoAug(MOCO_AUG)
    params = aug.draw(64)
    out = aug(x, params)
    assert torch.equal(x, keep)
    untouched = ~(params[0]['chosen'] | params[1]['chosen'] |
                  params[2]['chosen'])
    assert untouched.any()
    assert torch.equal(out[untouched], x[untouched])
    same = aug(x, params, inplace=True)
    assert same.data_ptr() == x.data_ptr() and torch.equal(same, out)


def test_preprocessor_batched_per_sample_per_view_shared_across_frames():
    torch.manual_seed(0)
    frame = torch.randint(0, 256, (3, 1, 16, 16), dtype=torch.uint8)
    clip = frame.expand(3, 4, 16, 16).contiguous()
    data = {'inputs': {'video': [[clip] * 4, [clip] * 4]}}
    pre = AVDataPreprocessor(video_aug=MOCO_AUG[:1] + [
        dict(MOCO_AUG[2], kernel_size=(5, 5))], video_aug_impl='batched',
        audio_cfg=None)
    assert isinstance(pre.video_aug, BatchedVideoAug)
    v0, v1 = pre(data, training=True)['inputs']['video']
    assert torch.allclose(v0[:, :, :1].expand_as(v0), v0, atol=1e-5)
    assert not torch.allclose(v0[0], v0[1], atol=1e-3)
    assert not torch.allclose(v0[0], v1[0], atol=1e-3)
    ev = pre(data, training=False)['inputs']['video'][0]
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)
    torch.testing.assert_close(ev[0], (clip.float() - mean) / std)
    assert pre.state_dict().keys() == AVDataPreprocessor(
        audio_cfg=None).state_dict().keys()


def test_compiled_callers_run_the_augmentation_eagerly():
    """``torch.compile`` around the augmentation (mmengine's compile=True
    wraps the whole train_step) leaves it eager: no graph of it (traced,
    it became ~30 graphs recompiled as the number of chosen clips changed,
    see ``BatchedVideoAug.forward``), the same pixels. The 'eager' backend
    traces like any other without compiling code, so this takes ~1 s."""
    import torch._dynamo
    from torch._dynamo.utils import counters
    aug = BatchedVideoAug(MOCO_AUG)
    x = clips(batch=8, t=2, hw=16)
    torch._dynamo.reset()
    counters.clear()
    try:
        compiled = torch.compile(aug, backend='eager')
        for seed in range(2):
            torch.manual_seed(seed)
            params = aug.draw(8)
            assert torch.equal(compiled(x, params), aug(x, params))
        assert counters['stats']['unique_graphs'] == 0
        # the preprocessor around it compiles (aot_eager: dynamo graphs,
        # eager kernels, no C++ compiler needed) and gives the eager views
        pre = AVDataPreprocessor(video_aug=MOCO_AUG, video_aug_impl='batched',
                                 audio_cfg=None)
        clip = (x[0] * 255).round().to(torch.uint8)
        data = {'inputs': {'video': [[clip] * 4, [clip] * 4]}}
        views = []
        for fn in (pre, torch.compile(pre, backend='aot_eager')):
            torch.manual_seed(7)
            views.append(fn(data, training=True)['inputs']['video'])
        assert counters['stats']['unique_graphs'] > 0
        for eager, comp in zip(*views):
            assert torch.equal(eager, comp)
    finally:
        torch._dynamo.reset()


def test_errors_name_the_option():
    with pytest.raises(ValueError, match='RandomAffine.*kornia'):
        BatchedVideoAug([dict(type='RandomAffine', degrees=3)])
    with pytest.raises(ValueError, match='border_type'):
        BatchedVideoAug([dict(type='RandomGaussianBlur', kernel_size=3,
                              sigma=(0.1, 2.0), border_type='constant')])
    with pytest.raises(ValueError, match='same_on_batch'):
        BatchedVideoAug([dict(type='RandomGrayscale', same_on_batch=True)])
    with pytest.raises(TypeError, match='ColorJitter'):
        BatchedVideoAug([dict(type='ColorJitter', brightnes=0.4)])
    with pytest.raises(ValueError, match='ColorJitter.hue'):
        BatchedVideoAug([dict(type='ColorJitter', hue=0.7)])
    with pytest.raises(ValueError, match='video_aug_impl'):
        AVDataPreprocessor(video_aug=MOCO_AUG, video_aug_impl='fast')
