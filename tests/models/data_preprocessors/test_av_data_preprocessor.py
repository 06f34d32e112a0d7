import math
import sys

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate

from mmavcl.models.data_preprocessors import AVDataPreprocessor
from mmavcl.registry import MODELS

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1, 1)


def _packed_batch(batch=3, views=2, audio_views=1, t=4, hw=8, wav_len=3200):
    """Samples as PackAVInputs makes them (real transform when present)."""
    from mmavcl.datasets.transforms.formatting import PackAVInputs
    pack = PackAVInputs()
    rng = np.random.default_rng(0)
    out = []
    for b in range(batch):
        results = dict(
            filename=f'v{b}.mp4',
            video_imgs=[rng.integers(0, 256, (t, hw, hw, 3), dtype=np.uint8)
                        for _ in range(views)],
            video_views=[dict(view_type='clip') for _ in range(views)],
            audio_wavs=[rng.standard_normal(wav_len).astype(np.float32) *
                        0.1 * (b + 1) for _ in range(audio_views)],
            audio_views=[dict(time_span=(0.0, 0.2))] * audio_views,
            label=b)
        out.append(pack(results))
    return out


def _ref_log_mel(wav, sr=16000, n_fft=1024, win=400, hop=160, n_mels=128,
                 top_db=80.0):
    """Independent log-mel (no torchaudio), PLATFORM.md section 4."""
    def hz2mel(f):
        return 2595.0 * math.log10(1.0 + f / 700.0)
    n_freqs = n_fft // 2 + 1
    freqs = torch.linspace(0, sr // 2, n_freqs)
    m = torch.linspace(hz2mel(0.0), hz2mel(sr / 2), n_mels + 2)
    f_pts = 700.0 * (10**(m / 2595.0) - 1.0)
    fd = f_pts[1:] - f_pts[:-1]
    sl = f_pts[None] - freqs[:, None]
    fb = torch.clamp(torch.min(-sl[:, :-2] / fd[:-1], sl[:, 2:] / fd[1:]),
                     min=0)
    spec = torch.stft(wav, n_fft, hop, win, torch.hann_window(win),
                      center=True, pad_mode='reflect',
                      return_complex=True).abs()**2
    mel = (spec.transpose(-1, -2) @ fb).transpose(-1, -2)
    db = 10 * torch.log10(mel.clamp(min=1e-10))
    return torch.maximum(db, db.amax((-2, -1), keepdim=True) - top_db)


def test_pseudo_collate_multi_view_video_and_log_mel():
    pytest.importorskip('torchaudio')
    samples = _packed_batch()
    data = pseudo_collate(samples)
    # pseudo_collate transposes: views outside, batch inside.
    assert len(data['inputs']['video']) == 2
    assert len(data['inputs']['video'][0]) == 3
    pre = MODELS.build(dict(type='AVDataPreprocessor'))
    out = pre(data, training=False)
    video, audio = out['inputs']['video'], out['inputs']['audio']
    assert len(video) == 2 and len(audio) == 1
    for v in range(2):
        assert video[v].shape == (3, 3, 4, 8, 8)
        assert video[v].dtype == torch.float32
        for b in range(3):
            raw = samples[b]['inputs']['video'][v].float()
            torch.testing.assert_close(video[v][b], (raw - MEAN) / STD)
    assert audio[0].shape == (3, 1, 128, 3200 // 160 + 1)
    for b in range(3):
        ref = _ref_log_mel(samples[b]['inputs']['audio'][0])
        torch.testing.assert_close(audio[0][b, 0], ref, rtol=1e-3, atol=1e-3)
    assert [int(s.gt_label) for s in out['data_samples']] == [0, 1, 2]


def test_log_mel_clamp_is_per_clip():
    pytest.importorskip('torchaudio')
    g = torch.Generator().manual_seed(0)
    quiet = torch.randn(3200, generator=g) * 1e-2
    quiet[1600:] = 0.0   # silence: hits the top_db floor
    loud = torch.randn(3200, generator=g) * 10.0
    pre = AVDataPreprocessor()
    alone = pre.log_mel(quiet[None])[0]
    batched = pre.log_mel(torch.stack([quiet, loud]))[0]
    torch.testing.assert_close(alone, batched)
    # The floor is 80 dB under the clip's own max.
    assert alone.min().item() == pytest.approx(alone.max().item() - 80.0,
                                               abs=1e-3)


def test_default_collate_and_plain_single_view():
    samples = _packed_batch(batch=2, views=1, audio_views=0)
    pre = AVDataPreprocessor(audio_cfg=None)
    ref = pre(pseudo_collate(samples))['inputs']['video'][0]
    stacked = pre(default_collate(samples))['inputs']['video'][0]
    torch.testing.assert_close(stacked, ref)
    clips = [s['inputs']['video'][0] for s in samples]
    plain = pre({'inputs': clips, 'data_samples': None})['inputs']
    assert list(plain) == ['video'] and len(plain['video']) == 1
    torch.testing.assert_close(plain['video'][0], ref)
    torch.testing.assert_close(
        pre({'inputs': torch.stack(clips)})['inputs']['video'][0], ref)


def test_waveforms_kept_and_padded_features_passed_through():
    pre = AVDataPreprocessor(audio_cfg=None)
    wavs = [torch.ones(10), torch.ones(9)]
    out = pre({'inputs': {'audio': [wavs]}})['inputs']['audio'][0]
    assert out.shape == (2, 10) and out[1, -1] == 0 and out[1, 0] == 1
    feats = [torch.randn(80, 96), torch.randn(80, 96)]
    out = AVDataPreprocessor(audio_norm=(1.0, 2.0))(
        {'inputs': {'audio': [feats]}})['inputs']['audio'][0]
    torch.testing.assert_close(out[:, 0], (torch.stack(feats) - 1.0) / 2.0)


def test_kornia_aug_per_sample_per_view_shared_across_frames():
    pytest.importorskip('kornia')
    torch.manual_seed(0)
    # Every frame of every sample and view is the same image, so any
    # difference across frames comes from the augmentation.
    frame = torch.randint(0, 256, (3, 1, 16, 16), dtype=torch.uint8)
    clip = frame.expand(3, 4, 16, 16).contiguous()
    data = {'inputs': {'video': [[clip] * 4, [clip] * 4]}}
    pre = AVDataPreprocessor(video_aug=[
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4, hue=0.1, p=1.0)
    ], audio_cfg=None)
    out = pre(data, training=True)['inputs']['video']
    v0, v1 = out
    # same across frames
    assert torch.allclose(v0[:, :, :1].expand_as(v0), v0, atol=1e-5)
    # different per sample and per view
    assert not torch.allclose(v0[0], v0[1], atol=1e-3)
    assert not torch.allclose(v0[0], v1[0], atol=1e-3)
    # evaluation: no augmentation, identical to plain normalisation
    ev = pre(data, training=False)['inputs']['video'][0]
    torch.testing.assert_close(ev[0], (clip.float() - MEAN) / STD)
    # aug_views restricts augmentation to the listed views
    pre1 = AVDataPreprocessor(video_aug=[dict(type='RandomGrayscale', p=1.0)],
                              aug_views=[1], audio_cfg=None)
    out = pre1(data, training=True)['inputs']['video']
    torch.testing.assert_close(out[0][0], (clip.float() - MEAN) / STD)
    assert not torch.allclose(out[1][0], out[0][0])


def test_spec_augment_per_sample_training_only():
    torch.manual_seed(0)
    feats = torch.randn(4, 1, 32, 40)
    pre = AVDataPreprocessor(spec_augment=dict(freq_mask=8, time_mask=10,
                                               num_masks=2))
    data = {'inputs': {'audio': [feats]}}
    torch.testing.assert_close(pre(data)['inputs']['audio'][0], feats)
    out = pre(data, training=True)['inputs']['audio'][0]
    changed = out != feats
    assert changed.any()
    for b in range(4):
        fill = feats[b].mean()
        assert torch.allclose(out[b][changed[b]], fill.expand(
            int(changed[b].sum())))
        # masks are whole rows / columns
        rows = changed[b, 0].all(dim=1)
        cols = changed[b, 0].all(dim=0)
        assert torch.equal(changed[b, 0], rows[:, None] | cols[None, :])
    assert not torch.equal(changed[0], changed[1])


def test_autocast_outputs_fp32():
    samples = _packed_batch(batch=2, views=1, audio_views=0)
    pre = AVDataPreprocessor(audio_cfg=None)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = pre(pseudo_collate(samples))['inputs']['video'][0]
    assert out.dtype == torch.float32


def test_errors_name_the_view():
    pre = AVDataPreprocessor()
    bad = {'inputs': {'video': [[torch.zeros(3, 4, 8, 8, dtype=torch.uint8),
                                 torch.zeros(3, 4, 8, 9, dtype=torch.uint8)]]}}
    with pytest.raises(ValueError, match=r'inputs\["video"\]\[0\]'):
        pre(bad)
    with pytest.raises(KeyError, match='depth'):
        pre({'inputs': {'depth': [torch.zeros(1, 3)]}})
    with pytest.raises(ValueError, match='audio_cfg'):
        AVDataPreprocessor(audio_cfg=dict(nmels=64))
    with pytest.raises(ValueError, match='kornia'):
        AVDataPreprocessor(video_aug=[dict(type='NoSuchAug')])


def test_missing_torchaudio_message(monkeypatch):
    monkeypatch.setitem(sys.modules, 'torchaudio', None)
    pre = AVDataPreprocessor()
    with pytest.raises(ImportError, match=r'pip install -e \.\[audio\]'):
        pre({'inputs': {'audio': [[torch.zeros(400)]]}})
