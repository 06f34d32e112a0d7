"""The data tools and the shard dataset take the same video files
(:data:`mmavcl.datasets.media.VIDEO_EXTS`): MPEG-TS from broadcasts and
cameras (``.ts``, ``.m2ts``, upper-case ``.MTS``) is found by every
folder scan and read from a shard. (``extract_audio.py``'s scan:
``tests/datasets/test_mpegts_alignment.py``.)"""
import os
import os.path as osp
import shutil

import pytest

from mmavcl.datasets import AVShardDataset
from mmavcl.datasets.media import VIDEO_EXTS, build_video_reader
from mmavcl.testing import decode_frame_index, load_script, make_av_video

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
    assert {'.ts', '.m2ts', '.mts'} <= set(VIDEO_EXTS)


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
    file it would not read (an MPEG-PS ``.mpg``) is refused by name before
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
    bad.write_text('cls/news.ts 0\ncls/old.mpg 1\n')
    with pytest.raises(ValueError, match=r'cls/old\.mpg is not a video'):
        load_script('tools/data/make_shards.py').make_shards(
            str(bad), src, str(tmp_path / 'none'))
    assert not osp.exists(tmp_path / 'none')
