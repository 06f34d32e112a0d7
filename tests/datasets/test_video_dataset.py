"""AVVideoDataset / AVAudioDataset: list parsing, errors, audio paths."""
import json
import os.path as osp
import pickle
import time

import numpy as np
import pytest

from mmavcl.datasets import (AnnotationError, AVAudioDataset, AVVideoDataset,
                             MediaDecodeError)
from mmavcl.registry import DATASETS
from mmavcl.testing import make_audio_file, make_av_video


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def test_txt_list_with_and_without_labels(tmp_path):
    ann = _write(tmp_path / 'list.txt', '# comment\n'
                 'a/x.mp4 3\n\n'
                 'b/y.mp4\n'
                 'c/z.mp4 0\n')
    ds = AVVideoDataset(ann, data_root=str(tmp_path),
                        data_prefix=dict(video='videos'))
    assert len(ds) == 3
    info = ds.get_data_info(0)
    assert info['filename'] == osp.join(str(tmp_path), 'videos', 'a/x.mp4')
    assert info['video_id'] == 'a/x.mp4' and info['label'] == 3
    assert info['audio_filename'] == info['filename']  # container audio
    assert 'label' not in ds.get_data_info(1)
    assert ds.get_cat_ids(2) == [0] and ds.get_cat_ids(1) == []
    # pretraining ignores labels
    ds = AVVideoDataset(ann, with_label=False)
    assert all('label' not in ds.get_data_info(i) for i in range(3))


def test_bad_lines_one_error_with_file_and_lines(tmp_path):
    ann = _write(tmp_path / 'bad.txt', 'ok.mp4 1\n'
                 'x.mp4 cat\n'
                 '7\n'
                 'y.mp4 1 2\n'
                 'z.mp4\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann, with_label=True, num_classes=5)
    msg = str(info.value)
    assert '4 bad annotation line(s)' in msg
    assert f'{ann}:2: non-integer label' in msg
    assert f'{ann}:3: missing file column' in msg
    assert f'{ann}:4: 2 labels on one line' in msg
    assert f'{ann}:5: missing label' in msg
    assert [p[0] for p in info.value.problems] == [2, 3, 4, 5]
    ann = _write(tmp_path / 'range.txt', 'a.mp4 9\n')
    with pytest.raises(AnnotationError, match=r'range.txt:1: label 9'):
        AVVideoDataset(ann, num_classes=5)
    ann = _write(tmp_path / 'empty.txt', '\n# nothing\n')
    with pytest.raises(AnnotationError, match='holds no samples'):
        AVVideoDataset(ann)
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        AVVideoDataset(str(tmp_path / 'nope.txt'))


def test_json_lists_and_multilabel(tmp_path):
    recs = [dict(filename='a.mp4', label=1),
            dict(filename='b.mp4', label=[2, 5], audio_filename='b.flac'),
            dict(filename='c.mp4')]
    ann = _write(tmp_path / 'l.json', json.dumps(recs))
    ds = AVVideoDataset(ann, multi_label=True, audio_source='sidecar',
                        data_prefix=dict(video='/v', audio='/a'))
    assert ds.get_data_info(1)['label'] == [2, 5]
    assert ds.get_data_info(1)['audio_filename'] == '/a/b.flac'
    assert ds.get_data_info(0)['audio_filename'] == '/a/a.wav'
    ann2 = _write(tmp_path / 'l2.json', json.dumps(
        dict(metainfo=dict(classes=['x', 'y']), data_list=recs[:1])))
    ds = AVVideoDataset(ann2)
    assert ds.metainfo['classes'] == ['x', 'y'] and len(ds) == 1
    bad = _write(tmp_path / 'bad.json', json.dumps(
        [dict(filename='a.mp4', label='x'), dict(label=1)]))
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(bad)
    assert 'bad.json:1: non-integer label' in str(info.value)
    assert 'bad.json:2: record' in str(info.value)
    txt = _write(tmp_path / 'ml.txt', 'a.mp4 1 4 7\n')
    assert AVVideoDataset(txt, multi_label=True).get_cat_ids(0) == [1, 4, 7]


def test_sidecar_and_none_audio(tmp_path):
    (tmp_path / 'aud').mkdir()
    make_audio_file(str(tmp_path / 'aud' / 'v1.flac'), duration=0.5)
    ann = _write(tmp_path / 'l.txt', 'v1.mp4 0\nv2.mp4 1\n')
    ds = AVVideoDataset(ann, data_root=str(tmp_path), audio_source='sidecar',
                        data_prefix=dict(video='vid', audio='aud'))
    assert ds.get_data_info(0)['audio_filename'].endswith('aud/v1.flac')
    # missing sidecar: the first extension, for the decoder to report
    assert ds.get_data_info(1)['audio_filename'].endswith('aud/v2.wav')
    ds = AVVideoDataset(ann, audio_source='none')
    assert ds.get_data_info(0)['audio_filename'] is None
    with pytest.raises(ValueError, match='audio_source'):
        AVVideoDataset(ann, audio_source='mp3')


def test_end_to_end_with_pipeline_and_sidecar(tmp_path):
    make_av_video(str(tmp_path / 'v' / 'a.mp4'), num_frames=20, audio=False)
    make_audio_file(str(tmp_path / 'v' / 'a.wav'), duration=0.8)
    ann = _write(tmp_path / 'l.txt', 'a.mp4 2\n')
    pipeline = [
        dict(type='VideoInit'),
        dict(type='SampleClips', clip_len=4, num_clips=2, audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews'),
        dict(type='PackAVInputs'),
    ]
    ds = DATASETS.build(dict(type='AVVideoDataset', ann_file=ann,
                             data_root=str(tmp_path),
                             data_prefix=dict(video='v'),
                             audio_source='sidecar', pipeline=pipeline))
    out = ds[0]
    assert out['data_samples'].gt_label.tolist() == [2]
    assert out['data_samples'].video_id == 'a.mp4'
    assert [tuple(a.shape) for a in out['inputs']['audio']] == [(2560, )] * 2
    # the same file with container audio has none -> clear error
    ds = AVVideoDataset(ann, data_root=str(tmp_path),
                        data_prefix=dict(video='v'), pipeline=pipeline)
    with pytest.raises(MediaDecodeError, match='a.mp4.*no audio stream'):
        ds[0]


def test_audio_dataset(tmp_path):
    make_audio_file(str(tmp_path / 'au' / '1-a-0.wav'), duration=1.5)
    ann = _write(tmp_path / 'esc.txt', '1-a-0.wav 4\n')
    pipeline = [
        dict(type='AudioInit'),
        dict(type='SampleAudioClips', clip_duration=1.0, num_clips=3,
             mode='linspace'),
        dict(type='DecodeAudioViews', fixed_duration=1.0),
        dict(type='PackAVInputs'),
    ]
    ds = AVAudioDataset(ann, data_root=str(tmp_path),
                        data_prefix=dict(audio='au'), pipeline=pipeline)
    out = ds[0]
    assert 'video' not in out['inputs']
    assert [tuple(a.shape) for a in out['inputs']['audio']] == [(16000, )] * 3
    meta = out['data_samples'].audio_meta
    assert [round(m['time_span'][0], 3) for m in meta] == [0, 0.25, 0.5]
    assert not any(m['padded'] for m in meta)


def test_large_list_is_compact_and_fast(tmp_path):
    """100k lines: load time and the serialised size per video (1M lines:
    4.7 s, 67 bytes/video on the 2-core dev box)."""
    n = 100_000
    path = tmp_path / 'big.txt'
    with open(path, 'w') as f:
        for i in range(n):
            f.write(f'class_{i % 400:03d}/video_{i:07d}.mp4 {i % 400}\n')
    t = time.time()
    ds = AVVideoDataset(str(path), data_prefix=dict(video='/data/k400'))
    elapsed = time.time() - t
    assert len(ds) == n
    per_item = ds.data_bytes.nbytes / n
    assert per_item < 90, per_item  # ~30 chars of path + pickle overhead
    assert elapsed < 20, elapsed  # ~0.5 s idle; generous for shared CI
    assert ds.data_list == []  # only the byte buffer is kept
    info = ds.get_data_info(n - 1)
    assert info['filename'] == '/data/k400/class_399/video_0099999.mp4'
    # the dataset pickles cheaply to dataloader workers
    assert len(pickle.dumps(ds)) < ds.data_bytes.nbytes * 1.2 + 100_000
    np.testing.assert_array_equal(ds.get_cat_ids(5), [5])


def test_lazy_init_and_subsets(tmp_path):
    ann = _write(tmp_path / 'l.txt', ''.join(f'v{i}.mp4 {i % 3}\n'
                                             for i in range(10)))
    ds = AVVideoDataset(ann, lazy_init=True)
    assert not ds._fully_initialized
    assert len(ds) == 10  # full_init on demand
    sub = ds.get_subset([1, 4])
    assert [sub.get_data_info(i)['video_id'] for i in range(2)] == [
        'v1.mp4', 'v4.mp4'
    ]
    ds = AVVideoDataset(ann, indices=3)  # mmengine's own path
    assert len(ds) == 3 and ds.get_data_info(2)['label'] == 2
    ds = AVVideoDataset(ann, serialize_data=False)
    assert ds.get_data_info(9)['filename'] == 'v9.mp4'
