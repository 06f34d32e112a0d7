"""The data tools and the shard dataset take the same video files
(:data:`mmavcl.datasets.media.VIDEO_EXTS`): MPEG-TS from broadcasts and
cameras (``.ts``, ``.m2ts``, upper-case ``.MTS``) is found by every
folder scan and read from a shard, and MPEG-PS (``.mpg``, ``.mpeg``,
``.vob``) is found, checked and re-encoded. (``extract_audio.py``'s
scan: ``tests/datasets/test_mpegts_alignment.py``.)"""
import json
import os
import os.path as osp
import shutil
import warnings

import numpy as np
import pytest

from mmavcl.datasets import AVShardDataset
from mmavcl.datasets.media import (VIDEO_EXTS, PyAVVideoReader,
                                   build_video_reader)
from mmavcl.testing import (chirp_time_errors, decode_audio_views,
                            decode_frame_index, load_script, make_av_video)

N = 20
#: names as cameras and recorders write them, and files no tool takes
TS_NAMES = ('news.ts', 'camera.MTS', 'disc.m2ts')
OTHER = ('notes.txt', 'sub.srt')


@pytest.fixture(scope='module')
def ts_video(tmp_path_factory):
    """An MPEG-TS (H.264 + AAC) whose clock starts at 1.4 s."""
    return make_av_video(str(tmp_path_factory.mktemp('ts') / 'v.ts'), N,
                         size=(32, 32), start_time=1.4)['path']


def _folder(root, ts_video) -> str:
    """``root/cls/`` holding the MPEG-TS under each of :data:`TS_NAMES`
    and two files that are no video."""
    for name in TS_NAMES:
        dst = osp.join(root, 'cls', name)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        shutil.copy(ts_video, dst)
    for name in OTHER:
        with open(osp.join(root, 'cls', name), 'w') as f:
            f.write('x')
    return str(root)


def test_one_list_of_video_extensions():
    """The tools use the package's list (none keeps its own copy), and the
    shard dataset the same without the dot."""
    from mmavcl.datasets import shard_dataset
    for tool in ('extract_audio', 'reencode_videos'):
        assert load_script(f'tools/data/{tool}.py').VIDEO_EXTS is VIDEO_EXTS
    build = load_script('tools/data/build_file_list.py')
    assert build.MEDIA_EXTS[:len(VIDEO_EXTS)] == VIDEO_EXTS
    assert shard_dataset.VIDEO_EXTS == tuple(e[1:] for e in VIDEO_EXTS)
    assert load_script('tools/data/make_shards.py').VIDEO_EXTS is \
        shard_dataset.VIDEO_EXTS
    assert {'.ts', '.m2ts', '.mts', '.mpg', '.mpeg', '.vob'} <= \
        set(VIDEO_EXTS)


def test_folder_scans_find_mpegts(tmp_path, ts_video):
    """``build_file_list.py folder`` lists the three MPEG-TS names and
    ``reencode_videos.py`` re-encodes them (every frame kept); neither
    takes the other files. Before: neither found any of them."""
    src = _folder(tmp_path / 'src', ts_video)
    build = load_script('tools/data/build_file_list.py')
    lines, classes = build.from_folder(src)
    assert classes == ['cls']
    assert lines == sorted(f'cls/{name} 0' for name in TS_NAMES)
    dst = tmp_path / 'dst'
    load_script('tools/data/reencode_videos.py').main(
        [src, str(dst), '--short-side', '0', '--workers', '1'])
    for name in TS_NAMES:
        reader = build_video_reader(str(dst / 'cls' / name), backend='pyav')
        frames = reader.get_batch(list(range(N)))
        reader.close()
        assert decode_frame_index(frames).tolist() == list(range(N))
    assert not any(osp.exists(dst / 'cls' / name) for name in OTHER)


PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=4, mode='fixed', start_frame=8),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]


def test_shards_carry_mpegts(tmp_path, ts_video):
    """``make_shards.py`` packs an MPEG-TS as a ``.ts``/``.mts`` member
    and AVShardDataset decodes it (frames 8-11 of a clip at frame 8).
    Before: the dataset found no video member in the sample. A listed
    file it would not read (a RealMedia ``.rm``) is refused by name before
    any shard is written."""
    src = _folder(tmp_path / 'src', ts_video)
    ann = tmp_path / 'list.txt'
    ann.write_text('cls/news.ts 0\ncls/camera.MTS 1\n')
    out = tmp_path / 'shards'
    load_script('tools/data/make_shards.py').main(
        [str(ann), src, str(out)])
    ds = AVShardDataset(str(out / 'shard-000-000000.tar'), PIPE)
    items = list(ds)
    assert sorted(int(it['data_samples'].gt_label) for it in items) == [0, 1]
    for item in items:
        imgs = item['inputs']['video'][0].numpy()  # (C, T, H, W)
        assert decode_frame_index(imgs, channel_last=False).tolist() == \
            [8, 9, 10, 11]
    bad = tmp_path / 'bad.txt'
    bad.write_text('cls/news.ts 0\ncls/old.rm 1\n')
    with pytest.raises(ValueError, match=r'cls/old\.rm is not a video'):
        load_script('tools/data/make_shards.py').make_shards(
            str(bad), src, str(tmp_path / 'none'))
    assert not osp.exists(tmp_path / 'none')


#: frames of the MPEG-PS: enough for FFmpeg's filled-in timestamps to go
#: wrong after a seek (from frame 26 on in a 60-frame file)
N_PS = 48
#: names DVDs, capture cards and old cameras write
PS_NAMES = ('dvd.vob', 'capture.mpg', 'CAMERA.MPEG')


@pytest.fixture(scope='module')
def ps_video(tmp_path_factory):
    """An MPEG-PS: MPEG-2 with B-frames and MP2 audio, as on a DVD."""
    return make_av_video(str(tmp_path_factory.mktemp('ps') / 'v.mpg'),
                         N_PS, size=(32, 32), video_codec='mpeg2video',
                         audio_codec='mp2',
                         video_options={'bf': '2'})['path']


def test_mpeg_ps_is_listed_checked_and_reencoded(tmp_path, ps_video):
    """MPEG-PS is found by the folder scans under its three names;
    ``check_dataset.py`` passes it in both modes, ``--decode all``
    (``iter_frames``) giving each index its own frame; and
    ``reencode_videos.py`` turns it into an MP4 under its name, read
    frame by frame again, which the PyAV reader then seeks in (MPEG-PS
    is decoded from its top). Before: the PyAV reader returned
    neighbouring frames after a seek (frame 46 for 47), the default
    check failed the file (``stream ended before frame 47``), and no
    scan found it."""
    src = tmp_path / 'src'
    for name in PS_NAMES:
        os.makedirs(src / 'cls', exist_ok=True)
        shutil.copy(ps_video, src / 'cls' / name)
    build = load_script('tools/data/build_file_list.py')
    lines, _ = build.from_folder(str(src))
    assert lines == sorted(f'cls/{name} 0' for name in PS_NAMES)
    reader = PyAVVideoReader(ps_video)
    assert [(i, int(decode_frame_index(frame)))
            for i, frame, _ in reader.iter_frames()] == \
        [(i, i) for i in range(N_PS)]
    # decoded from the top: one seek, every frame up to the last asked
    before = reader.num_frames_decoded
    assert decode_frame_index(reader.get_batch([N_PS - 1, 3])).tolist() \
        == [N_PS - 1, 3]
    assert reader.num_frames_decoded - before == N_PS
    reader.close()
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{line}\n' for line in lines))
    check = load_script('tools/data/check_dataset.py').main
    for mode in ('ends', 'all'):
        report = tmp_path / f'{mode}.json'
        check([str(ann), '--data-prefix', str(src), '--workers', '1',
               '--audio-source', 'container', '--decode', mode, '--out',
               str(tmp_path / f'{mode}.txt'), '--report', str(report)])
        for row in json.load(open(report))['entries']:
            assert row['ok'], row['reason']
            assert row['num_frames'] == N_PS
            assert row['frames_decoded'] == (N_PS if mode == 'all' else
                                             None)
    dst = tmp_path / 'dst'
    load_script('tools/data/reencode_videos.py').main(
        [str(src), str(dst), '--short-side', '0', '--workers', '1'])
    reader = PyAVVideoReader(str(dst / 'cls' / 'dvd.vob'))
    assert decode_frame_index(reader.get_batch([N_PS - 1, 3])).tolist() \
        == [N_PS - 1, 3]
    assert reader.num_frames_decoded < N_PS  # it sought
    inds = [30, 29, 31, 0]
    assert decode_frame_index(reader.get_batch(inds)).tolist() == inds
    reader.close()


def test_a_long_mpeg_ps_warns_once(monkeypatch, ps_video):
    """An MPEG-PS longer than the threshold (60 s; 1 s here, for a 1.9 s
    file) names itself and ``reencode_videos.py`` once per process."""
    from mmavcl.datasets.media import video
    monkeypatch.setattr(video, '_FROM_TOP_WARN_S', 1.0)
    monkeypatch.setattr(video, '_FROM_TOP_WARNED', False)
    with pytest.warns(UserWarning, match=r'v\.mpg \(2 s\) is decoded from '
                      r'its top.*tools/data/reencode_videos\.py'):
        PyAVVideoReader(ps_video).close()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        PyAVVideoReader(ps_video).close()


def test_mpeg_ps_audio_plays_with_its_frames(ps_video):
    """The MP2 audio of the MPEG-PS, read by seeking as views read it,
    plays the chirp at its time on the video's clock (measured: within
    0.7 ms at 16 and 48 kHz, on time, 0.5 s late, clock at 10 s). A guard,
    not a fix: audio seeks were right before."""
    spans = [(0.0, 0.6), (1.2, 1.84)]
    out = decode_audio_views(ps_video, spans, sample_rate=16000)
    assert [v['padded'] for v in out['audio_views']] == [False, False]
    for (t0, _), wave in zip(spans, out['audio_wavs']):
        errors = np.abs(chirp_time_errors(wave, 16000, t0))
        assert np.median(errors) < 1e-3 and errors.max() < 3e-3, (t0, errors)
