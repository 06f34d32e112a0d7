import os.path as osp
import subprocess
import sys

import av
import numpy as np

from mmavcl.testing.media import decode_frame_index, make_av_video

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
