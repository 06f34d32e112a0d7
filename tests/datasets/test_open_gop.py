"""Open GOPs (x264 ``open-gop``, x265 CRA keyframes) and B-frames in
MPEG-TS: files decord 0.6 returns wrong frames for, which the decord reader
hands to PyAV before decord opens them.

Every file is written here with PyAV, frame ``i`` showing ``i`` in
vertical bands, a keyframe every 24 frames. An open GOP's second keyframe (display index
24) is decoded before the three B-frames shown just before it (21-23),
which refer to it: decord returned indices 21-25 from the wrong GOP (MP4:
three frames late, ``21 -> 24``; MKV: a GOP early, ``21 -> 0``), and in an
MPEG-TS with B-frames every index a second late (``0 -> 24``).
"""
import numpy as np
import pytest

from mmavcl.datasets.media import DecordVideoReader, open_media
from mmavcl.datasets.media.decord_checks import (has_leading_pictures,
                                                 mp4_has_leading_pictures)
from mmavcl.testing import decode_frame_index, make_av_video

decord = pytest.importorskip('decord')

N, FPS, SIZE = 48, 24, (64, 64)
_X264 = 'keyint=24:min-keyint=24:scenecut=0'
_X265 = 'log-level=error:keyint=24:min-keyint=24:scenecut=0'
_OPEN_H264 = {'x264-params': _X264 + ':open-gop=1:b-pyramid=normal'}
_OPEN_HEVC = {'x265-params': _X265 + ':open-gop=1:bframes=4'}
#: file -> (encoder, options, why decord misreads it: None where it reads
#: it right and keeps it)
FILES = {
    'h264-open.mp4': ('libx264', _OPEN_H264, 'h264 open GOP'),
    'h264-open.mkv': ('libx264', _OPEN_H264, 'h264 open GOP'),
    'hevc-cra.mp4': ('libx265', _OPEN_HEVC, 'hevc open GOP'),
    'hevc-cra.mkv': ('libx265', _OPEN_HEVC, 'hevc open GOP'),
    'h264-b.ts': ('libx264', {'x264-params': _X264},
                  'MPEG-TS (no frame index)'),
    'h264-closed.mp4': ('libx264', {'x264-params': _X264}, None),
    'hevc-closed.mkv': ('libx265', {'x265-params': _X265 + ':open-gop=0'},
                        None),
}
MISREAD = [name for name, (_, _, why) in FILES.items() if why]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('open_gop')
    return {name: make_av_video(str(root / name), num_frames=N, fps=FPS,
                                size=SIZE, audio=False, video_codec=encoder,
                                video_options=options)['path']
            for name, (encoder, options, _) in FILES.items()}


def _each_index(make_reader, inds):
    """The time code of each index of ``inds``, read by a reader of its
    own (so each read seeks from the file's top)."""
    got = []
    for i in inds:
        reader = make_reader()
        got.append(int(decode_frame_index(reader.get_batch([i])[0])))
        reader.close()
    return got


class _RawDecord:
    """decord's ``VideoReader`` with the readers' ``get_batch``."""

    def __init__(self, path):
        self._vr = decord.VideoReader(path, num_threads=1)

    def get_batch(self, inds):
        return self._vr.get_batch(list(inds)).asnumpy()

    def close(self):
        self._vr = None


@pytest.mark.parametrize('name', MISREAD)
def test_decord_alone_misreads_these_files(files, name):
    """The files exercise the bug: decord 0.6's own reader, a fresh one per
    index, returns other frames for indices around the second keyframe
    (all of them in the MPEG-TS), with the right frame count."""
    path = files[name]
    assert len(decord.VideoReader(path)) == N
    inds = list(range(16, 32))
    got = _each_index(lambda: _RawDecord(path), inds)
    wrong = {i: g for i, g in zip(inds, got) if g != i}
    assert {21, 22, 23} <= set(wrong), wrong


@pytest.mark.parametrize('name', list(FILES))
def test_decord_reader_returns_each_index(files, name):
    """``DecordVideoReader`` returns frame ``i`` for every index ``i`` (a
    fresh reader per index, then clips and a scrambled batch with repeats
    on one reader; the batches also with the container ``VideoInit`` hands
    it when the audio is in the file). The files decord misreads are read by
    PyAV and never opened by decord; the others stay with decord."""
    path = files[name]
    why = FILES[name][2]
    for container in (None, open_media(path)):
        def make_reader():
            return DecordVideoReader(path, container=container)
        if container is None:
            assert _each_index(make_reader, range(N)) == list(range(N))
        reader = make_reader()
        assert (reader.num_frames, reader.fps) == (N, FPS)
        batches = [np.arange(16, 32), np.arange(20, 28), np.arange(32, N),
                   np.arange(0, N, 3)]
        order = np.random.default_rng(0).permutation(N)
        batches.append(np.concatenate([order, order[:5]]))
        for batch in batches:
            np.testing.assert_array_equal(
                decode_frame_index(reader.get_batch(batch)), batch)
        assert reader.misread_reason == why
        # decided before decord's open: such a file is never opened by it
        assert (reader._vr is None) == (why is not None)
        reader.close()
        if container is not None:
            container.close()


@pytest.mark.parametrize('name', [n for n in FILES if n.endswith('.mp4')])
def test_mp4_header_tells_what_the_packets_tell(files, name):
    """An MP4's sample tables give the open-GOP answer of the packet demux
    (the decord reader reads them when it has no container, no PyAV
    open); other containers are left to the demux (None)."""
    path = files[name]
    open_gop = FILES[name][2] is not None
    with open_media(path) as container:
        assert has_leading_pictures(container) == open_gop
    assert mp4_has_leading_pictures(path) == open_gop
    for other in (n for n in FILES if not n.endswith('.mp4')):
        assert mp4_has_leading_pictures(files[other]) is None, other
