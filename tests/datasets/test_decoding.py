"""Decoding on real encoded files: alignment, decode-once, error paths."""
from typing import List, Tuple

import decord
import numpy as np
import pytest
from mmcv.transforms import Compose

import mmavcl.datasets  # noqa: F401  (registers the transforms)
from mmavcl.datasets import MediaDecodeError, MissingAudioError
from mmavcl.datasets.media import PyAVVideoReader, time_compress
from mmavcl.datasets.transforms import (DecodeAudioViews, DecodeVideoViews,
                                        SampleClips, SampleTemporalPairs,
                                        VideoInit)
from mmavcl.registry import TRANSFORMS
from mmavcl.testing import (CHIRP_F0, CHIRP_RATE, decode_chirp_time,
                            decode_frame_index, make_av_video, truncate_file,
                            write_garbage)

FPS = 25.0


@pytest.fixture(scope='module')
def ts_video(tmp_path_factory):
    """4 s timestamp video, keyframe every 10 frames, 22.05 kHz audio (so
    the 16 kHz output is really resampled)."""
    path = str(tmp_path_factory.mktemp('media') / 'ts.mp4')
    return make_av_video(
        path,
        num_frames=100,
        fps=FPS,
        size=(48, 64),
        sample_rate=22050,
        keyint=10)


def _pipe(*cfgs):
    return Compose([TRANSFORMS.build(c) for c in cfgs])


def _run(video, sampler, backend='decord', **audio_kw):
    pipe = _pipe(
        dict(type='VideoInit', backend=backend), sampler,
        dict(type='DecodeVideoViews'), dict(type='DecodeAudioViews',
                                            **audio_kw))
    return pipe(dict(filename=video['path']))


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_frames_and_audio_agree_in_time(ts_video, backend):
    """The frames each view decodes read back as the indices the sampler
    chose, and the audio cut for the view is the audio of those frames'
    time: both within one frame (40 ms)."""
    np.random.seed(0)
    sampler = dict(
        type='SampleClips',
        clip_len=8,
        frame_interval=2,
        num_clips=4,
        mode='random',
        audio=True)
    for _ in range(3):
        res = _run(ts_video, sampler, backend)
        assert len(res['video_imgs']) == 4 and len(res['audio_wavs']) == 4
        for imgs, view, wav, aview in zip(res['video_imgs'],
                                          res['video_views'],
                                          res['audio_wavs'],
                                          res['audio_views']):
            assert imgs.shape == (8, 48, 64, 3) and imgs.dtype == np.uint8
            np.testing.assert_array_equal(
                decode_frame_index(imgs), view['frame_inds'])
            # the audio must cover frames [first, first + 16)
            first = int(view['frame_inds'][0])
            assert wav.shape == (int(round(16 / FPS * 16000)), )
            win = 512
            t_start = decode_chirp_time(wav[:win]) - win / 2 / 16000
            t_end = decode_chirp_time(wav[-win:]) + win / 2 / 16000
            assert abs(t_start - first / FPS) < 1 / FPS
            assert abs(t_end - (first + 16) / FPS) < 1 / FPS
            assert not aview['padded'] and not aview['missing']


def test_alignment_precise(ts_video):
    """Tighter than the one-frame requirement: chirp time estimates at the
    view start are within 5 ms."""
    res = _run(ts_video,
               dict(
                   type='SampleClips',
                   clip_len=4,
                   num_clips=5,
                   mode='linspace',
                   audio=True))
    starts = [int(v['frame_inds'][0]) for v in res['video_views']]
    assert starts == [0, 24, 48, 72, 96]
    for s, wav in zip(starts[1:], res['audio_wavs'][1:]):
        t = decode_chirp_time(wav[:400]) - 200 / 16000
        assert abs(t - s / FPS) < 0.005


def test_far_apart_audio_views_decoded_per_group(ts_video):
    """Spans more than merge_gap apart get their own seek; alignment and
    lengths are the same as with one merged pass."""
    views = [dict(time_span=(0.2, 0.6)), dict(time_span=(3.2, 3.6)),
             dict(time_span=(0.4, 0.8))]
    outs = []
    for gap in (0.5, 10.0):  # two groups vs one merged pass
        res = DecodeAudioViews(merge_gap=gap)(
            dict(filename=ts_video['path'],
                 audio_views=[dict(v) for v in views]))
        outs.append(res['audio_wavs'])
        for v, wav in zip(views, res['audio_wavs']):
            assert wav.shape == (6400, )
            t = decode_chirp_time(wav[:512]) - 256 / 16000
            assert abs(t - v['time_span'][0]) < 0.005
    # the views of the first group are sample-identical either way
    for i in (0, 2):
        np.testing.assert_allclose(outs[0][i], outs[1][i], atol=1e-4)
    # the far view starts the resampler at another input frame, so it may
    # sit up to half an output sample (31 us) apart: compare in time
    for k in range(0, 6400 - 512, 1024):
        ta = decode_chirp_time(outs[0][1][k:k + 512])
        tb = decode_chirp_time(outs[1][1][k:k + 512])
        assert abs(ta - tb) < 2e-4


def test_decode_once_counts_decoder_calls(ts_video, monkeypatch):
    """Ten views (VCLR tuples + anchors) -> exactly one decord get_batch
    call, no per-frame reads, and only the unique frames are decoded."""
    calls = {'get_batch': [], 'getitem': 0}
    orig_batch = decord.VideoReader.get_batch
    orig_item = decord.VideoReader.__getitem__

    def counting_batch(self, indices):
        calls['get_batch'].append(list(indices))
        return orig_batch(self, indices)

    def counting_item(self, idx):
        calls['getitem'] += 1
        return orig_item(self, idx)

    monkeypatch.setattr(decord.VideoReader, 'get_batch', counting_batch)
    monkeypatch.setattr(decord.VideoReader, '__getitem__', counting_item)
    np.random.seed(1)
    res = _run(ts_video, dict(type='SampleSegments', num_segments=3))
    assert len(res['video_imgs']) == 10
    assert len(calls['get_batch']) == 1 and calls['getitem'] == 0
    union = sorted(
        {int(i) for v in res['video_views'] for i in v['frame_inds']})
    assert calls['get_batch'][0] == union and len(union) == 6
    assert res['num_decoded_frames'] == 6
    for imgs, view in zip(res['video_imgs'], res['video_views']):
        np.testing.assert_array_equal(
            decode_frame_index(imgs), view['frame_inds'])


def test_pyav_reader_decodes_once_and_matches_decord(ts_video):
    inds = np.array([93, 3, 3, 50, 11, 12, 99, 0])
    reader = PyAVVideoReader(ts_video['path'])
    frames = reader.get_batch(inds)
    assert reader.num_decode_calls == 1
    np.testing.assert_array_equal(decode_frame_index(frames), inds)
    ref = decord.VideoReader(ts_video['path']).get_batch(
        inds.tolist()).asnumpy()
    # same frames up to colour-conversion rounding of the two libraries
    assert np.abs(frames.astype(int) - ref.astype(int)).mean() < 2.0


@pytest.mark.parametrize('ext,vcodec,acodec', [
    ('mkv', 'libx264', 'aac'),  # no frame count in the header
    # no presentation times, B-frames; PCM audio: AVI cannot signal the
    # encoder delay of AAC (1024 samples) or MP3 (1105), so those files
    # really start late by that much
    ('avi', 'mpeg4', 'pcm_s16le'),
    # (no .webm: once decord is imported, PyAV's libvpx-vp9 encoder fails
    # to open in the same process; decoding is unaffected)
])
def test_pyav_reader_other_containers(tmp_path, ext, vcodec, acodec):
    path = str(tmp_path / f'v.{ext}')
    make_av_video(path, num_frames=40, size=(32, 64), video_codec=vcodec,
                  audio_codec=acodec,
                  sample_rate=48000 if acodec == 'libopus' else 16000)
    reader = PyAVVideoReader(path)
    assert reader.num_frames == 40
    inds = np.array([39, 0, 20, 21, 5])
    np.testing.assert_array_equal(
        decode_frame_index(reader.get_batch(inds)), inds)
    res = _run(dict(path=path),
               dict(type='SampleClips', clip_len=4, num_clips=2,
                    mode='linspace', audio=True), backend='pyav')
    for imgs, view in zip(res['video_imgs'], res['video_views']):
        np.testing.assert_array_equal(decode_frame_index(imgs),
                                      view['frame_inds'])
    wav = res['audio_wavs'][1]  # frames 36-39: 1.44-1.60 s
    t = decode_chirp_time(wav[:512]) - 256 / 16000
    assert abs(t - 36 / FPS) < 1 / FPS


@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_resize_on_decode(ts_video, backend):
    init = VideoInit(backend=backend, decode_short_side=24)
    out = init(dict(filename=ts_video['path']))
    assert out['source_shape'] == (24, 32)
    assert out['orig_shape'] == (48, 64)
    out['video_views'] = [dict(frame_inds=np.array([5, 6]))]
    out = DecodeVideoViews()(out)
    assert out['video_imgs'][0].shape == (2, 24, 32, 3)
    np.testing.assert_array_equal(
        decode_frame_index(out['video_imgs'][0]), [5, 6])


def test_speed_and_reversal_audio(ts_video):
    """Frame skipping x2 is matched by audio time-compression x2: the chirp
    frequency observed in the view is twice the source frequency at that
    time; reversed views carry reversed frames and a reversed waveform."""
    np.random.seed(3)
    sampler = SampleTemporalPairs(
        clip_len=8,
        speeds=(2, ),
        reverse_prob=0.0,
        relation_probs=None,
        num_clips=2)
    res = dict(filename=ts_video['path'])
    res = VideoInit()(res)
    res = sampler(res)
    # keep the 2x chirp below Nyquist of 16 kHz: start before 2 s
    for i, (v, a) in enumerate(zip(res['video_views'], res['audio_views'])):
        shift = max(int(v['frame_inds'][0]) - 40, 0)
        v['frame_inds'] = v['frame_inds'] - shift
        v['time_span'] = tuple(t - shift / FPS for t in v['time_span'])
        # audio 1 of a pair is placed on its own; here both audio views
        # follow their clips, to compare each with its frames
        a['video_view'], a['time_span'] = i, v['time_span']

    def reopen(r):
        r = dict(r)
        fresh = VideoInit()(dict(filename=r['filename']))
        r['video_reader'] = fresh['video_reader']
        # VideoInit's PyAV container (decord reads the video's start time
        # from it) goes to the audio decoder, which closes it: a copy of an
        # already decoded dict would hand on a closed one
        r.pop('pyav_container', None)
        if 'pyav_container' in fresh:
            r['pyav_container'] = fresh['pyav_container']
        return r

    fwd = DecodeAudioViews()(DecodeVideoViews()(reopen(res)))
    for v, wav in zip(fwd['video_views'], fwd['audio_wavs']):
        assert np.all(np.diff(decode_frame_index(fwd['video_imgs'][0])) == 2)
        assert wav.shape == (int(round(8 / FPS * 16000)), )
        win = 400
        f_obs = decode_chirp_time(wav[:win], f0=0, rate=1.0)  # = frequency
        t_mid_src = v['time_span'][0] + 2 * (win / 2) / 16000
        assert abs(f_obs / 2 - (CHIRP_F0 + CHIRP_RATE * t_mid_src)) < 25
    # reversal of the same spans
    for v, a in zip(res['video_views'], res['audio_views']):
        v['frame_inds'] = v['frame_inds'][::-1].copy()
        v['reversed'] = a['reversed'] = True
    rev = DecodeAudioViews()(DecodeVideoViews()(reopen(res)))
    for wf, wr, imgs, v in zip(fwd['audio_wavs'], rev['audio_wavs'],
                               rev['video_imgs'], rev['video_views']):
        np.testing.assert_allclose(wr, wf[::-1], atol=1e-6)
        np.testing.assert_array_equal(decode_frame_index(imgs),
                                      v['frame_inds'])
        assert np.all(np.diff(v['frame_inds']) == -2)


def test_time_compress_reference():
    """Against an independent loop: speed 2 on a low tone equals taking
    every 2nd sample (the tone is far below the anti-alias cut-off)."""
    sr = 16000
    t = np.arange(4000) / sr
    wave = np.sin(2 * np.pi * 200 * t).astype(np.float32)
    out = time_compress(wave, 2, 1900)
    ref = np.array([wave[2 * k] for k in range(1900)])
    # ignore the filter's edge
    np.testing.assert_allclose(out[100:-100], ref[100:-100], atol=2e-3)
    assert time_compress(wave, 1, 10).tolist() == wave[:10].tolist()


def test_audio_shorter_than_video_is_padded_and_flagged(tmp_path):
    info = make_av_video(
        str(tmp_path / 'short_audio.mp4'), num_frames=50, audio_duration=1.0)
    res = dict(filename=info['path'])
    res = VideoInit()(res)
    res['total_frames'] = 50
    res = SampleClips(clip_len=10, num_clips=2, mode='linspace',
                      audio=True)(res)
    res = DecodeAudioViews()(res)
    first, last = res['audio_views']
    assert not first['padded'] and last['padded']
    wav = res['audio_wavs'][1]  # frames 40-49: 1.6-2.0 s, audio ends at ~1 s
    assert np.abs(wav[-1000:]).max() == 0.0
    assert np.abs(res['audio_wavs'][0]).max() > 0.1


def test_audio_less_file_raises_or_falls_back(tmp_path):
    info = make_av_video(str(tmp_path / 'silent.mp4'), audio=False)
    base = dict(filename=info['path'])
    res = SampleClips(clip_len=4, audio=True)(VideoInit()(dict(base)))
    with pytest.raises(MissingAudioError, match='silent.mp4.*no audio'):
        DecodeAudioViews()(dict(res))
    out = DecodeAudioViews(on_missing_audio='silence')(dict(res))
    assert out['audio_views'][0]['missing'] is True
    assert out['audio_wavs'][0].shape == (2560, )
    assert not out['audio_wavs'][0].any()
    # a missing sidecar file behaves the same
    res['audio_filename'] = str(tmp_path / 'nope.wav')
    with pytest.raises(MediaDecodeError, match='nope.wav'):
        DecodeAudioViews()(dict(res))


def test_corrupt_truncated_and_missing_files(tmp_path, ts_video):
    garbage = write_garbage(str(tmp_path / 'garbage.mp4'))
    for backend in ('decord', 'pyav'):
        with pytest.raises(MediaDecodeError, match='garbage.mp4'):
            VideoInit(backend=backend)(dict(filename=garbage))
    trunc = truncate_file(
        ts_video['path'], 0.5, dst=str(tmp_path / 'trunc.mp4'))
    with pytest.raises(MediaDecodeError, match='trunc.mp4'):
        res = VideoInit()(dict(filename=trunc))
        res = SampleClips(clip_len=4, num_clips=3, mode='linspace')(res)
        DecodeVideoViews()(res)
    with pytest.raises(MediaDecodeError, match='does not exist'):
        VideoInit()(dict(filename=str(tmp_path / 'missing.mp4')))
    with pytest.raises(MediaDecodeError, match='trunc.mp4'):
        DecodeAudioViews()(
            dict(
                filename=trunc,
                audio_views=[dict(time_span=(0.0, 1.0))]))


def test_error_survives_pickling():
    import pickle
    err = pickle.loads(pickle.dumps(MediaDecodeError('a.mp4', 'bad', 'audio')))
    assert (err.filename, err.reason, err.stream) == ('a.mp4', 'bad', 'audio')


def _frame_kinds(path: str, fps: float) -> Tuple[List[int], set]:
    """Display indices of the keyframes and of the frames no other frame
    refers to, read from the packets themselves: the keyframe flag, and
    ``nal_ref_idc == 0`` in every H.264 slice NAL unit of the packet (MP4
    stores NAL units with 4-byte lengths)."""
    import av
    keys, nonref = [], set()
    with av.open(path) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            index = int(round(packet.pts * tb * fps))
            data, pos, refs = bytes(packet), 0, []
            while pos + 4 < len(data):
                size = int.from_bytes(data[pos:pos + 4], 'big')
                header = data[pos + 4]
                if header & 0x1F in (1, 5):  # coded slice (non-IDR, IDR)
                    refs.append((header >> 5) & 3)
                pos += 4 + size
            if refs and not any(refs):
                nonref.add(index)
            if packet.is_keyframe:
                keys.append(index)
    return sorted(keys), nonref


def test_pyav_reader_drops_unreferenced_frames_before_wanted_ones(tmp_path):
    """Frames shown before the next wanted one that no frame refers to are
    not decoded; what is returned stays bit-identical."""
    video = make_av_video(str(tmp_path / 'gop60.mp4'), num_frames=120,
                          size=(48, 64), keyint=60, audio=False)
    keys, nonref = _frame_kinds(video['path'], FPS)
    # the longest run between keyframes (x264 adds some at scene cuts)
    gap, start = max((b - a, a) for a, b in zip(keys, keys[1:] + [120]))
    first = start + gap - 2
    inds = np.array([first, first + 1, 110, 112])
    run_up = {i for i in nonref if start <= i < first}
    assert len(run_up) >= 6  # x264 veryfast: 3 B-frames, pyramid

    full = PyAVVideoReader(video['path'], skip_nonref=False)
    ref = full.get_batch(inds)
    lean = PyAVVideoReader(video['path'])
    got = lean.get_batch(inds)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(decode_frame_index(got), inds)
    assert full.num_frames_decoded - lean.num_frames_decoded >= len(run_up)
    # a second call on the same reader (seek back from where it stopped)
    np.testing.assert_array_equal(lean.get_batch(inds[::-1]), ref[::-1])


def test_pyav_reader_resizes_like_pyav_itself(ts_video):
    """The reader's one shared swscale context gives what each frame's own
    ``to_ndarray(width=, height=)`` gives."""
    import av
    inds = np.array([7, 0, 63, 64])
    reader = PyAVVideoReader(ts_video['path'], decode_short_side=24)
    got = reader.get_batch(inds)
    with av.open(ts_video['path']) as container:
        frames = [f.to_ndarray(format='rgb24', width=32, height=24)
                  for f in container.decode(video=0)]
    np.testing.assert_array_equal(got, np.stack([frames[i] for i in inds]))


def test_pyav_reader_seeks_to_a_keyframe_past_the_last_frame(ts_video):
    """Frames 3 and a keyframe 30-60 frames on: decoding restarts at that
    keyframe instead of going through the frames between (the gap is
    within ``seek_gap``, so only the keyframe index can tell)."""
    keys, _ = _frame_kinds(ts_video['path'], FPS)
    reader = PyAVVideoReader(ts_video['path'])
    assert reader._keyframes().tolist() == keys
    target = max(k for k in keys if k <= 60)
    assert target >= 30 and keys[0] == 0
    frames = reader.get_batch([target, 3])
    np.testing.assert_array_equal(decode_frame_index(frames), [target, 3])
    # frames 0-3 and the keyframe, each run plus the decoder's reordering
    # delay (x264 veryfast: up to 3 B-frames)
    assert reader.num_frames_decoded <= 4 + 1 + 2 * 4
    through = PyAVVideoReader(ts_video['path'], skip_nonref=False)
    through._keys = np.array([0])  # as if the index had only keyframe 0
    through.get_batch([target, 3])
    assert through.num_frames_decoded >= target + 1
