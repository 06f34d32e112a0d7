import os.path as osp
import subprocess
import sys

import av
import numpy as np
import pytest

from mmavcl.testing import (chirp_time_errors, decode_audio_views,
                            decode_frame_index, load_script, make_av_video)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _keyframes_and_frames(path):
    with av.open(path) as c:
        s = c.streams.video[0]
        frames = list(c.decode(s))
        return ([i for i, f in enumerate(frames) if f.key_frame],
                np.stack([f.to_ndarray(format='rgb24') for f in frames]),
                bool(c.streams.audio))


def test_reencode_shortens_keyframe_interval_and_resizes(tmp_path):
    src = tmp_path / 'src'
    for name in ('a/x.mp4', 'b/y.mp4'):
        make_av_video(str(src / name), num_frames=40, size=(64, 96),
                      keyint=250)
    make_av_video(str(src / 'b/noaudio.mp4'), num_frames=20, audio=False)
    dst = tmp_path / 'dst'
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/data/reencode_videos.py'),
         str(src), str(dst), '--short-side', '32', '--keyint', '8',
         '--workers', '2', '--crf', '10'],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '3/3 videos written' in out.stdout
    keys_before, _, _ = _keyframes_and_frames(str(src / 'a/x.mp4'))
    keys, frames, has_audio = _keyframes_and_frames(str(dst / 'a/x.mp4'))
    # x264 may add scene-cut keyframes; the interval bounds the gaps
    assert max(np.diff(keys_before + [40])) > 8
    assert max(np.diff(keys + [40])) <= 8
    assert frames.shape == (40, 32, 48, 3)  # short side 32, aspect kept
    assert has_audio
    # every frame survives in order (the timestamp bands are still readable)
    assert [decode_frame_index(f) for f in frames] == list(range(40))
    assert not _keyframes_and_frames(str(dst / 'b/noaudio.mp4'))[2]


def test_reencode_reports_broken_file_and_exits_nonzero(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'bad.mp4').write_bytes(b'not a video' * 100)
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/data/reencode_videos.py'),
         str(src), str(tmp_path / 'dst'), '--workers', '1'],
        capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert 'FAILED' in out.stdout and 'bad.mp4' in out.stdout
    assert not (tmp_path / 'dst' / 'bad.mp4').exists()


@pytest.mark.parametrize('name,start,delay', [('on_time.ts', 1.4, 0.0),
                                              ('late.mp4', 0.0, 0.5),
                                              ('early.mkv', 1.0, -0.3)])
def test_reencode_keeps_the_audio_where_it_plays(tmp_path, name, start,
                                                 delay):
    """The re-encoded chirp plays at the same time of the video as in the
    source (within 0.2 ms in the median 64 ms window): an MPEG-TS whose
    clock starts at 1.4 s and whose AAC priming starts 64 ms before the
    first frame, audio 0.5 s late (MP4) and 0.3 s early (MKV); every frame
    survives. Before, the audio started with the first frame: the TS's
    played 128 ms late, the late MP4's 372 ms early."""
    src = make_av_video(str(tmp_path / 'src' / name), 75, size=(32, 32),
                        start_time=start, audio_delay=delay)['path']
    dst = str(tmp_path / 'dst' / name)
    tool = load_script('tools/data/reencode_videos.py')
    assert tool.reencode(src, dst, 0, 16, 18) == (src, None)
    _, frames, _ = _keyframes_and_frames(dst)
    assert decode_frame_index(frames).tolist() == list(range(75))
    spans = [(0.0, 1.0), (1.0, 2.0)]
    views = decode_audio_views(dst, spans)['audio_wavs']
    errors = np.abs(np.concatenate([
        chirp_time_errors(wave, 16000, t0, delay, 3.0)
        for (t0, _), wave in zip(spans, views)]))
    assert np.median(errors) < 2e-4 and errors.max() < 5e-3, errors
