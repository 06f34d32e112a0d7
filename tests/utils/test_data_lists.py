"""mmavcl.utils.data_lists: the parts the data tools split their input
into, and the lists and folders they read (local and over HTTP)."""
import os.path as osp

import pytest

from mmavcl.datasets import AnnotationError
from mmavcl.testing import serve_directory
from mmavcl.utils.data_lists import (check_part, input_paths, join_path,
                                     list_files, part_path, read_bytes,
                                     needs_spawn, read_list, select_part)


@pytest.mark.parametrize('n_items', [0, 1, 7, 10])
@pytest.mark.parametrize('num_parts', [1, 2, 3, 4, 11])
def test_parts_are_disjoint_and_cover_the_input(n_items, num_parts):
    items = [f'v{i}.mp4' for i in range(n_items)]
    parts = [select_part(items, num_parts, p) for p in range(num_parts)]
    flat = [x for part in parts for x in part]
    assert sorted(flat) == sorted(items) and len(flat) == len(set(flat))
    # balanced: part sizes differ by at most one
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    # strided: part p holds items p, p + N, ...
    assert all(items.index(x) % num_parts == p
               for p, part in enumerate(parts) for x in part)


def test_bad_parts_and_part_names():
    for num_parts, part in ((2, 2), (2, -1), (0, 0)):
        with pytest.raises(ValueError, match='--part|--num-parts'):
            check_part(num_parts, part)
    assert part_path('a/train.txt', 1, 0) == 'a/train.txt'
    assert part_path('a/train.txt', 4, 1) == 'a/train.part-001-of-004.txt'
    assert join_path('http://h:1/v/', 'a/b.mp4') == 'http://h:1/v/a/b.mp4'
    assert join_path('', 'a/b.mp4') == 'a/b.mp4'
    assert join_path('/d', 'a/b.mp4') == '/d/a/b.mp4'


def test_lists_local_and_over_http(tmp_path):
    (tmp_path / 'v' / 'b').mkdir(parents=True)
    (tmp_path / 'v' / 'a.mp4').write_bytes(b'x')
    (tmp_path / 'v' / 'b' / 'c.MKV').write_bytes(b'yy')
    (tmp_path / 'v' / 'notes.txt').write_text('not media')
    (tmp_path / 'l.txt').write_text('# a comment\nb/c.MKV 1\n\na.mp4\n')
    (tmp_path / 'l.json').write_text(
        '[{"filename": "a b.mp4", "label": [0, 2], '
        '"audio_filename": "a b.wav"}]')
    (tmp_path / 'bad.txt').write_text('a.mp4 0\nb.mp4 x\n')
    assert list_files(str(tmp_path / 'v'), ('.mp4', '.mkv')) == [
        'a.mp4', 'b/c.MKV']
    with serve_directory(str(tmp_path)) as url:
        for root in (str(tmp_path), url):
            recs = read_list(join_path(root, 'l.txt'))
            assert recs == [dict(filename='b/c.MKV', label=1),
                            dict(filename='a.mp4')]
            assert read_list(join_path(root, 'l.json')) == [dict(
                filename='a b.mp4', label=[0, 2], audio_filename='a b.wav')]
            assert input_paths(join_path(root, 'v'),
                               join_path(root, 'l.txt'), ('.mp4', )) == [
                                   'b/c.MKV', 'a.mp4']
            assert read_bytes(join_path(root, 'v/b/c.MKV')) == b'yy'
            with pytest.raises(AnnotationError, match='bad.txt:2'):
                read_list(join_path(root, 'bad.txt'))
        # an HTTP server cannot list a folder: the error says what to do
        with pytest.raises(ValueError, match='pass an annotation list'):
            list_files(url + '/v', ('.mp4', ))
        with pytest.raises(FileNotFoundError, match='nope.txt'):
            read_list(url + '/nope.txt')
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        list_files(osp.join(str(tmp_path), 'nope'), ('.mp4', ))


def test_object_store_uris_need_spawned_workers():
    assert needs_spawn('s3://b/list.txt') and needs_spawn(None, 'gs://b/v')
    assert not needs_spawn('http://h/list.txt', '/data/v', None)
    assert needs_spawn('/data/v', backend_args=dict(backend='petrel'))
    assert not needs_spawn('/data/v', backend_args=dict(backend='local'))
