"""Bad annotation lists and configs give one clear line with the file and
line number, or the key (issue 9 §2)."""
import json

import pytest
from mmengine.config import Config

import mmavcl.datasets.video_dataset as vd
from mmavcl.datasets import (AnnotationError, AVAudioDataset, AVVideoDataset,
                             PipelineConfigError)
from mmavcl.registry import DATASETS
from mmavcl.testing import make_av_video

PIPELINE = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=4),
    dict(type='DecodeVideoViews'),
    dict(type='PackAVInputs'),
]


def _write(path, text):
    path.write_text(text, encoding='utf-8')
    return str(path)


@pytest.fixture
def warnings(monkeypatch):
    msgs = []
    monkeypatch.setattr(vd, 'print_log', lambda m, **k: msgs.append(m))
    return msgs


def test_missing_annotation_file(tmp_path):
    path = str(tmp_path / 'nope' / 'train.txt')
    with pytest.raises(FileNotFoundError) as info:
        AVVideoDataset(path)
    assert str(info.value) == f'annotation file {path} does not exist'


@pytest.mark.parametrize('text,line,msg', [
    ('a.mp4 0\nb.mp4 one\n', 2, "non-integer label in 'b.mp4 one'"),
    ('a.mp4 0\nb.mp4 1.5\n', 2, 'non-integer label'),
    ('a.mp4 0\n\n# c\nb.mp4 7\n', 4, 'label 7 outside [0, 5)'),
    ('a.mp4 -1\n', 1, 'label -1 outside [0, 5)'),
])
def test_bad_labels_name_file_and_line(tmp_path, text, line, msg):
    ann = _write(tmp_path / 'l.txt', text)
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann, num_classes=5)
    assert f'{ann}:{line}: {msg}' in str(info.value)
    assert info.value.problems[0][0] == line


def test_json_label_errors_name_the_record(tmp_path):
    ann = _write(tmp_path / 'l.json', json.dumps(
        [dict(filename='a.mp4', label=1), dict(filename='b.mp4', label=9)]))
    with pytest.raises(AnnotationError, match=r'l.json:2: label 9 outside'):
        AVVideoDataset(ann, num_classes=5)
    bad = _write(tmp_path / 'bad.json', '[{"filename": "a.mp4",\n "label"')
    with pytest.raises(AnnotationError, match=r'bad.json:2: invalid JSON'):
        AVVideoDataset(bad)


def test_empty_list(tmp_path):
    ann = _write(tmp_path / 'empty.txt', '# header only\n\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann)
    assert f'{ann}:0: the list holds no samples' in str(info.value)
    ann = _write(tmp_path / 'empty.json', '[]')
    with pytest.raises(AnnotationError, match='holds no samples'):
        AVVideoDataset(ann)


@pytest.mark.parametrize('serialize', [True, False])
def test_duplicated_lines_warn_once_and_stay(tmp_path, warnings, serialize):
    ann = _write(tmp_path / 'dup.txt',
                 'a.mp4 0\nb.mp4 1\na.mp4 0\nc.mp4 2\nb.mp4 1\n')
    ds = AVVideoDataset(ann, serialize_data=serialize)
    assert len(ds) == 5  # kept: each line is one sample
    assert len(warnings) == 1
    assert warnings[0].startswith(f'2 duplicated line(s) in {ann}')
    assert f'{ann}:3: duplicate of line 1: a.mp4' in warnings[0]
    assert f'{ann}:5: duplicate of line 2: b.mp4' in warnings[0]


def test_duplicated_lines_error_when_asked(tmp_path):
    ann = _write(tmp_path / 'dup.txt', 'a.mp4 0\nb.mp4 1\na.mp4 0\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann, on_duplicate='error')
    assert info.value.problems == [(3, 'duplicate of line 1: a.mp4')]


def test_same_path_with_another_label_is_an_error(tmp_path, warnings):
    ann = _write(tmp_path / 'conflict.txt', 'a.mp4 0\nb.mp4 1\na.mp4 3\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann)
    assert (f'{ann}:3: a.mp4 listed again with label 3 (line 1 says 0)'
            in str(info.value))
    # labels ignored (pretraining): only a duplicate
    assert len(AVVideoDataset(ann, with_label=False)) == 3
    assert 'duplicate of line 1: a.mp4' in warnings[-1]


def test_no_duplicate_no_warning(tmp_path, warnings):
    ann = _write(tmp_path / 'ok.txt', 'a.mp4 0\nb.mp4 0\n')
    AVVideoDataset(ann)
    assert warnings == []


def test_wrong_data_prefix_fails_at_build(tmp_path):
    make_av_video(str(tmp_path / 'videos' / 'a.mp4'), num_frames=8,
                  audio=False)
    ann = _write(tmp_path / 'l.txt', 'a.mp4 0\n')
    with pytest.raises(FileNotFoundError) as info:
        AVVideoDataset(ann, data_root=str(tmp_path),
                       data_prefix=dict(video='vidoes'), pipeline=PIPELINE,
                       lazy_init=True)
    msg = str(info.value)
    assert "data_prefix['video']" in msg and 'vidoes' in msg
    assert '\n' not in msg
    # the right prefix builds and reads
    ds = AVVideoDataset(ann, data_root=str(tmp_path),
                        data_prefix=dict(video='videos'), pipeline=PIPELINE)
    assert ds[0]['data_samples'].video_id == 'a.mp4'
    # sidecar audio folder, and the audio dataset's own key
    with pytest.raises(FileNotFoundError, match=r"data_prefix\['audio'\]"):
        AVVideoDataset(ann, data_root=str(tmp_path), audio_source='sidecar',
                       data_prefix=dict(video='videos', audio='wav'),
                       pipeline=PIPELINE)
    with pytest.raises(FileNotFoundError, match=r"data_prefix\['audio'\]"):
        AVAudioDataset(ann, data_prefix=dict(audio=str(tmp_path / 'x')),
                       pipeline=[dict(type='AudioInit')])
    # a list parsed without a pipeline reads no files: not checked
    assert len(AVVideoDataset(ann, data_prefix=dict(video='/nowhere'))) == 1


def test_unknown_transform_argument_names_transform_and_key(tmp_path):
    ann = _write(tmp_path / 'l.txt', 'a.mp4 0\n')
    pipeline = [dict(type='VideoInit'),
                dict(type='SampleClips', clip_lenn=4),
                dict(type='PackAVInputs')]
    with pytest.raises(PipelineConfigError) as info:
        DATASETS.build(dict(type='AVVideoDataset', ann_file=ann,
                            pipeline=pipeline))
    msg = str(info.value)
    assert msg.startswith("pipeline[1] (SampleClips): unknown argument "
                          "'clip_lenn'; did you mean 'clip_len'?")
    assert '\n' not in msg


def test_unknown_transform_type_names_type_and_scope(tmp_path):
    ann = _write(tmp_path / 'l.txt', 'a.mp4 0\n')
    with pytest.raises(PipelineConfigError) as info:
        AVVideoDataset(ann, pipeline=[dict(type='VideoInit'),
                                      dict(type='SampleClip', clip_len=4)])
    msg = str(info.value)
    assert msg.startswith("pipeline[1]: unknown transform type 'SampleClip' "
                          "in registry scope 'mmavcl'")
    assert "did you mean 'SampleClips'" in msg and '"mmaction.' in msg
    assert '\n' not in msg


def test_unknown_dataset_key_names_it(tmp_path):
    ann = _write(tmp_path / 'l.txt', 'a.mp4 0\n')
    cfg = Config(dict(train=dict(type='AVVideoDataset', ann_file=ann,
                                 data_prefx=dict(video='v'))))
    with pytest.raises(TypeError) as info:
        DATASETS.build(cfg.train)
    assert str(info.value) == ("AVVideoDataset: unknown argument "
                               "'data_prefx'; did you mean 'data_prefix'?")
    with pytest.raises(ValueError, match='bad_sample_policy must be one of'):
        AVVideoDataset(ann, bad_sample_policy='ignore')


# ------------------------------------------------ encodings and line syntax
def test_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    """A list saved by Windows Notepad: UTF-8 with a BOM and CRLF ends."""
    ann = tmp_path / 'bom.txt'
    ann.write_bytes('\ufeffa.mp4 0\r\nb.mp4 1\r\n'.encode('utf-8'))
    ds = AVVideoDataset(str(ann))
    assert [ds.get_data_info(i)['video_id'] for i in range(2)] == [
        'a.mp4', 'b.mp4']
    ann = tmp_path / 'bom.json'
    ann.write_bytes(b'\xef\xbb\xbf' + json.dumps(
        [dict(filename='a.mp4', label=0)]).encode())
    assert AVVideoDataset(str(ann)).get_data_info(0)['video_id'] == 'a.mp4'


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    ann = tmp_path / 'latin1.txt'
    ann.write_bytes('a.mp4 0\ncaf\u00e9.mp4 1\nc.mp4 2\n'.encode('latin-1'))
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(str(ann))
    assert info.value.problems[0][0] == 2
    assert f'{ann}:2: not UTF-8 text: byte 0xe9' in str(info.value)
    assert len(info.value.problems) == 1  # the other lines parse
    ann = tmp_path / 'utf16.txt'
    ann.write_bytes('a.mp4 0\nb.mp4 1\n'.encode('utf-16'))
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(str(ann))
    assert info.value.problems == [(1, 'the file is UTF-16 (it starts with '
                                       'a UTF-16 byte order mark); save it '
                                       'as UTF-8')]
    ann = tmp_path / 'latin1.json'
    ann.write_bytes('[{"filename": "a.mp4"},\n {"filename": "caf\u00e9.mp4"}]'
                    .encode('latin-1'))
    with pytest.raises(AnnotationError, match=r'latin1.json:2: not UTF-8 '):
        AVVideoDataset(str(ann))


def test_hash_starts_a_comment_only_before_whitespace(tmp_path):
    ann = _write(tmp_path / 'l.txt', '# a comment\n#\n##\n#\tx\n## y\n'
                 '#clip.mp4 0\n#1.mp4 1\n')
    ds = AVVideoDataset(ann)
    assert [ds.get_data_info(i)['video_id'] for i in range(len(ds))] == [
        '#clip.mp4', '#1.mp4']


def test_unlabelled_list_refuses_text_after_the_name(tmp_path):
    """``with_label=False`` ignores labels, but a name cut at a space
    (``my clip.mp4``) is an error at build, not a missing file later."""
    ann = _write(tmp_path / 'l.txt', 'a.mp4 3\nmy clip.mp4\nb.mp4 1 2\n'
                 'c.mp4 0 x\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann, with_label=False)
    assert [line for line, _ in info.value.problems] == [2, 4]
    assert (f"{ann}:2: unexpected text after the file name in 'my clip.mp4'"
            in str(info.value))
    ok = _write(tmp_path / 'ok.txt', 'a.mp4 3\nb.mp4 1 2\nc.mp4\n')
    ds = AVVideoDataset(ok, with_label=False)
    assert len(ds) == 3 and 'label' not in ds.get_data_info(1)


@pytest.mark.parametrize('char', ['\u2028', '\x85', '\x0c', '\xa0'])
def test_unicode_line_separators_stay_in_the_name(tmp_path, char):
    """U+2028, NEL, form feed and no-break space end no line and split no
    column: ``str.splitlines``/``str.split`` would."""
    name = f'a{char}b.mp4'
    ann = _write(tmp_path / 'l.txt', f'{name} 0\nc.mp4 x\n')
    with pytest.raises(AnnotationError) as info:
        AVVideoDataset(ann)
    assert [line for line, _ in info.value.problems] == [2]
    ann = _write(tmp_path / 'ok.txt', f'{name} 0\nc.mp4 1\n')
    ds = AVVideoDataset(ann)
    assert ds.get_data_info(0)['video_id'] == name
    assert ds.get_data_info(0)['label'] == 0
