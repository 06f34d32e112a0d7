"""Per-view spatial transforms (crop boxes proven on a coordinate-encoding
video), packing into inputs + AVDataSample."""
import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose

import mmavcl.datasets  # noqa: F401 (registers transforms)
from mmavcl.datasets.transforms import (CenterCropViews, FlipViews,
                                        PackAVInputs, RandomResizedCropViews,
                                        ResizeViews, ThreeCropViews,
                                        resize_clip)
from mmavcl.registry import TRANSFORMS
from mmavcl.structures import AVDataSample
from mmavcl.testing import make_av_video

H, W = 48, 96


@pytest.fixture(scope='module')
def coords_video(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('media') / 'coords.mp4')
    return make_av_video(path, num_frames=20, size=(H, W), pattern='coords')


def _decoded(video, num_clips=3):
    pipe = Compose([
        TRANSFORMS.build(c) for c in [
            dict(type='VideoInit'),
            dict(type='SampleClips', clip_len=4, num_clips=num_clips,
                 audio=True),
            dict(type='DecodeVideoViews'),
            dict(type='DecodeAudioViews'),
        ]
    ])
    return pipe(dict(filename=video['path'], label=7, video_id='coords.mp4'))


def _expected_rg(box, flip, out_w, out_h):
    """R/G that pixel centres of an output view should show, from the
    source box alone (cv2's half-pixel-centre convention)."""
    x1, y1, x2, y2 = box
    j = np.arange(out_w)
    if flip:
        j = out_w - 1 - j
    xs = x1 + (j + 0.5) * (x2 - x1) / out_w - 0.5
    ys = y1 + (np.arange(out_h) + 0.5) * (y2 - y1) / out_h - 0.5
    r = 255 * np.clip(xs, 0, W - 1) / (W - 1)
    g = 255 * np.clip(ys, 0, H - 1) / (H - 1)
    return r[None, :].repeat(out_h, 0), g[:, None].repeat(out_w, 1)


def test_random_resized_crop_and_flip_record_source_boxes(coords_video):
    np.random.seed(0)
    for _ in range(4):
        res = _decoded(coords_video)
        res = RandomResizedCropViews(size=32, scale=(0.2, 0.8))(res)
        res = FlipViews(flip_prob=0.5)(res)
        res = CenterCropViews(size=(24, 32))(res)  # a crop after the flip
        boxes = set()
        for imgs, view in zip(res['video_imgs'], res['video_views']):
            assert imgs.dtype == np.uint8 and imgs.shape == (4, 32, 24, 3)
            assert view['img_shape'] == (32, 24)
            r, g = _expected_rg(view['crop_box'], view['flip'], 24, 32)
            got = imgs.astype(np.float64).mean(0)
            assert np.abs(got[..., 0] - r).mean() < 4, view
            assert np.abs(got[..., 1] - g).mean() < 4, view
            boxes.add(view['crop_box'])
        assert len(boxes) == 3  # independent per view


def test_same_on_views_and_view_selection(coords_video):
    res = _decoded(coords_video)
    res = RandomResizedCropViews(size=16, same_on_views=True)(res)
    assert len({v['crop_box'] for v in res['video_views']}) == 1
    res = _decoded(coords_video)
    res = FlipViews(flip_prob=1.0, views=[1])(res)
    assert [v['flip'] for v in res['video_views']] == [False, True, False]


def test_resize_and_three_crop(coords_video):
    res = _decoded(coords_video, num_clips=2)
    res = ResizeViews(scale=(-1, 32))(res)
    assert res['video_imgs'][0].shape == (4, 32, 64, 3)
    assert res['video_views'][0]['crop_box'] == (0.0, 0.0, W, H)
    res = ThreeCropViews(size=32)(res)
    views = res['video_views']
    assert len(views) == 6 and [v['crop_index'] for v in views] == [
        0, 1, 2
    ] * 2
    assert [v['crop_box'] for v in views[:3]] == [(0.0, 0.0, 48.0, 48.0),
                                                  (24.0, 0.0, 72.0, 48.0),
                                                  (48.0, 0.0, 96.0, 48.0)]
    for imgs, view in zip(res['video_imgs'], views):
        r, g = _expected_rg(view['crop_box'], False, 32, 32)
        assert np.abs(imgs.astype(float).mean(0)[..., 0] - r).mean() < 4


def test_resize_clip_matches_per_frame_loop():
    rng = np.random.default_rng(0)
    for t in (3, 200):  # 200 x 3 channels > OpenCV's 512: chunked path
        clip = rng.integers(0, 256, (t, 20, 30, 3), dtype=np.uint8)
        out = resize_clip(clip, (17, 11))
        ref = np.stack([cv2.resize(f, (17, 11)) for f in clip])
        np.testing.assert_array_equal(out, ref)


def test_pack(coords_video):
    res = _decoded(coords_video, num_clips=2)
    res['pretext_labels'] = dict(order=np.int64(2))
    out = PackAVInputs()(res)
    video, audio = out['inputs']['video'], out['inputs']['audio']
    assert [tuple(v.shape) for v in video] == [(3, 4, H, W)] * 2
    assert all(v.dtype == torch.uint8 and v.is_contiguous() for v in video)
    assert [tuple(a.shape) for a in audio] == [(2560, )] * 2
    assert all(a.dtype == torch.float32 for a in audio)
    # (C, T, H, W) holds the decoded (T, H, W, C) frames
    np.testing.assert_array_equal(video[0].permute(1, 2, 3, 0).numpy(),
                                  res['video_imgs'][0])
    ds = out['data_samples']
    assert isinstance(ds, AVDataSample)
    assert ds.gt_label.tolist() == [7] and ds.gt_label.dtype == torch.long
    assert ds.video_id == 'coords.mp4'
    assert ds.source_shape == (H, W) and ds.fps == 25.0
    assert ds.total_frames == 20
    assert ds.pretext_labels == {'order': 2}
    assert isinstance(ds.pretext_labels['order'], int)
    meta = ds.view_meta[0]
    assert meta['frame_inds'].dtype == np.int64
    assert set(meta) >= {'frame_inds', 'time_span', 'crop_box', 'flip',
                         'speed', 'reversed', 'view_type'}
    assert set(ds.audio_meta[0]) >= {'time_span', 'padded', 'missing',
                                     'speed', 'reversed'}
    with pytest.raises(ValueError, match='nothing to pack'):
        PackAVInputs()(dict(filename='x.mp4'))


def test_pack_without_label_and_audio_only():
    res = dict(audio_wavs=[np.zeros(10, np.float32)],
               audio_views=[dict(time_span=(0, 1))])
    out = PackAVInputs()(res)
    assert 'video' not in out['inputs']
    assert 'gt_label' not in out['data_samples']
    assert out['data_samples'].view_meta == []


def _jitter_reference(frames, b, c, s, h, order):
    """Slow per-frame, per-pixel reference (colorsys for the hue)."""
    import colorsys
    gray = np.array([0.299, 0.587, 0.114])
    x = frames.astype(np.float64)
    m_view = None
    for op in order:
        if op == 0:
            x = np.clip(x * b, 0, 255)
        elif op == 1:
            m_view = np.mean([f @ gray for f in x])
            x = np.clip((x - m_view) * c + m_view, 0, 255)
        elif op == 2:
            out = np.empty_like(x)
            for t in range(len(x)):
                g = (x[t] @ gray)[..., None]
                out[t] = np.clip((x[t] - g) * s + g, 0, 255)
            x = out
        elif op == 3:
            out = np.empty_like(x)
            for idx in np.ndindex(x.shape[:3]):
                r, g_, bl = np.round(x[idx]) / 255
                hh, ss, vv = colorsys.rgb_to_hsv(r, g_, bl)
                out[idx] = np.array(colorsys.hsv_to_rgb((hh + h) % 1, ss,
                                                        vv)) * 255
            x = out
    return x


def test_color_jitter_views_against_reference():
    from mmcv.transforms import RandomApply

    from mmavcl.datasets.transforms import ColorJitterViews, GrayscaleViews
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (1, 6, 7, 3), dtype=np.uint8)
    clip = np.concatenate([frame, frame, frame[:, ::-1]])  # (3, 6, 7, 3)
    np.random.seed(0)
    res = dict(video_imgs=[clip.copy(), clip.copy()],
               video_views=[dict(view_type='clip'), dict(view_type='clip')])
    res = ColorJitterViews(0.4, 0.4, 0.4, 0.1)(res)
    p0, p1 = (v['color_jitter'] for v in res['video_views'])
    assert p0 != p1  # independent across views
    for out, p in zip(res['video_imgs'], (p0, p1)):
        assert out.dtype == np.uint8
        np.testing.assert_array_equal(out[0], out[1])  # same over frames
        ref = _jitter_reference(clip, p['brightness'], p['contrast'],
                                p['saturation'], p['hue'], p['order'])
        # cv2's uint8 HSV quantises hue to 2 degrees
        assert np.abs(out.astype(float) - ref).mean() < 1.5
    res = dict(video_imgs=[clip.copy()], video_views=[dict(view_type='a')])
    res = RandomApply([GrayscaleViews(prob=1.0)], prob=1.0)(res)
    g = res['video_imgs'][0]
    assert res['video_views'][0]['grayscale'] is True
    np.testing.assert_array_equal(g[..., 0], g[..., 2])
    ref = np.round(clip.astype(float) @ [0.299, 0.587, 0.114])
    assert np.abs(g[..., 0] - ref).max() <= 1
