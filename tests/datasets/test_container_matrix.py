"""Frame accuracy of the video readers across codecs and containers
(issue 19 item 2).

Every file is real: written with PyAV (in a subprocess, see
:func:`mmavcl.testing.make_av_videos`), frame ``i`` showing ``i`` in
vertical bands. The reference is a plain sequential decode of the same file
(``av.open`` + every frame, numbered in order); each index is read by a
FRESH :class:`PyAVVideoReader` (the reader of the K400 configs), so every
read seeks, and then in batches on one reader. Frames must be bit-identical
to the reference's.
"""
import os.path as osp

import av
import numpy as np
import pytest

from mmavcl.datasets import MediaDecodeError
from mmavcl.datasets.media import (DecordVideoReader, PyAVVideoReader,
                                   probe_frame_size, probe_media, write_video)
from mmavcl.datasets.media.orientation import video_codec_tag
from mmavcl.datasets.transforms import DecodeVideoViews, VideoInit
from mmavcl.testing import (decode_frame_index, decode_sequentially,
                            faststart_copy, make_av_video, make_av_videos,
                            not_coded_vop, replace_video_packet,
                            truncate_file)

N, FPS, SIZE = 72, 24, (64, 64)

#: codec -> (encoder, options). x264 veryfast uses 3 B-frames (pyramid),
#: libx265 ultrafast open GOPs, SVT-AV1 hidden alt-ref frames; MPEG-2 with
#: B-frames and MPEG-1 without, as DVDs and old camcorders hold them
CODECS = {
    'h264': ('libx264', {}),
    'h264-noB': ('libx264', {
        'bf': '0'
    }),
    'hevc': ('libx265', {}),
    'vp9': ('libvpx-vp9', {}),
    'av1': ('libsvtav1', {}),
    'mpeg4': ('mpeg4', {}),
    'mjpeg': ('mjpeg', {}),
    'mpeg2': ('mpeg2video', {
        'bf': '2'
    }),
    'mpeg1': ('mpeg1video', {}),
}
#: the containers among mp4/mkv/webm/avi/ts/mpg/vob each codec is valid in
#: (MPEG-PS, .mpg/.vob, with MP2 audio)
CONTAINERS = {
    'h264': ['mp4', 'mkv', 'ts', 'avi'],
    'h264-noB': ['mp4', 'mkv', 'ts'],
    'hevc': ['mp4', 'mkv', 'ts'],
    'vp9': ['webm', 'mkv', 'mp4'],
    'av1': ['mp4', 'mkv', 'webm'],
    'mpeg4': ['mp4', 'mkv', 'avi', 'ts'],
    'mjpeg': ['avi', 'mkv', 'mp4'],
    'mpeg2': ['mpg', 'vob'],
    'mpeg1': ['mpg'],
}
#: audio 0.1 s / 0.5 s after the video, and a stream starting at 10 s (AVI
#: stores neither: its streams start together at 0)
TIMINGS = {
    'plain': {},
    'late-audio-0.1': {
        'audio_delay': 0.1
    },
    'late-audio-0.5': {
        'audio_delay': 0.5
    },
    'start-10s': {
        'start_time': 10.0
    },
}
CASES = [(c, ext, t) for c in CODECS for ext in CONTAINERS[c]
         for t in (TIMINGS if ext != 'avi' else ['plain'])]
#: every index read by a fresh reader: the red-team's failures and the hot
#: path (H.264 MP4); the other cases read SAMPLE
ALL_INDICES = {('h264', 'mp4', 'plain'), ('h264', 'mkv', 'late-audio-0.5'),
               ('h264', 'ts', 'plain'), ('hevc', 'ts', 'start-10s'),
               ('av1', 'mkv', 'plain'), ('av1', 'webm', 'late-audio-0.1'),
               ('mpeg4', 'ts', 'late-audio-0.1'), ('vp9', 'webm', 'plain'),
               ('mpeg2', 'mpg', 'plain'), ('mpeg2', 'vob', 'start-10s'),
               ('mpeg1', 'mpg', 'late-audio-0.5')}
SAMPLE = [0, 1, 5, 13, 17, 30, 31, 32, 33, 47, 63, 64, 70, 71]


def _spec(root, codec, ext, timing):
    encoder, options = CODECS[codec]
    acodec = {'webm': 'libopus', 'avi': 'libmp3lame', 'mpg': 'mp2',
              'vob': 'mp2'}.get(ext, 'aac')
    return dict(path=osp.join(root, f'{codec}_{timing}.{ext}'),
                num_frames=N,
                fps=FPS,
                size=SIZE,
                video_codec=encoder,
                video_options=options,
                audio_codec=acodec,
                sample_rate=48000 if ext == 'webm' else 16000,
                **TIMINGS[timing])


@pytest.fixture(scope='module')
def matrix(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('matrix'))
    specs = [_spec(root, *case) for case in CASES]
    make_av_videos(specs)
    return {case: spec['path'] for case, spec in zip(CASES, specs)}


def _read_each(path, inds, **kw):
    """Each index from a reader of its own (so each read seeks)."""
    out = []
    for i in inds:
        reader = PyAVVideoReader(path, **kw)
        try:
            out.append(reader.get_batch([i])[0])
        finally:
            reader.close()
    return np.stack(out)


@pytest.mark.parametrize('codec,ext,timing',
                         CASES,
                         ids=['-'.join(c) for c in CASES])
def test_pyav_frames_equal_sequential_decode(matrix, codec, ext, timing):
    path = matrix[(codec, ext, timing)]
    ref, start = decode_sequentially(path)
    assert decode_frame_index(ref).tolist() == list(range(N))
    reader = PyAVVideoReader(path)
    assert reader.num_frames == N
    # the first displayed frame's time, not the audio's (late audio)
    assert reader.start_time == pytest.approx(start, abs=1e-6)
    if timing == 'start-10s':
        assert abs(reader.start_time - 10.0) < 0.2
    # non-reference frames are skipped where that is exact only
    assert reader.skip_nonref == (codec in ('h264', 'h264-noB', 'hevc'))
    inds = list(range(N)) if (codec, ext, timing) in ALL_INDICES else SAMPLE
    got = _read_each(path, inds)
    for i, frame in zip(inds, got):
        np.testing.assert_array_equal(frame,
                                      ref[i],
                                      err_msg=f'index {i}: got frame '
                                      f'{int(decode_frame_index(frame))}')
    # batches on one reader: every index in a scrambled order with repeats,
    # then two clips far apart (a seek between them)
    batch = np.random.default_rng(0).permutation(N)
    batch = np.concatenate([batch, batch[:5]])
    np.testing.assert_array_equal(reader.get_batch(batch), ref[batch])
    clips = np.concatenate([np.arange(4, 20, 2), np.arange(40, N, 4)])
    np.testing.assert_array_equal(reader.get_batch(clips), ref[clips])
    reader.close()


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
@pytest.mark.parametrize('case', [('h264', 'mp4', 'start-10s'),
                                  ('h264', 'mkv', 'late-audio-0.5'),
                                  ('h264', 'ts', 'start-10s')],
                         ids=lambda c: '-'.join(c))
def test_video_init_reports_the_video_start_time(matrix, case, backend):
    """``results['video_start_time']``: the first frame's time in the
    file's clock, for the audio spans (views count from the first frame)."""
    path = matrix[case]
    start = decode_sequentially(path)[1]
    res = VideoInit(backend=backend)(dict(filename=path))
    assert res['video_start_time'] == pytest.approx(start, abs=1e-3)
    assert res['video_reader'].start_time == pytest.approx(start, abs=1e-3)
    res['video_reader'].close()
    res.pop('pyav_container').close()
    # audio from elsewhere: decord does not open the file with PyAV for it,
    # unless it hands the file to PyAV (MPEG-TS, ASF)
    res = VideoInit(backend=backend)(dict(filename=path, audio_filename=None))
    by_pyav = backend == 'pyav' or res['video_reader'].misread_reason
    assert res['video_start_time'] == pytest.approx(
        start if by_pyav else 0.0, abs=1e-3)
    assert 'pyav_container' not in res
    # ... while the decord reader still tells it when asked
    assert res['video_reader'].start_time == pytest.approx(start, abs=1e-3)
    res['video_reader'].close()


@pytest.mark.parametrize('case', [('h264', 'ts', 'plain'),
                                  ('hevc', 'ts', 'start-10s'),
                                  ('mpeg4', 'ts', 'late-audio-0.1'),
                                  ('mpeg2', 'vob', 'late-audio-0.1'),
                                  ('msmpeg4', 'wmv', 'plain')],
                         ids=lambda c: '-'.join(c))
def test_decord_reader_reads_unindexed_containers_right(matrix, tmp_path,
                                                        case):
    """MPEG-TS (broadcast, AVCHD cameras) and ASF (WMV) have no frame
    index; the decord reader hands them to PyAV, and every index read
    (fresh readers, then a scrambled batch) is the sequential decode's
    frame. decord alone returned frame 16 for frame 0 of the H.264 MPEG-TS
    (B-frames) and a picture spelling no frame (255) in the HEVC one,
    failed to open the MPEG-4 Part 2 one, and after a seek in the ASF
    (MS-MPEG4, a keyframe every 12 frames, interleaved with MP3: PyAV
    cannot encode WMA here) returned frames up to 20 away (1 for 13, 27
    for 47). MPEG-PS goes to PyAV as well, which reads it from the top
    (:data:`~mmavcl.datasets.media.video._TOP_ONLY_FORMATS`)."""
    if case[1] == 'wmv':
        path = make_av_video(str(tmp_path / 'v.wmv'), N, FPS, SIZE,
                             video_codec='msmpeg4',
                             audio_codec='libmp3lame', keyint=12)['path']
    else:
        path = matrix[case]
    ref = decode_sequentially(path)[0]
    for i in SAMPLE:
        reader = DecordVideoReader(path)
        got = reader.get_batch([i])[0]
        reader.close()
        assert int(decode_frame_index(got)) == i
        np.testing.assert_array_equal(got, ref[i], err_msg=f'index {i}')
    reader = DecordVideoReader(path)
    batch = np.random.default_rng(0).permutation(N)
    np.testing.assert_array_equal(reader.get_batch(batch), ref[batch])
    reader.close()


@pytest.mark.parametrize('codec,ext', [('mpeg2video', 'm2v'),
                                       ('mpeg1video', 'm1v')])
def test_raw_mpeg_video_streams_are_counted(tmp_path, codec, ext):
    """A raw MPEG-1/2 video stream (no container, no timestamps: FFmpeg
    makes them up) at 24 fps with B-frames: every index, each from a
    fresh reader and in batches, is the sequential decode's frame, at
    ``i / 24`` s. Before: the reader took FFmpeg's guessed mean rate (25)
    and its timestamps, which a seek moved by a frame (MPEG-2: frame 13
    for 14 and on), and the MPEG-1 stream refused to seek (EPERM)."""
    path = make_av_video(str(tmp_path / f'v.{ext}'), N, FPS, SIZE,
                         audio=False, video_codec=codec,
                         video_options={'bf': '2'})['path']
    ref = decode_sequentially(path)[0]
    assert decode_frame_index(ref).tolist() == list(range(N))
    reader = PyAVVideoReader(path)
    assert (reader.num_frames, reader.fps, reader.vfr) == (N, FPS, False)
    np.testing.assert_array_equal(_read_each(path, range(N)), ref)
    batch = np.random.default_rng(0).permutation(N)
    np.testing.assert_array_equal(reader.get_batch(batch), ref[batch])
    np.testing.assert_allclose(reader.last_frame_times, batch / FPS)
    reader.close()


@pytest.fixture(scope='module')
def mpeg4_src(tmp_path_factory):
    """An MPEG-4 Part 2 MKV, one keyframe, frame ``i`` showing ``i``."""
    return make_av_video(str(tmp_path_factory.mktemp('mpeg4') / 'src.mkv'),
                         num_frames=N,
                         fps=FPS,
                         size=SIZE,
                         audio=False,
                         video_codec='mpeg4',
                         keyint=N)['path']


@pytest.mark.parametrize('ext', ['mkv', 'mp4', 'avi'])
def test_a_not_coded_vop_shows_the_previous_picture(mpeg4_src, tmp_path,
                                                    ext):
    """Frame 33 is a not-coded VOP (what XviD writes for a static frame):
    both backends return frame 32's picture for it, as a player shows it,
    and every other index its own frame (by timestamp in MKV, by count in
    AVI). decord, left alone, returned frame 34 for it and, reading on,
    each later frame one late."""
    # the encoder's vop_time_increment has log2(fps) bits
    path = replace_video_packet(
        mpeg4_src, str(tmp_path / f'not_coded.{ext}'), 33,
        lambda vop: not_coded_vop(vop, (FPS - 1).bit_length()))
    ref, _ = decode_sequentially(path)  # the decoder's 71 pictures
    assert decode_frame_index(ref).tolist() == [i for i in range(N) if i != 33]
    shown = np.insert(ref, 33, ref[32], axis=0)
    batches = ([33], [30, 33, 40], list(range(N)))
    for batch in batches:
        reader = PyAVVideoReader(path)
        assert reader.num_frames == N
        np.testing.assert_array_equal(reader.get_batch(batch), shown[batch])
        reader.close()
    # the whole file streamed a frame at a time: the same pictures
    reader = PyAVVideoReader(path)
    streamed = list(reader.iter_frames())
    reader.close()
    assert [i for i, _, _ in streamed] == list(range(N))
    np.testing.assert_array_equal(np.stack([f for _, f, _ in streamed]),
                                  shown)
    # decord checks the files whose container it is handed (VideoInit does
    # when the audio is in the file), and opens the others for it (audio
    # from elsewhere) unless their header names another codec
    assert video_codec_tag(path) == {'mkv': 'V_MPEG4/ISO/ASP',
                                     'mp4': 'mp4v', 'avi': None}[ext]
    for container in (None, av.open(path)):
        reader = DecordVideoReader(path, container=container)
        assert reader.num_frames == N
        for batch in batches:
            np.testing.assert_array_equal(reader.get_batch(batch),
                                          shown[batch])
        reader.close()
        if container is not None:
            container.close()


def test_a_packet_the_decoder_drops_raises_instead_of_its_neighbour(
        mpeg4_src, tmp_path):
    """Frame 33's VOP header is cut before its ``vop_coded`` flag: the
    decoder returns no picture for it, and neither frame 32 nor 34 may
    stand in for it (the old reader returned 34); no other index moves."""
    path = replace_video_packet(mpeg4_src, str(tmp_path / 'cut.mkv'), 33,
                           lambda vop: vop[:5])
    ref, _ = decode_sequentially(path)
    assert decode_frame_index(ref).tolist() == [i for i in range(N) if i != 33]
    # a whole-file pass stops there too, after frames 0-32
    reader = PyAVVideoReader(path)
    seen = []
    with pytest.raises(MediaDecodeError, match='frame 33: the decoder '
                       'returned no picture'):
        for i, frame, _ in reader.iter_frames():
            seen.append((i, int(decode_frame_index(frame))))
    assert seen == [(i, i) for i in range(33)]
    reader.close()
    for batch in ([33], [30, 33, 40]):
        reader = PyAVVideoReader(path)
        with pytest.raises(MediaDecodeError,
                           match='frame 33: the decoder '
                           'returned no picture') as info:
            reader.get_batch(batch)
        assert info.value.filename == path
        reader.close()
    others = [0, 32, 34, N - 1]
    np.testing.assert_array_equal(decode_frame_index(_read_each(path, others)),
                                  others)
    # decord, as docs/reliability.md says: its count and timestamps come from
    # the packets, all there (the same as the intact file's), and it counts
    # the pictures decoded from the keyframe before an index, so from 33 up
    # to the next keyframe each index reads the next frame; nothing it
    # exposes tells
    with av.open(path) as container:
        keys = [i for i, p in enumerate(container.demux(video=0))
                if p.size and p.is_keyframe]
        reader = DecordVideoReader(path, container=container)
        assert reader.num_frames == N
        batch = [32, 33, 40, N - 2]
        late = [i + (max(k for k in keys if k <= i) <= 33 <= i) for i in batch]
        assert late[1] == 34
        np.testing.assert_array_equal(
            decode_frame_index(reader.get_batch(batch)), late)
        reader.close()


def test_a_cut_stream_repeats_its_last_picture_for_one_index_only(tmp_path):
    """An MP4 whose index is at its top, cut short (a partial download):
    the header promises N frames, the data ends after picture L. Index
    L + 1 is still that picture (it is on screen for one frame), and any
    index after that raises, also asked with L + 1 in one batch: the
    reader gave picture L to every index from L + 1 on when L + 1 was
    among them (frame 71 of a file cut after frame 40 was frame 40)."""
    src = make_av_video(str(tmp_path / 'src.mp4'), num_frames=N, fps=FPS,
                        size=SIZE)['path']
    path = truncate_file(faststart_copy(src, str(tmp_path / 'fs.mp4')), 0.6,
                         dst=str(tmp_path / 'cut.mp4'))
    ref, _ = decode_sequentially(path)
    last = int(decode_frame_index(ref).max())
    assert last < N - 3
    reader = PyAVVideoReader(path)
    assert reader.num_frames == N  # the header's count
    np.testing.assert_array_equal(
        decode_frame_index(reader.get_batch([last, last + 1])), [last, last])
    for batch in ([last, last + 1, N - 1], [last, last + 1, last + 2]):
        with pytest.raises(MediaDecodeError, match=r'stream ended before '
                           rf'frame {batch[-1]} of {N}'):
            reader.get_batch(batch)
    with pytest.raises(MediaDecodeError, match=r'stream ended before '
                       rf'frame {last + 2} of {N}'):
        for _ in reader.iter_frames():
            pass
    reader.close()


# ------------------------------------------------------------------ rotation


def _orientation_frames(n=8, size=(32, 64)):
    """Landscape frames (H < W) no rotation or flip maps onto another:
    a red block at the top left, a blue one at the bottom right, a green
    bar along the top edge."""
    h, w = size
    img = np.zeros((n, h, w, 3), np.uint8)
    img[:, :h // 2, :w // 4, 0] = 255
    img[:, h // 2:, 3 * w // 4:, 2] = 255
    img[:, :4, w // 4:3 * w // 4, 1] = 255
    return img


def _centroids(img):
    """Centres of the red, green and blue regions, as fractions of H, W."""
    h, w = img.shape[:2]
    out = []
    for c in range(3):
        mask = img[..., c] > 128
        others = np.delete(img, c, axis=-1).max(-1) < 128
        ys, xs = np.nonzero(mask & others)
        out.append((ys.mean() / h, xs.mean() / w))
    return np.array(out)


#: (container, degrees counter-clockwise, then a mirror: None, 'h'
#: left-right or 'v' upside down), as the writer stores them (PyAV's
#: ``set_display_rotation``; Matroska takes a left-right mirror as a yaw)
ORIENTATIONS = [(ext, deg, None) for ext in ('mp4', 'mkv')
                for deg in (90, 180, 270)] + [('mp4', 0, 'h'),
                                              ('mp4', 90, 'h'),
                                              ('mp4', 0, 'v'),
                                              ('mkv', 0, 'h'),
                                              ('mkv', 270, 'v')]


def _shown(stored, deg, flip):
    """The picture as displayed: turned, then mirrored."""
    out = np.rot90(stored, deg // 90)
    return {None: out, 'h': out[:, ::-1], 'v': out[::-1]}[flip]


@pytest.fixture(scope='module')
def rotated(tmp_path_factory):
    """Phone-like files: stored landscape, displayed turned (and mirrored:
    a front camera)."""
    root = tmp_path_factory.mktemp('rotated')
    frames = _orientation_frames()
    out = {}
    for ext, deg, flip in ORIENTATIONS:
        path = str(root / f'r{deg}{flip or ""}.{ext}')
        write_video(path,
                    frames,
                    fps=FPS,
                    rotation=deg,
                    hflip=flip == 'h',
                    vflip=flip == 'v',
                    audio=np.zeros(8000, np.float32))
        out[ext, deg, flip] = path
    return frames[0], out


@pytest.mark.parametrize('short_side', [None, 16])
@pytest.mark.parametrize('backend', ['pyav', 'decord'])
@pytest.mark.parametrize('ext,deg,flip',
                         ORIENTATIONS,
                         ids=['-'.join(map(str, c)) for c in ORIENTATIONS])
def test_display_matrix_is_applied(rotated, ext, deg, flip, backend,
                                   short_side):
    """Both backends return the frames as displayed, also when resizing on
    decode (decord squashed them into the stored shape; it also turned a
    left-right mirror by a half turn), and the probed size is the
    displayed one. A mirror in the matrix is applied as FFmpeg's players
    show it: ``probe_media`` gives it as the turn, then ``flip``."""
    stored, files = rotated
    path = files[ext, deg, flip]
    shown = _shown(stored, deg, flip)
    h, w = shown.shape[:2]
    assert probe_frame_size(path) == (h, w)
    # the one (turn, left-right mirror) that gives the displayed picture
    turn, mirror = next((k, m) for k in range(4) for m in (False, True)
                        if np.array_equal(_shown(stored, 90 * k,
                                                 'h' if m else None), shown))
    info = probe_media(path)
    assert (info['height'], info['width'], info['rotation'],
            info['flip']) == (h, w, 90 * turn, mirror)
    res = VideoInit(backend=backend,
                    fallback_backend=None,
                    decode_short_side=short_side)(dict(filename=path))
    if short_side:
        s = short_side / min(h, w)
        size = (int(round(h * s)), int(round(w * s)))
    else:
        size = (h, w)
    if backend == 'pyav' or short_side:
        assert res['source_shape'] == size  # known before decoding
    res['video_views'] = [dict(frame_inds=np.arange(3))]
    res = DecodeVideoViews()(res)
    res.pop('pyav_container').close()
    imgs = res['video_imgs'][0]
    assert imgs.shape == (3, *size, 3)
    assert res['source_shape'] == size
    np.testing.assert_allclose(_centroids(imgs[1]),
                               _centroids(shown),
                               atol=0.08)
    if not short_side:
        assert np.abs(imgs[1].astype(int) - shown).mean() < 8


# ------------------------------------------------------------ decord on AVI


@pytest.mark.parametrize('num_frames,fps,keyint', [(75, 25, None),
                                                   (90, 30, 12)])
def test_decord_counts_frames_of_mpeg4_mp3_avi(tmp_path, num_frames, fps,
                                               keyint):
    """UCF101/HMDB51-like XviD AVIs (MPEG-4 Part 2 + MP3): decord times the
    first frame two frames before the second, which made the VFR remap
    shift every index by one; counting (raw decord) is exact."""
    path = make_av_video(str(tmp_path / 'v.avi'),
                         num_frames=num_frames,
                         fps=fps,
                         size=(64, 64),
                         keyint=keyint,
                         video_codec='mpeg4',
                         audio_codec='libmp3lame')['path']
    for backend in ('decord', 'pyav'):
        res = VideoInit(backend=backend,
                        fallback_backend=None)(dict(filename=path))
        assert res['vfr'] is False
        assert res['total_frames'] == num_frames
        res['video_views'] = [dict(frame_inds=np.arange(num_frames))]
        res = DecodeVideoViews()(res)
        res.pop('pyav_container', None)
        assert decode_frame_index(res['video_imgs'][0]).tolist() == list(
            range(num_frames)), backend


def test_decord_single_timestamp_gap_is_not_vfr(tmp_path):
    """One irregular step in decord's timestamps (wherever it is) shifts
    every later frame by the same amount: not a varying rate, so frames
    stay counted."""
    path = make_av_video(str(tmp_path / 'v.avi'),
                         num_frames=50,
                         fps=25,
                         size=(32, 32),
                         video_codec='mpeg4',
                         audio_codec='libmp3lame')['path']
    reader = DecordVideoReader(path)
    stamps = np.asarray(reader._vr.get_frame_timestamp(np.arange(50)))[:, 0]
    steps = np.round(np.diff(stamps) * 25).astype(int)
    assert (steps != 1).sum() == 1  # the AVI's one gap, seen by decord
    # even without the AVI rule
    assert reader._vfr_map(reader._timestamps(reader._vr)) is None


# -------------------------------------------------------------- one open


def test_pyav_with_max_pixels_opens_the_file_once(matrix, monkeypatch):
    """``max_pixels`` reads the size from the header: the PyAV reader
    takes that container over instead of opening the file again."""
    opened = []
    real_open = av.open

    def spy(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(av, 'open', spy)
    path = matrix['h264', 'mp4', 'plain']
    res = VideoInit(backend='pyav', max_pixels=64 * 64)(dict(filename=path))
    assert len(opened) == 1
    assert res['pyav_container'] is opened[0]  # lent on to the audio
    res['video_views'] = [dict(frame_inds=np.arange(0, N, 7))]
    res = DecodeVideoViews()(res)
    assert decode_frame_index(res['video_imgs'][0]).tolist() == list(
        range(0, N, 7))
    res['pyav_container'].close()
    with pytest.raises(MediaDecodeError, match='exceeds max_pixels'):
        VideoInit(backend='pyav', max_pixels=64 * 63)(dict(filename=path))
