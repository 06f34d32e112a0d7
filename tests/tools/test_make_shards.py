"""tools/data/make_shards.py on the toy set: shards AVShardDataset reads,
parts that partition the list, resumable, the same shards from any number
of writer processes; video2dataset shards indexed as they are."""
import hashlib
import io
import json
import os
import os.path as osp
import subprocess
import sys
import tarfile

import pytest

from mmavcl.datasets import AVShardDataset
from mmavcl.testing import (load_script, make_av_video, serve_directory,
                            serve_s3)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'data', 'make_shards.py')
PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=4, frame_interval=2, num_clips=1,
             mode='uniform'),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]


def _main(*args):
    """The tool in this process (one writer: no worker imports it as
    ``__main__``), which spares a subprocess's imports."""
    load_script(TOOL).main(list(args))


def _run(*args, env=None):
    env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    res = subprocess.run([sys.executable, TOOL, *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_make_shards_read_back_resume_and_parts(tiny_toy_av, tmp_path):
    ann = osp.join(tiny_toy_av, 'train.txt')
    out = str(tmp_path / 'one')
    _main(ann, tiny_toy_av, out, '--samples-per-shard', '3')
    index = json.load(open(osp.join(out, 'index.json')))
    assert index['shards'] == {'shard-000-000000.tar': 3,
                               'shard-000-000001.tar': 1}
    ds = AVShardDataset(out + '/shard-000-{000000..000001}.tar', PIPE)
    items = list(ds)
    assert len(items) == len(ds) == 4
    labels = sorted(int(it['data_samples'].gt_label) for it in items)
    with open(ann) as f:
        assert labels == sorted(int(ln.split()[1]) for ln in f)
    # resumable: a complete shard is kept, a missing one rewritten
    first = osp.join(out, 'shard-000-000000.tar')
    mtime = os.stat(first).st_mtime_ns
    os.remove(osp.join(out, 'shard-000-000001.tar'))
    _main(ann, tiny_toy_av, out, '--samples-per-shard', '3')
    assert os.stat(first).st_mtime_ns == mtime
    assert osp.isfile(osp.join(out, 'shard-000-000001.tar'))
    # two parts: disjoint, together the list
    parts = str(tmp_path / 'parts')
    for i in range(2):
        _main(ann, tiny_toy_av, parts, '--num-parts', '2', '--part', str(i))
    _main(ann, tiny_toy_av, parts, '--merge-index')
    merged = json.load(open(osp.join(parts, 'index.json')))
    assert merged['num_samples'] == 4 and len(merged['shards']) == 2


def _shard_keys(path):
    """Member names of a shard, in order."""
    with tarfile.open(path) as tar:
        return tar.getnames()


def test_workers_do_not_change_the_shards(tiny_toy_av, tmp_path):
    tool = load_script(TOOL)
    ann = osp.join(tiny_toy_av, 'train.txt')
    digests, keys, indexes = [], [], []
    for workers in (1, 2):
        out = str(tmp_path / f'w{workers}')
        # a subprocess: the worker processes import the tool as __main__
        _run(ann, tiny_toy_av, out, '--samples-per-shard', '1',
             '--workers', str(workers))
        index = json.load(open(osp.join(out, 'index.json')))['shards']
        assert len(index) == 4
        indexes.append(open(osp.join(out, 'index.json')).read())
        keys.append({n: _shard_keys(osp.join(out, n)) for n in index})
        digests.append({n: hashlib.sha256(open(osp.join(out, n), 'rb').read(
        )).hexdigest() for n in index})
    assert indexes[0] == indexes[1]
    assert keys[0] == keys[1]
    assert digests[0] == digests[1]  # byte-identical, not only same keys
    # each shard holds the list's records in order, one video member each
    with open(ann) as f:
        stems = [tool._key(ln.split()[0]) for ln in f]
    assert [k[0] for k in keys[0].values()] == [s + '.mp4' for s in stems]


def _video2dataset_shard(path, samples):
    """A tar as video2dataset writes it: ``{key}.mp4`` (real H.264+AAC),
    ``{key}.json`` (its metadata; here with or without a "label") and
    ``{key}.txt`` (the caption) per sample."""
    with tarfile.open(path, 'w') as tar:
        for key, meta, caption, video in samples:
            members = [('json', json.dumps(meta).encode()),
                       ('txt', caption.encode())]
            if video is not None:
                members.insert(0, ('mp4', open(video, 'rb').read()))
            for ext, data in members:
                info = tarfile.TarInfo(f'{key}.{ext}')
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_from_shards_indexes_video2dataset_shards(tmp_path):
    tool = load_script(TOOL)
    media = tmp_path / 'media'
    videos = [make_av_video(str(media / f'{i}.mp4'), num_frames=16,
                            size=(32, 32), seed=i)['path'] for i in range(3)]
    v2d = tmp_path / 'v2d'
    v2d.mkdir()
    meta = dict(url='http://example.com/a.mp4', status='success')
    # labels by the documented keys: the json's "label", else a txt that
    # is an integer; a caption txt gives no label
    _video2dataset_shard(str(v2d / '00000.tar'), [
        ('000000000', dict(meta, key='000000000', label=3), 'a dog',
         videos[0]),
        ('000000001', dict(meta, key='000000001', label=1), 'a cat',
         videos[1]),
    ])
    _video2dataset_shard(str(v2d / '00001.tar'), [
        ('000010000', dict(meta, key='000010000'), '2', videos[2]),
    ])
    # video2dataset's own sidecar files beside the tars are left alone
    (v2d / '00000_stats.json').write_text('{}')
    _run('--from-shards', str(v2d), '--workers', '2')
    index = json.load(open(v2d / 'index.json'))
    assert index == dict(shards={'00000.tar': 2, '00001.tar': 1},
                         num_samples=3, num_labelled=3)
    ds = AVShardDataset(str(v2d / '{00000..00001}.tar'), PIPE)
    items = list(ds)
    assert len(ds) == len(items) == 3
    assert sorted(int(it['data_samples'].gt_label) for it in items) == [
        1, 2, 3]
    assert all(it['inputs']['video'][0].shape == (3, 4, 32, 32)
               for it in items)  # (C, T, H, W) decoded from the mp4s

    # remote shards (a brace pattern of URLs): the index is written to OUT
    with serve_directory(str(v2d)) as url:
        out = str(tmp_path / 'remote_index')
        tool.main(['--from-shards', url + '/{00000..00001}.tar', out])
        assert json.load(open(osp.join(out, 'index.json')))['shards'] == \
            index['shards']
        ds = AVShardDataset(url + '/{00000..00001}.tar', PIPE,
                            index_file=osp.join(out, 'index.json'))
        assert len(ds) == len(list(ds)) == 3

    # a sample without its video: an error naming the shard and the key
    _video2dataset_shard(str(v2d / '00002.tar'), [
        ('000020000', dict(meta, key='000020000'), 'no video', None)])
    with pytest.raises(ValueError, match=r'00002.tar: sample .000020000. '
                       r'has no video member'):
        tool.index_shards(str(v2d))


def test_from_shards_over_folders_with_the_same_file_names(tmp_path):
    """Two folders of shards with the same file names (``a/`` and ``b/``,
    ``ids-000000.tar`` and ``ids-000001.tar`` each; 3, 2 and 2, 4 samples
    of the ids 0-10) indexed in one call: without OUT each folder gets its
    own ``index.json`` by file name (AVShardDataset's default), with OUT
    one index by shard name (``a/ids-000000.tar``...; ``index_file=``);
    either way AVShardDataset over both folders counts 11 samples and
    decodes the ids 0-10 once each. Before, the call was refused (``shard
    names repeat; the index is keyed by file name``). The same shard
    listed twice is still refused, naming it."""
    from mmavcl.testing import decode_sample_ids, write_id_shards
    tool = load_script(TOOL)
    written = {}
    for folder, sizes, first in (('a', (3, 2), 0), ('b', (2, 4), 5)):
        write_id_shards(str(tmp_path / folder), sizes, first_id=first)
        index = tmp_path / folder / 'index.json'
        written[folder] = json.loads(index.read_text())['shards']
        index.unlink()
    pattern = str(tmp_path / '{a,b}' / 'ids-{000000..000001}.tar')

    def ids(**kwargs):
        ds = AVShardDataset(pattern, PIPE[:1] + [dict(
            type='SampleClips', clip_len=2, frame_interval=1, num_clips=1,
            mode='uniform')] + PIPE[2:], audio_source='none', **kwargs)
        ds.set_epoch(0)
        assert len(ds) == 11
        return sorted(i for item in ds
                      for i in decode_sample_ids(item['inputs']['video'][0]))

    shards, out = tool.index_shards(pattern)
    assert out == str(tmp_path)
    assert shards == {f'{f}/{n}': c for f in 'ab'
                      for n, c in written[f].items()}
    for folder in 'ab':
        assert json.loads((tmp_path / folder / 'index.json').read_text())[
            'shards'] == written[folder]
    assert ids() == list(range(11))

    out = str(tmp_path / 'index')
    tool.main(['--from-shards', pattern, out])
    index = json.load(open(osp.join(out, 'index.json')))
    assert index['shards'] == shards and index['num_samples'] == 11
    for folder in 'ab':
        (tmp_path / folder / 'index.json').unlink()
    assert ids(index_file=osp.join(out, 'index.json')) == list(range(11))

    twice = str(tmp_path / '{a,a}' / 'ids-000000.tar')
    with pytest.raises(ValueError, match=r"ids-000000.tar is listed twice "
                       r"\(shards 0 and 1 of 2\)"):
        tool.index_shards(twice, out)


def test_shards_from_s3_equal_local_ones(tiny_toy_av, tmp_path):
    """List and media read from a loopback S3 endpoint (credentials and
    endpoint from the AWS_* variables), written by 2 workers: the same
    shards, byte for byte, as from the local files."""
    ann = osp.join(tiny_toy_av, 'train.txt')
    local = str(tmp_path / 'local')
    _main(ann, tiny_toy_av, local, '--samples-per-shard', '3')
    os.symlink(tiny_toy_av, tmp_path / 'bucket')
    with serve_s3(str(tmp_path), access_key='AK') as endpoint:
        remote = str(tmp_path / 'remote')
        _run('s3://bucket/train.txt', 's3://bucket', remote,
             '--samples-per-shard', '3', '--workers', '2',
             env=dict(AWS_ACCESS_KEY_ID='AK', AWS_SECRET_ACCESS_KEY='x',
                      AWS_ENDPOINT_URL=endpoint, AWS_REGION='us-east-1'))
    names = ['index.json', 'shard-000-000000.tar', 'shard-000-000001.tar']
    assert sorted(os.listdir(remote)) == sorted(os.listdir(local)) == names
    for name in names:
        assert open(osp.join(remote, name), 'rb').read() == open(
            osp.join(local, name), 'rb').read(), name
