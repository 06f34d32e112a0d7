"""AVDataPreprocessor(audio_cfg=dict(num_steps=S)): clips of different
lengths (a 25 fps and a 30 fps clip of the same frame count) in one batch,
each cut to its own samples and resized to S log-mel steps with nearest
interpolation, against a per-clip reference with no batch padding."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from mmavcl.datasets import av_collate
from mmavcl.datasets.transforms.formatting import PackAVInputs
from mmavcl.registry import MODELS

from test_av_data_preprocessor import _ref_log_mel

HOP = 160


def _packed(lengths, seed=0):
    """PackAVInputs samples with one audio view of each length; the
    decoder records each view's ``num_samples``."""
    rng = np.random.default_rng(seed)
    pack, out = PackAVInputs(), []
    for i, n in enumerate(lengths):
        wav = (0.1 * rng.standard_normal(n)).astype(np.float32)
        out.append(pack(dict(
            filename=f'v{i}.mp4', audio_wavs=[wav],
            audio_views=[dict(time_span=(0.0, n / 16000), num_samples=n)])))
    return out


def _reference(wav: torch.Tensor, steps: int, top_db=80.0) -> torch.Tensor:
    """One clip alone: log-mel of its own samples, its own dB floor, the
    ``ceil(L / hop)`` steps centred inside it, resized (nearest) to
    ``steps``: ``(F, steps)``."""
    db = _ref_log_mel(wav, n_fft=512, n_mels=80, top_db=top_db)
    db = db[:, :math.ceil(len(wav) / HOP)]
    return F.interpolate(db[None], size=steps, mode='nearest')[0]


@pytest.mark.parametrize('collate', [pseudo_collate, av_collate])
@pytest.mark.parametrize('steps', [96, 64, 128])  # r = 3, 2, 4 x 32 frames
def test_each_clip_cut_to_its_samples_and_resized(collate, steps):
    pytest.importorskip('torchaudio')
    # 32 frames at 25, 30 and 24 fps
    lengths = [20480, 17067, 21333]
    pre = MODELS.build(dict(
        type='AVDataPreprocessor',
        audio_cfg=dict(n_fft=512, win_length=400, hop_length=HOP,
                       n_mels=80, num_steps=steps)))
    samples = _packed(lengths)
    out = pre(collate(samples))['inputs']['audio'][0]
    assert out.shape == (3, 1, 80, steps)
    for i, s in enumerate(samples):
        ref = _reference(s['inputs']['audio'][0], steps)
        torch.testing.assert_close(out[i, 0], ref, atol=2e-3, rtol=1e-4)


def test_without_num_steps_the_padded_batch_is_kept():
    """The old behaviour stays the default: every step of the padded
    batch, ``1 + L_max // hop``."""
    pytest.importorskip('torchaudio')
    pre = MODELS.build(dict(type='AVDataPreprocessor',
                            audio_cfg=dict(n_fft=512, n_mels=80)))
    out = pre(av_collate(_packed([16000, 12000])))['inputs']['audio'][0]
    assert out.shape == (2, 1, 80, 1 + 16000 // HOP)


def test_num_steps_must_be_a_positive_int():
    with pytest.raises(ValueError, match='num_steps'):
        MODELS.build(dict(type='AVDataPreprocessor',
                          audio_cfg=dict(num_steps=0)))
