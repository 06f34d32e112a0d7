"""Raw video streams without a container: Annex B H.264 (``.h264``,
``.264``) and HEVC (``.hevc``, ``.265``) as cameras and encoders dump
them, and ``.m4v`` that is no MP4 (a raw MPEG-4 Part 2 stream, or Annex B
H.264 under that name; FFmpeg tells by the content).

They have no timestamps: FFmpeg makes them up at 25 fps whatever the
stream's rate. Measured on 24 fps files whose frames spell their index,
before: the PyAV reader read 25 fps, every index of an H.264 or HEVC
stream raised ``PermissionError: [Errno 1] Operation not permitted`` (the
seek), and a raw MPEG-4 Part 2 stream returned wrong pictures silently
(index 30 gave frame 29, 47 gave 45). decord 0.6 refuses every one of
them at open (``Failed to measure duration/frame-count due to broken
metadata``); the decord reader now hands them to PyAV at once. The PyAV
reader counts their frames from the top, as AVI's, at the rate their
headers state (VUI timing, VOL, sequence header), and refuses a stream
that states none, naming the file.
"""
import json
import os.path as osp

import numpy as np
import pytest

from mmavcl.datasets import MediaDecodeError
from mmavcl.datasets.media import DecordVideoReader, PyAVVideoReader
from mmavcl.testing import decode_frame_index, load_script, make_av_video

N, FPS = 36, 24
X265 = 'log-level=error'
#: file name -> (encoder, options, muxer (None: the extension's), codec
#: the reader names); B-frames (x264's, x265's open GOPs, an MPEG-4 B-VOP)
#: or none
STREAMS = {
    'cam.h264': ('libx264', {}, None, 'H.264'),
    'cam.264': ('libx264', {'bf': '0'}, None, 'H.264'),
    'enc.hevc': ('libx265', {'x265-params': X265}, None, 'HEVC'),
    'enc.265': ('libx265', {'x265-params': X265 + ':open-gop=1'}, None,
                'HEVC'),
    'xvid.m4v': ('mpeg4', {'bf': '1'}, 'm4v', 'MPEG-4 Part 2'),
    'annexb.m4v': ('libx264', {}, 'h264', 'H.264'),
}


@pytest.fixture(scope='module')
def streams(tmp_path_factory):
    root = tmp_path_factory.mktemp('raw')
    out = {}
    for name, (encoder, options, muxer, _) in STREAMS.items():
        out[name] = make_av_video(str(root / name), N, FPS, (32, 32),
                                  audio=False, keyint=12,
                                  video_codec=encoder, video_options=options,
                                  container_format=muxer)['path']
    return out


@pytest.mark.parametrize('name', list(STREAMS))
def test_every_index_is_its_picture(streams, name):
    path = streams[name]
    reader = PyAVVideoReader(path)
    assert reader.raw_stream == STREAMS[name][3]
    assert (reader.num_frames, reader.fps) == (N, FPS)
    for i in range(N):
        fresh = PyAVVideoReader(path)
        assert int(decode_frame_index(fresh.get_batch([i])[0])) == i
        fresh.close()
    batch = np.random.default_rng(0).permutation(N)[:20]
    assert decode_frame_index(reader.get_batch(batch)).tolist() == \
        batch.tolist()
    np.testing.assert_allclose(reader.last_frame_times, batch / FPS)
    reader.close()


@pytest.mark.parametrize('name', ['cam.h264', 'enc.hevc', 'xvid.m4v'])
def test_decord_reader_hands_them_to_pyav(streams, name):
    import decord
    path = streams[name]
    with pytest.raises(Exception, match='broken metadata'):
        decord.VideoReader(path)
    reader = DecordVideoReader(path)
    assert reader.misread_reason == \
        f'raw {STREAMS[name][3]} stream (no timestamps)'
    assert reader.raw_stream == STREAMS[name][3]
    inds = [35, 0, 13, 24]
    assert decode_frame_index(reader.get_batch(inds)).tolist() == inds
    reader.close()


def _cut(src: str, dst: str, at: float = 0.4) -> str:
    """The bytes of ``src`` from ``at`` of its length on: a stream cut
    mid-GOP (the parser finds the next start code)."""
    with open(src, 'rb') as f:
        data = f.read()
    with open(dst, 'wb') as f:
        f.write(data[int(len(data) * at):])
    return dst


@pytest.mark.parametrize('name', ['cam.h264', 'xvid.m4v'])
def test_a_stream_cut_mid_gop_starts_at_its_first_keyframe(streams, name,
                                                           tmp_path):
    """Cut 40 % in: the packets before the first keyframe (and an MPEG-4
    B-VOP after it shown before it) are not frames. Counted from the top
    without skipping them, index 0 of a raw MPEG-4 stream was a garbage
    picture (P-VOPs decoded without their reference)."""
    path = _cut(streams[name], str(tmp_path / ('cut' + osp.splitext(
        name)[1])))
    reader = PyAVVideoReader(path)
    first = int(decode_frame_index(reader.get_batch([0])[0]))
    assert 0 < first <= N - 12
    assert reader.num_frames == N - first
    for i in range(reader.num_frames):
        fresh = PyAVVideoReader(path)
        assert int(decode_frame_index(fresh.get_batch([i])[0])) == first + i
        fresh.close()
    reader.close()


def test_a_hevc_stream_cut_at_an_open_gop_skips_its_dropped_pictures(
        streams, tmp_path):
    """A raw HEVC stream cut at a CRA keyframe starts with RASL pictures
    (x265's open GOPs, shown before the CRA) that the decoder drops and no
    timestamp tells: their NAL unit type does. Counted as frames before,
    the last 3 indices raised ``stream ended before frame 33 of 36``."""
    from mmavcl.datasets.media.probe import hevc_picture_type
    path = _cut(streams['enc.hevc'], str(tmp_path / 'cut.hevc'))
    import av
    with av.open(path) as container:
        packets = [bytes(p) for p in container.demux(video=0) if p.size]
    kinds = [hevc_picture_type(p) for p in packets]
    # the fixture is the case: a CRA first, its 3 RASL pictures next
    assert kinds[:4] == [21, 9, 8, 8], kinds
    reader = PyAVVideoReader(path)
    first = int(decode_frame_index(reader.get_batch([0])[0]))
    assert reader.num_frames == N - first == len(packets) - 3
    for i in range(reader.num_frames):
        fresh = PyAVVideoReader(path)
        assert int(decode_frame_index(fresh.get_batch([i])[0])) == first + i
        fresh.close()
    assert decode_frame_index(reader.get_batch(
        range(reader.num_frames))).tolist() == list(range(first, N))
    reader.close()


def test_an_mp4_named_m4v_is_no_raw_stream(tmp_path):
    path = make_av_video(str(tmp_path / 'movie.m4v'), 12, FPS, (32, 32),
                         audio=False)['path']
    reader = PyAVVideoReader(path)
    assert reader.raw_stream is None and reader.num_frames == 12
    assert decode_frame_index(reader.get_batch([11, 3])).tolist() == [11, 3]
    reader.close()


@pytest.fixture
def no_rate(tmp_path):
    """An HEVC stream whose headers state no rate (x265 without VUI/VPS
    timing): FFmpeg guesses 25 fps."""
    return make_av_video(str(tmp_path / 'untimed.hevc'), 12, FPS, (32, 32),
                         audio=False, video_codec='libx265',
                         video_options={
                             'x265-params': X265 + ':vui-timing-info=0'
                         })['path']


def test_a_stream_without_a_rate_is_refused(no_rate):
    for reader in (PyAVVideoReader, DecordVideoReader):
        with pytest.raises(MediaDecodeError) as err:
            reader(no_rate)
        assert err.value.filename == no_rate
        assert 'raw HEVC stream without a frame rate in its headers' in \
            str(err.value)


def test_check_dataset_reports_them(streams, no_rate, tmp_path):
    """``check_dataset.py``: a raw stream is good, with its frames' count,
    rate and duration and a warning naming it; one without a rate is a
    bad entry with the reader's reason."""
    names = ['cam.h264', 'xvid.m4v']
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{streams[n]} 0\n' for n in names) +
                   f'{no_rate} 0\n')
    report = str(tmp_path / 'r.json')
    load_script('tools/data/check_dataset.py').main(
        [str(ann), '--data-prefix', '/', '--workers', '1', '--decode', 'all',
         '--out', str(tmp_path / 'clean.txt'), '--report', report])
    entries = {osp.basename(e['filename']): e
               for e in json.load(open(report))['entries']}
    for name in names:
        e = entries[name]
        assert e['ok'], e['reason']
        assert (e['num_frames'], e['fps'], e['duration'],
                e['frames_decoded']) == (N, FPS, N / FPS, N)
        assert e['warning'].startswith(
            f'raw {STREAMS[name][3]} stream, no container')
    e = entries['untimed.hevc']
    assert not e['ok']
    assert e['reason'].startswith(
        'video: raw HEVC stream without a frame rate in its headers')
