"""tools/data: toy dataset, file lists, audio extraction (real files)."""
import os
import os.path as osp
import sys

import av
import decord
import numpy as np
import pytest

from mmavcl.datasets import AVAudioDataset, AVVideoDataset
from mmavcl.datasets.media import read_audio_span
from mmavcl.testing import decode_chirp_time, make_av_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))

import build_file_list  # noqa: E402
import extract_audio  # noqa: E402
import make_toy_dataset  # noqa: E402


def _track(path):
    """Camera position per frame, read back from the decoded pixels: the
    shift between consecutive frames by phase correlation, accumulated
    (the content moves opposite to the camera)."""
    frames = decord.VideoReader(path).get_batch(list(range(48))).asnumpy()
    gray = frames.astype(np.float64).mean(-1)
    gray -= gray.mean((1, 2), keepdims=True)
    h, w = gray.shape[1:]
    steps = []
    for a, b in zip(gray[:-1], gray[1:]):
        cross = np.fft.fft2(a) * np.conj(np.fft.fft2(b))
        corr = np.fft.ifft2(cross / (np.abs(cross) + 1e-9)).real
        dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
        steps.append((dx - w if dx > w // 2 else dx,
                      dy - h if dy > h // 2 else dy))
    pos = np.concatenate([[(0, 0)], np.cumsum(steps, 0)]).astype(float)
    return pos[:, 0], pos[:, 1]


@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('toy'))
    make_toy_dataset.main(['--out', out, '--num-per-class', '2',
                           '--val-ratio', '0.5', '--workers', '2'])
    return out


def test_toy_dataset_layout_and_lists(toy):
    train = open(osp.join(toy, 'train.txt')).read().split('\n')
    assert len([x for x in train if x]) == 4
    ds = AVVideoDataset(osp.join(toy, 'val.txt'), data_root=toy,
                        with_label=True, num_classes=4)
    assert len(ds) == 4
    for i in range(4):
        info = ds.get_data_info(i)
        vr = decord.VideoReader(info['filename'])
        assert len(vr) == 48 and vr.get_avg_fps() == 16
        assert vr[0].shape == (64, 64, 3)
    assert open(osp.join(toy, 'classes.txt')).read().split() == [
        'horizontal', 'vertical', 'circle_cw', 'circle_ccw'
    ]


def test_toy_classes_differ_by_motion_and_sound(toy):
    """Read the camera motion back from decoded pixels and the pitch from
    decoded audio: each class moves as its name says, and the pitch follows
    the camera's height (what lets audio supervise the video encoder)."""
    for label, cls in enumerate(make_toy_dataset.CLASSES[:4]):
        path = osp.join(toy, 'videos', cls, f'{cls}_0000.mp4')
        x, y = _track(path)
        sx, sy = x.std(), y.std()
        if cls == 'horizontal':
            assert sx > 4 and sy < 1
        elif cls == 'vertical':
            assert sy > 4 and sx < 1
        else:
            assert sx > 3 and sy > 3
            # angular direction of the camera (y points down: clockwise on
            # screen = positive cross product)
            dx, dy = x - x.mean(), y - y.mean()
            cross = dx[:-1] * dy[1:] - dy[:-1] * dx[1:]
            assert np.sign(cross.mean()) == (1 if cls == 'circle_cw' else -1)
        wave, start = read_audio_span(path, 0.0, 3.0, 16000)
        # pitch per video frame (64 ms windows centred on each frame)
        freqs = []
        for k in range(4, 44):
            c = int((k / 16 - start) * 16000)
            freqs.append(
                decode_chirp_time(wave[c - 512:c + 512], f0=0, rate=1.0))
        if cls != 'horizontal':
            # log-pitch is linear in the camera height, decreasing upwards
            r = np.corrcoef(np.log2(freqs), y[4:44])[0, 1]
            assert r < -0.9
        else:
            assert np.std(np.log2(freqs)) < 0.05  # constant pitch


def test_toy_single_frame_colour_is_not_the_class(toy):
    """Appearance is random per video: first frames of two videos of one
    class differ as much as first frames of different classes."""
    first = {}
    for label, cls in enumerate(make_toy_dataset.CLASSES[:4]):
        for i in range(2):
            path = osp.join(toy, 'videos', cls, f'{cls}_{i:04d}.mp4')
            first[(label, i)] = decord.VideoReader(path)[0].asnumpy().astype(
                np.float32)

    def dist(a, b):
        return np.abs(first[a] - first[b]).mean()

    within = np.mean([dist((c, 0), (c, 1)) for c in range(4)])
    across = np.mean([dist((c, 0), (d, 0)) for c in range(4)
                      for d in range(4) if c != d])
    assert within > 30  # two videos of one class look very different
    assert within > 0.7 * across


def test_build_file_list_folder_and_official_splits(tmp_path):
    src = tmp_path / 'videos'
    for cls in ('b_cls', 'a_cls'):
        for i in range(4):
            make_path = src / cls / f'{cls}_{i}.mp4'
            make_path.parent.mkdir(parents=True, exist_ok=True)
            make_path.write_bytes(b'')
    (src / 'a_cls' / 'notes.txt').write_text('ignored')
    build_file_list.main(['folder', '--src', str(src), '--out-dir',
                          str(tmp_path), '--val-ratio', '0.25'])
    train = open(tmp_path / 'train.txt').read().split('\n')[:-1]
    val = open(tmp_path / 'val.txt').read().split('\n')[:-1]
    assert len(train) == 6 and len(val) == 2
    assert 'a_cls/a_cls_0.mp4 0' in train + val
    assert 'b_cls/b_cls_3.mp4 1' in train + val
    assert AVVideoDataset(str(tmp_path / 'train.txt'),
                          with_label=True).get_cat_ids(0) in ([0], [1])

    ucf = tmp_path / 'ucfTrainTestlist'
    ucf.mkdir()
    (ucf / 'classInd.txt').write_text('1 ApplyEyeMakeup\n2 YoYo\n')
    (ucf / 'trainlist01.txt').write_text(
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n'
        'YoYo/v_YoYo_g08_c01.avi 2\n')
    (ucf / 'testlist01.txt').write_text('YoYo/v_YoYo_g01_c01.avi\n')
    build_file_list.main(['ucf101', '--src', str(ucf), '--out-dir',
                          str(tmp_path), '--splits', '1'])
    assert open(tmp_path / 'ucf101_train_split_1_videos.txt').read() == (
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 0\n'
        'YoYo/v_YoYo_g08_c01.avi 1\n')
    assert open(tmp_path / 'ucf101_val_split_1_videos.txt').read() == (
        'YoYo/v_YoYo_g01_c01.avi 1\n')

    hm = tmp_path / 'testTrainMulti_7030_splits'
    hm.mkdir()
    (hm / 'wave_test_split1.txt').write_text('w1.avi 1 \nw2.avi 2 \n'
                                             'w3.avi 0 \n')
    (hm / 'clap_test_split1.txt').write_text('c1.avi 2 \n')
    build_file_list.main(['hmdb51', '--src', str(hm), '--out-dir',
                          str(tmp_path), '--splits', '1'])
    assert open(tmp_path / 'hmdb51_train_split_1_videos.txt').read() == (
        'wave/w1.avi 1\n')
    assert open(tmp_path / 'hmdb51_val_split_1_videos.txt').read() == (
        'clap/c1.avi 0\nwave/w2.avi 1\n')

    meta = tmp_path / 'esc50.csv'
    meta.write_text('filename,fold,target,category,esc10,src_file,take\n'
                    '1-100032-A-0.wav,1,0,dog,True,100032,A\n'
                    '2-100038-A-14.wav,2,14,chirping_birds,False,100038,A\n'
                    '3-100048-A-18.wav,3,18,toilet_flush,False,100048,A\n')
    build_file_list.main(['esc50', '--src', str(meta), '--out-dir',
                          str(tmp_path)])
    assert open(tmp_path / 'esc50_test_fold2.txt').read() == (
        '2-100038-A-14.wav 14\n')
    ds = AVAudioDataset(str(tmp_path / 'esc50_train_fold2.txt'),
                        with_label=True, num_classes=50)
    assert len(ds) == 2


def test_extract_audio(tmp_path):
    src = tmp_path / 'videos'
    make_av_video(str(src / 'c' / 'a.mp4'), num_frames=50, sample_rate=22050)
    make_av_video(str(src / 'c' / 'mute.mp4'), num_frames=10, audio=False)
    out = tmp_path / 'audio'
    rc = extract_audio.main(['--src', str(src), '--out', str(out),
                             '--workers', '2'])
    assert rc == 1  # the mute file is reported, the run went on
    report = open(out / 'extract_audio_failures.txt').read()
    assert 'mute.mp4' in report and 'no audio stream' in report
    wav = out / 'c' / 'a.wav'
    assert wav.exists() and not (out / 'c' / 'mute.wav').exists()
    assert not [p for p in os.listdir(out / 'c') if '.part' in p]
    wave, start = read_audio_span(str(wav), 0.0, 2.0, 16000)
    assert start == 0.0 and abs(len(wave) - 32000) < 1200
    for t in (0.5, 1.5):  # the chirp still encodes time: no shift
        i = int(t * 16000)
        assert abs(decode_chirp_time(wave[i - 256:i + 256]) - t) < 0.005
    # the sidecar is found by the dataset
    (tmp_path / 'l.txt').write_text('c/a.mp4 0\n')
    ds = AVVideoDataset(str(tmp_path / 'l.txt'), audio_source='sidecar',
                        data_prefix=dict(video=str(src), audio=str(out)))
    assert ds.get_data_info(0)['audio_filename'] == str(wav)


def test_extract_audio_opus_needs_a_rate_libopus_encodes(tmp_path, capsys):
    """``--ext .opus`` takes the rates libopus encodes (48, 24, 16, 12,
    8 kHz); another, or 0 (the source's, 44.1 kHz for many videos), is a
    usage error naming it, before any file is read. At 24 kHz from a
    22.05 kHz video: the sidecar decodes at 48 kHz (as every Opus stream),
    carries the record, lasts what it decodes and keeps the chirp's
    time."""
    from mmavcl.datasets.media import find_audio_start, probe_audio_timing
    src, out = tmp_path / 'videos', tmp_path / 'audio'
    for rate, named in (('44100', '--sample-rate 44100'),
                        ('0', '--sample-rate 0 (the source rate')):
        with pytest.raises(SystemExit):
            extract_audio.main(['--src', str(src), '--out', str(out),
                                '--ext', '.opus', '--sample-rate', rate])
        err = capsys.readouterr().err
        assert f'--ext .opus: libopus cannot encode {named}' in err
        assert 'use one of 48000, 24000, 16000, 12000, 8000' in err
    make_av_video(str(src / 'a.mp4'), num_frames=50, sample_rate=22050)
    assert extract_audio.main(['--src', str(src), '--out', str(out),
                               '--ext', '.opus', '--sample-rate', '24000',
                               '--workers', '1']) == 0
    opus = str(out / 'a.opus')
    with av.open(opus) as c:
        assert c.streams.audio[0].rate == 48000
        decoded = sum(f.samples for f in c.decode(audio=0)) / 48000
    assert find_audio_start(opus) is not None
    assert probe_audio_timing(opus) == (pytest.approx(decoded, abs=1e-9),
                                        0.0)
    wave, start = read_audio_span(opus, 0.0, 2.0, 16000)
    assert start == 0.0
    for t in (0.5, 1.5):
        i = int(t * 16000)
        assert abs(decode_chirp_time(wave[i - 256:i + 256]) - t) < 0.005
