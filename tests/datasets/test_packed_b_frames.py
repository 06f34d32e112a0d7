"""B-frames in the files UCF101/HMDB51-era data sets hold: DivX 5 "packed
B-frames" AVIs, plain MPEG-4 Part 2 / H.264 B-frames in AVI, and MPEG-4
Part 2 open GOPs in Matroska and MP4.

Every file is written here with PyAV, frame ``i`` showing ``i`` in vertical
bands; the packed AVI is the B-frame AVI's packets repacked the way DivX 5
stores them (:func:`~mmavcl.testing.divx_packed_copy`). The reference is
the time codes (and a sequential decode by FFmpeg, pixel for pixel). Each
index is read by a fresh reader, then all of them in a scrambled batch
with repeats.
"""
import os.path as osp
import sys

import av
import numpy as np
import pytest

from mmavcl.datasets.media import (DecordVideoReader, PyAVVideoReader,
                                   open_media, probe_media)
from mmavcl.datasets.media.mpeg4 import scan_vops, vop_types
from mmavcl.datasets.transforms import DecodeVideoViews, VideoInit
from mmavcl.testing import (REPO_ROOT, decode_frame_index,
                            decode_sequentially, divx_packed_copy,
                            make_av_video)

N, FPS, SIZE = 48, 24, (64, 64)
#: name -> (container, encoder, keyframe interval, encoder options); the
#: packed files are repacked copies of the MPEG-4 AVIs named after them
SOURCES = {
    'mpeg4-b': ('avi', 'mpeg4', 24, {'bf': '1'}),
    'mpeg4-b-1gop': ('avi', 'mpeg4', N, {'bf': '1'}),
    'mpeg4-b-mkv': ('mkv', 'mpeg4', 12, {'bf': '1'}),
    'mpeg4-b-mp4': ('mp4', 'mpeg4', 12, {'bf': '1'}),
    'h264-b': ('avi', 'libx264', 12, {}),
    'mpeg4-noB': ('avi', 'mpeg4', 12, {}),
}
PACKED = {'divx-packed': 'mpeg4-b', 'divx-packed-1gop': 'mpeg4-b-1gop'}


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('bframes')
    out = {}
    for name, (ext, codec, keyint, options) in SOURCES.items():
        out[name] = make_av_video(str(root / f'{name}.{ext}'),
                                  num_frames=N, fps=FPS, size=SIZE,
                                  audio=False, video_codec=codec,
                                  keyint=keyint,
                                  video_options=options)['path']
    for name, src in PACKED.items():
        out[name] = divx_packed_copy(out[src], str(root / f'{name}.avi'))
    return out


def _packets(path):
    with av.open(path) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_the_fixture_is_divx_packed(files, tmp_path):
    """The repacked AVI has DivX's layout, FFmpeg reads it as packed (its
    decoder returns every frame in order; without the ``p`` marker it does
    not), and its ``mpeg4_unpack_bframes`` filter gives the encoder's
    packets back."""
    src, packed = _packets(files['mpeg4-b']), _packets(files['divx-packed'])
    # one chunk per displayed frame: each B-VOP rides in the chunk of the
    # P/I-VOP before it, and a not-coded VOP of a few bytes follows
    assert len(src) == len(packed) == N
    num_b = [vop_types(p) for p in src].count('B')
    assert num_b >= 20
    pairs = [i for i, p in enumerate(packed) if len(vop_types(p)) == 2]
    assert len(pairs) == num_b
    assert {vop_types(packed[i]) for i in pairs} == {'PB', 'IB'}
    for i in pairs:  # the placeholder: vop_coded = 0, as the reader sees it
        assert vop_types(packed[i + 1]) == 'P' and len(packed[i + 1]) <= 8
    assert b'\x00\x00\x01\xb2DivX503b1393p\x00' in packed[0]
    # what the decord reader counts to hand such files to PyAV: a packed
    # B-VOP by the placeholder after it
    for name in ('mpeg4-b', 'divx-packed'):
        with av.open(files[name]) as c:
            assert scan_vops(c) == (0, num_b), name
    pictures = decode_sequentially(files['divx-packed'])[0]
    assert decode_frame_index(pictures).tolist() == list(range(N))
    # the marker is what makes FFmpeg unpack them
    unmarked = divx_packed_copy(files['mpeg4-b'], str(tmp_path / 'np.avi'),
                                user_data=b'DivX503b1393')
    assert decode_frame_index(
        decode_sequentially(unmarked)[0]).tolist() != list(range(N))
    with av.open(files['divx-packed']) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.codec_tag == 'DX50'
        bsf = av.bitstream.BitStreamFilterContext('mpeg4_unpack_bframes',
                                                  stream)
        unpacked = [bytes(q) for p in c.demux(stream) if p.size
                    for q in bsf.filter(p)]
        unpacked += [bytes(q) for q in bsf.filter(None)]
    assert unpacked[1:] == src[1:]
    assert unpacked[0] == packed[0].replace(b'1393p', b'1393\x00')


def _each_and_scrambled(make_reader):
    """``(frames of each index, one reader per index, num_frames, fps)``
    then a scrambled batch with repeats on one reader."""
    got = []
    for i in range(N):
        reader = make_reader()
        got.append(reader.get_batch([i])[0])
        reader.close()
    reader = make_reader()
    batch = np.random.default_rng(0).permutation(N)
    batch = np.concatenate([batch, batch[:5]])
    scrambled = reader.get_batch(batch)
    shape = (reader.num_frames, reader.fps)
    reader.close()
    return np.stack(got), batch, scrambled, shape


@pytest.mark.parametrize('name', [*PACKED, *SOURCES])
def test_each_index_is_its_frame(files, name):
    """Both readers give frame ``i`` for index ``i``, pixel for pixel the
    picture FFmpeg's sequential decode shows, with and without the
    container ``VideoInit`` hands decord when the audio is in the file.
    decord 0.6 alone did not: with a keyframe mid-file it returned indices
    after it up to a GOP early (index 23 of the packed AVI: frame 0; H.264
    AVI alike), MPEG-4 open GOPs moved the indices around each keyframe
    in MKV and MP4, and the single-GOP packed AVI's index 47 came back as
    frame 46."""
    path = files[name]
    ref = decode_sequentially(path)[0]
    assert decode_frame_index(ref).tolist() == list(range(N))
    openers = {
        'pyav': lambda: PyAVVideoReader(path),
        'decord': lambda: DecordVideoReader(path),
        'decord+container': lambda: DecordVideoReader(
            path, container=open_media(path)),
    }
    for backend, make_reader in openers.items():
        each, batch, scrambled, (n, fps) = _each_and_scrambled(make_reader)
        assert (n, fps) == (N, FPS), backend
        got = decode_frame_index(each)
        assert got.tolist() == list(range(N)), (
            backend, {i: int(g) for i, g in enumerate(got) if g != i})
        np.testing.assert_array_equal(each, ref, err_msg=backend)
        np.testing.assert_array_equal(scrambled, ref[batch], err_msg=backend)
    # decord keeps the files it reads right (no B-frames); it never opens
    # the others (decided before its open)
    reader = DecordVideoReader(path)
    assert (reader._pyav is None) == (name == 'mpeg4-noB')
    assert (reader._vr is None) == (name != 'mpeg4-noB')
    reader.close()


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_pipeline_and_check_dataset_on_a_packed_avi(files, backend):
    """``VideoInit`` + ``DecodeVideoViews`` (two clips, as ``SampleClips``
    plans them) and ``check_dataset.py``'s entry check report the packed
    AVI's 48 frames at 24 fps, 2 s, and return the frames asked for."""
    path = files['divx-packed']
    head = probe_media(path)
    assert (head['num_frames'], head['fps'], head['duration']) == (N, FPS,
                                                                   2.0)
    res = VideoInit(backend=backend, fallback_backend=None)(
        dict(filename=path, audio_filename=None))
    assert (res['total_frames'], res['fps'], res['vfr']) == (N, FPS,
                                                                False)
    clips = [np.arange(30, 38), np.arange(40, 48)]
    res['video_views'] = [dict(frame_inds=c) for c in clips]
    res = DecodeVideoViews()(res)
    for imgs, clip in zip(res['video_imgs'], clips):
        assert decode_frame_index(imgs).tolist() == clip.tolist()
    sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'data'))
    from check_dataset import check_entry
    opts = dict(backend=backend, min_frames=1, max_pixels=None,
                require_audio=False, audio_only=False,
                reject_unusual_rate=False, backend_args=None, decode='all')
    out = check_entry((1, path, None, opts))
    assert out['ok'], out['reason']
    assert (out['num_frames'], out['fps'], out['duration'],
            out['frames_decoded']) == (N, FPS, 2.0, N)
