"""tools/data/make_fingerprint_queries.py on a real toy video: every edit,
re-encoded with PyAV's encoders and decoded again, shows the change it
names (size, length, keyframes, sharpness, brightness, colour, loudness,
noise), and the list holds originals and copies."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest

from mmavcl.datasets.media import PyAVVideoReader, probe_media
from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FPS, SIZE, DURATION = 16.0, 64, 2.0


TOOL = load_script('tools/data/make_fingerprint_queries.py')


@pytest.fixture(scope='module')
def made(tmp_path_factory):
    data = str(tmp_path_factory.mktemp('fp') / 'toy')
    load_script('tools/data/make_toy_dataset.py').make_toy_dataset(
        data, num_per_class=1, classes=['circle_cw'], size=SIZE, fps=FPS,
        duration=DURATION, workers=1)
    out_list = osp.join(data, 'fp.json')
    listing = TOOL.make_fingerprint_queries(
        'val.txt', out_list, data_root=data,
        edits=list(TOOL.EDITS) + ['crop+reencode'])
    return data, out_list, listing


def _frames(path):
    r = PyAVVideoReader(path)
    try:
        return r.get_batch(np.arange(r.num_frames))
    finally:
        r.close()


def _audio(path):
    return TOOL.decode_clip(path).audio


def _keyframes(path):
    import av
    with av.open(path) as c:
        return [p.is_keyframe for p in c.demux(video=0) if p.size]


def test_every_edit_does_what_it_says(made):
    data, out_list, listing = made
    with open(out_list) as f:
        assert json.load(f) == listing
    recs = {r['edit']: r for r in listing['data_list']}
    src = recs['original']['filename']
    assert recs['original']['source'] == src
    path = {e: osp.join(data, r['filename']) for e, r in recs.items()}
    assert all(r['source'] == src for r in recs.values())
    orig = _frames(path['original'])
    t = len(orig)
    assert t == int(FPS * DURATION)

    def info(e):
        return probe_media(path[e])

    # geometry and length
    assert (info('crop')['width'], info('crop')['height']) == (44, 44)
    assert (info('scale')['width'], info('scale')['height']) == (32, 32)
    assert len(_frames(path['speed'])) == int((t - 1) // 1.5) + 1
    assert len(_frames(path['temporal_crop'])) == round(0.6 * t)
    assert info('crop+reencode')['width'] == 44
    # the speed copy's audio is 1.5x shorter
    a_orig, a_speed = _audio(path['original']), _audio(path['speed'])
    assert len(a_speed) == pytest.approx(len(a_orig) / 1.5, rel=0.05)
    # keyframe every fps / 2 frames after re-encoding
    keys = _keyframes(path['reencode'])
    assert np.flatnonzero(keys).tolist() == list(range(0, len(keys), 8))
    assert sum(_keyframes(path['original'])) < sum(keys)

    # pixels: the blurred copy is the original blurred at sigma 2 % of the
    # short side (>= 1 px), more than it is the original; brightness raises
    # the mean, colour lowers the saturation
    def sat(x):
        return np.mean([cv2.cvtColor(f, cv2.COLOR_RGB2HSV)[..., 1].mean()
                        for f in x])
    blur = _frames(path['blur']).astype(float)
    ref = np.stack([cv2.GaussianBlur(f, (0, 0), 1.28) for f in orig])
    # (x264 + 4:2:0 chroma add ~25 of squared error to both)
    assert np.mean((blur - ref)**2) < 0.8 * np.mean((blur - orig)**2)
    bright = _frames(path['brightness']).astype(float).mean()
    expected = min(255.0, 1.25 * orig.astype(float).mean() + 20)
    assert bright == pytest.approx(expected, rel=0.05)
    assert sat(_frames(path['colour'])) < 0.75 * sat(orig)

    # audio: -6 dB, and noise at 10 dB SNR (both through AAC again)
    def rms(x):
        return float(np.sqrt(np.mean(x.astype(np.float64)**2)))
    a_gain = _audio(path['audio_gain'])
    assert rms(a_gain) / rms(a_orig) == pytest.approx(10**(-6 / 20),
                                                      rel=0.05)
    noise = _audio(path['audio_noise']) - a_orig
    snr = 20 * np.log10(rms(a_orig) / rms(noise))
    assert snr == pytest.approx(10.0, abs=1.5)
    # video-only edits leave the audio alone (up to AAC's second pass)
    assert rms(_audio(path['blur']) - a_orig) < 0.1 * rms(a_orig)


def test_same_seed_same_copies_and_unknown_edit_named(made, tmp_path):
    data, _, listing = made
    clip = TOOL.decode_clip(osp.join(data, listing['data_list'][0][
        'filename']))
    a = TOOL.apply_edit(clip, 'crop+audio_noise', TOOL._seed(0, 0, 'x'))
    b = TOOL.apply_edit(clip, 'crop+audio_noise', TOOL._seed(0, 0, 'x'))
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.audio, b.audio)
    with pytest.raises(ValueError, match="'blurr'"):
        TOOL.check_edits(['crop+blurr'])
