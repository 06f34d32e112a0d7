"""AVShardDataset on real WebDataset shards of the toy set: the same items
as AVVideoDataset, every key once over ranks x workers, shards over HTTP
and S3 on loopback, and broken shards."""
import contextlib
import json
import os
import os.path as osp
import tarfile
import time

import numpy as np
import pytest
from torch.utils.data import DataLoader

from mmavcl.datasets import AVShardDataset, AVVideoDataset, MediaDecodeError
from mmavcl.datasets import shard_dataset as sd
from mmavcl.datasets.media import remote
from mmavcl.testing import (add_tar_member, serve_directory, serve_moto,
                            serve_s3, write_shards)

PIPE = [
    dict(type='VideoInit', backend='pyav'),
    dict(type='SampleClips', clip_len=4, frame_interval=2, num_clips=1,
         mode='uniform', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000),
    dict(type='PackAVInputs'),
]


def _keys_of(lines):
    return [osp.splitext(rel)[0].replace('/', '_') for rel, _ in lines]


@pytest.fixture(scope='module')
def shards(tiny_toy_av, tmp_path_factory):
    """The 8 toy videos in 4 shards of 2 (+ index.json)."""
    out = str(tmp_path_factory.mktemp('shards'))
    lines = []
    for split in ('train.txt', 'val.txt'):
        with open(osp.join(tiny_toy_av, split)) as f:
            lines += [ln.split() for ln in f if ln.strip()]
    samples = []
    for key, (rel, label) in zip(_keys_of(lines), lines):
        with open(osp.join(tiny_toy_av, rel), 'rb') as f:
            samples.append((key, {'mp4': f.read(), 'json': json.dumps(
                dict(label=int(label), path=rel)).encode(),
                'txt': label.encode()}))
    write_shards(samples, out, 2, prefix='toy')
    return out, lines


def _key(item):
    return item['data_samples'].metainfo['filename'].rsplit('#', 1)[1]


def test_items_equal_video_dataset(tiny_toy_av, shards):
    root, lines = shards
    ds = AVShardDataset(root + '/toy-{000000..000003}.tar', PIPE)
    assert len(ds) == 8
    items = {_key(it): it for it in ds}
    assert len(items) == 8
    ref = AVVideoDataset('train.txt', pipeline=PIPE, data_root=tiny_toy_av)
    a = ref[0]
    rel = lines[0][0]
    b = items[osp.splitext(rel)[0].replace('/', '_') + '.mp4']
    for k in ('video', 'audio'):
        np.testing.assert_array_equal(a['inputs'][k][0].numpy(),
                                      b['inputs'][k][0].numpy())
    assert b['data_samples'].gt_label.item() == int(lines[0][1])


def test_every_key_once_over_2_ranks_x_2_workers(shards, monkeypatch):
    root, lines = shards
    seen = []
    for rank in range(2):
        monkeypatch.setattr(sd, 'get_dist_info', lambda r=rank: (r, 2))
        ds = AVShardDataset(root + '/toy-{000000..000003}.tar', PIPE,
                            shuffle_buffer=4, seed=1)
        ds.set_epoch(3)
        assert len(ds) == 4
        loader = DataLoader(ds, batch_size=None, num_workers=2)
        seen += [_key(it) for it in loader]
    assert sorted(seen) == sorted(k + '.mp4' for k in _keys_of(lines))


def test_split_shards_is_a_partition():
    urls = [f's{i}' for i in range(11)]
    parts = [sd.split_shards(urls, r, 3, w, 2) for r in range(3)
             for w in range(2)]
    assert sorted(sum(parts, [])) == sorted(urls)


def test_shards_over_http_and_s3(shards, tmp_path, monkeypatch):
    root, _ = shards
    monkeypatch.setattr(remote, 'FETCH_RETRIES', 0)
    with serve_directory(root) as url:
        ds = AVShardDataset(url + '/toy-{000000..000001}.tar', PIPE)
        assert len(ds) == 4 and len(list(ds)) == 4
        bad = AVShardDataset([url + '/toy-000009.tar'], PIPE)
        with pytest.raises(MediaDecodeError, match='toy-000009.tar.*404'):
            list(iter(bad))
    os.symlink(root, tmp_path / 'bucket')
    with serve_s3(str(tmp_path), access_key='AK') as endpoint:
        ds = AVShardDataset(
            's3://bucket/toy-{000002..000003}.tar', PIPE,
            backend_args=dict(endpoint_url=endpoint, aws_access_key_id='AK',
                              aws_secret_access_key='x',
                              region='us-east-1'))
        assert len(ds) == 4 and len(list(ds)) == 4


def test_shards_from_moto_s3_equal_local(shards, tmp_path, monkeypatch):
    """moto's S3 server (a full S3 implementation, not the test subset of
    serve_s3): the same items as from the local shards, decoded pixel for
    pixel; a missing shard is an error naming its URL."""
    root, _ = shards
    monkeypatch.setattr(remote, 'FETCH_RETRIES', 0)
    local = {_key(it): it for it in AVShardDataset(
        root + '/toy-{000000..000001}.tar', PIPE)}
    os.symlink(root, tmp_path / 'toy-shards')
    with serve_moto(str(tmp_path)) as endpoint:
        args = dict(endpoint_url=endpoint, aws_access_key_id='AK',
                    aws_secret_access_key='x', region='us-east-1')
        ds = AVShardDataset('s3://toy-shards/toy-{000000..000001}.tar',
                            PIPE, backend_args=args)
        assert len(ds) == 4  # from the bucket's index.json
        got = {_key(it): it for it in iter(ds)}
        bad = AVShardDataset(['s3://toy-shards/toy-000009.tar'], PIPE,
                             backend_args=args)
        with pytest.raises(MediaDecodeError,
                           match='s3://toy-shards/toy-000009.tar'):
            list(iter(bad))
    assert sorted(got) == sorted(local)
    for key, item in got.items():
        for k in ('video', 'audio'):
            np.testing.assert_array_equal(
                item['inputs'][k][0].numpy(),
                local[key]['inputs'][k][0].numpy())


def test_missing_video_member(tmp_path):
    with tarfile.open(tmp_path / 'novideo.tar', 'w') as tar:
        add_tar_member(tar, 'k1.json', b'{"label": 0}')
    with pytest.raises(MediaDecodeError, match='novideo.tar#k1.*no video'):
        list(iter(AVShardDataset([str(tmp_path / 'novideo.tar')], PIPE)))
    ds = AVShardDataset([str(tmp_path / 'novideo.tar')], PIPE,
                        bad_sample_policy='skip')
    assert list(iter(ds)) == [] and ds.num_skipped == 1


def test_corrupt_video_member(tiny_toy_av, tmp_path, monkeypatch):
    """A member that is not a video (random bytes under .mp4) between two
    good samples: under 'raise' an error naming shard and key; under
    'skip' one counted skip and both good samples delivered, the skip
    logged, or left to ``DataReportHook`` once it took the dataset over
    (the next item still names it)."""
    import mmengine.logging

    from mmavcl.engine.hooks import DataReportHook
    rel = _first_video(tiny_toy_av)
    with open(osp.join(tiny_toy_av, rel), 'rb') as f:
        good = f.read()
    junk = np.random.default_rng(0).integers(0, 256, 4096,
                                             dtype=np.uint8).tobytes()
    samples = [(key, {'mp4': data, 'json': b'{"label": 1}'})
               for key, data in (('a', good), ('bad', junk), ('c', good))]
    write_shards(samples, str(tmp_path), 3, prefix='mixed')
    url = str(tmp_path / 'mixed-000000.tar')
    with pytest.raises(MediaDecodeError, match='mixed-000000.tar#bad'):
        list(iter(AVShardDataset([url], PIPE)))
    said = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, **kw: said.append(msg))
    ds = AVShardDataset([url], PIPE, bad_sample_policy='skip')
    keys = sorted(_key(it) for it in iter(ds))
    assert keys == ['a.mp4', 'c.mp4'] and ds.num_skipped == 1
    (line, ) = [m for m in said if m.startswith('skipping bad sample')]
    assert '#bad' in line
    said.clear()
    ds = AVShardDataset([url], PIPE, bad_sample_policy='skip')
    DataReportHook().take_over(ds)
    items = list(iter(ds))
    assert not [m for m in said if m.startswith('skipping bad sample')]
    assert ds.num_skipped == 1
    skipped = [it['data_samples'].metainfo.get('skipped_bad_samples')
               for it in items]
    assert [_key(it) for it in items] == ['a.mp4', 'c.mp4']
    assert skipped[0] is None and len(skipped[1]) == 1
    assert skipped[1][0][0].endswith('mixed-000000.tar#bad.mp4')


def _first_video(root):
    with open(osp.join(root, 'train.txt')) as f:
        return f.readline().split()[0]


@pytest.fixture(scope='module')
def many_shards(tiny_toy_av, tmp_path_factory):
    """18 samples (the 4 toy training videos under keys s000..s017) in 6
    shards of 3, members mp4, json, txt; returns (pattern, names, keys)."""
    with open(osp.join(tiny_toy_av, 'train.txt')) as f:
        lines = [ln.split() for ln in f if ln.strip()]
    videos = []
    for rel, label in lines:
        with open(osp.join(tiny_toy_av, rel), 'rb') as f:
            videos.append((f.read(), label))
    samples = []
    for i in range(18):
        data, label = videos[i % len(videos)]
        samples.append((f's{i:03d}', {'mp4': data, 'json': json.dumps(
            dict(label=int(label))).encode(), 'txt': label.encode()}))
    out = str(tmp_path_factory.mktemp('many_shards'))
    pattern, names = write_shards(samples, out, 3)
    return pattern, names, [k for k, _ in samples]


def _member_offsets(path):
    """name -> (header offset, data offset, size) of a tar's members."""
    with tarfile.open(path) as tar:
        return {m.name: (m.offset, m.offset_data, m.size)
                for m in tar.getmembers()}


CUTS = {
    # inside the data of sample 2's first member: webdataset alone loses
    # sample 1 (it waits for the next key to close sample 1)
    'in-next-sample-first-member': ('s001.mp4', 'mid', ['s000']),
    # inside sample 2's second member: sample 2 is incomplete, dropped
    'in-sample-second-member': ('s001.json', 'mid', ['s000']),
    # exactly between two members: tarfile ends quietly (no error); only
    # the index's sample count shows that sample 3 is missing
    'at-a-member-boundary': ('s002.mp4', 'header', ['s000', 's001']),
}


@pytest.mark.parametrize('case', list(CUTS))
def test_truncated_shard_keeps_the_samples_before_the_cut(
        many_shards, tmp_path, case):
    pattern, names, _ = many_shards
    member, where, kept = CUTS[case]
    src = osp.join(osp.dirname(pattern), names[0])
    header, data_at, size = _member_offsets(src)[member]
    cut = header if where == 'header' else data_at + size // 2
    with open(src, 'rb') as f:
        (tmp_path / names[0]).write_bytes(f.read()[:cut])
    with open(osp.join(osp.dirname(pattern), names[1]), 'rb') as f:
        (tmp_path / names[1]).write_bytes(f.read())
    with open(osp.join(osp.dirname(pattern), 'index.json')) as f:
        (tmp_path / 'index.json').write_text(f.read())
    cut_shard = str(tmp_path / names[0])
    with pytest.raises(MediaDecodeError) as err:
        list(iter(AVShardDataset([cut_shard], PIPE)))
    assert err.value.filename == cut_shard
    if where == 'header':
        assert 'ended after 2 of the 3 samples' in str(err.value)
    else:
        assert f'unreadable shard in member {member} after ' \
            f'{len(kept)} complete' in str(err.value)
    ds = AVShardDataset([cut_shard, str(tmp_path / names[1])], PIPE,
                        bad_sample_policy='skip')
    items = list(iter(ds))
    assert [_key(it) for it in items] == \
        [f'{k}.mp4' for k in kept + ['s003', 's004', 's005']]
    assert ds.num_skipped == 1
    # the skip reaches the main process with the next item of the worker
    reports = [it['data_samples'].metainfo.get('skipped_bad_samples')
               for it in items]
    assert reports[len(kept)][0][0] == cut_shard
    assert sum(r is not None for r in reports) == 1


def test_epoch_reshuffles_shards(shards):
    root, _ = shards
    ds = AVShardDataset(root + '/toy-{000000..000003}.tar', PIPE, seed=0)
    orders = set()
    for epoch in range(4):
        ds.set_epoch(epoch)
        orders.add(tuple(ds._my_shards()))
    ds.set_epoch(0)
    assert tuple(ds._my_shards()) in orders and len(orders) > 1


def _gloo_rank(rank, init_file, pattern, out_dir):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=2)
    try:
        ds = AVShardDataset(pattern, PIPE, shuffle_buffer=2, seed=5)
        ds.set_epoch(1)
        keys = [_key(it) for it in DataLoader(ds, batch_size=None,
                                              num_workers=2)]
        with open(osp.join(out_dir, f'rank{rank}.json'), 'w') as f:
            json.dump(dict(keys=keys, len=len(ds)), f)
    finally:
        dist.destroy_process_group()


def test_every_key_once_over_2_gloo_ranks_x_2_workers(shards, tmp_path):
    """Two real gloo processes (mmengine's get_dist_info), two DataLoader
    workers each: the keys they read are every key of the shards, once."""
    import torch.multiprocessing as mp
    root, lines = shards
    mp.spawn(_gloo_rank, args=(str(tmp_path / 'init'),
                               root + '/toy-{000000..000003}.tar',
                               str(tmp_path)), nprocs=2, join=True)
    seen, lens = [], []
    for r in range(2):
        with open(tmp_path / f'rank{r}.json') as f:
            got = json.load(f)
        seen += got['keys']
        lens.append(got['len'])
        assert len(got['keys']) == got['len'] == 4
    assert sorted(seen) == sorted(k + '.mp4' for k in _keys_of(lines))


def _shard_order(loader, epoch):
    """The shards in the order a loader's items come from them."""
    loader.dataset.set_epoch(epoch)
    order = []
    for item in loader:
        shard = item['data_samples'].metainfo['shard']
        if shard not in order:
            order.append(shard)
    return order


def test_persistent_workers_reshuffle_every_epoch(many_shards):
    """The epoch reaches workers that persist across epochs: two epochs
    read the shards in different orders, and the same seed gives the same
    orders again."""
    pattern, names, _ = many_shards

    def orders():
        ds = AVShardDataset(pattern, PIPE, seed=3)
        loader = DataLoader(ds, batch_size=None, num_workers=2,
                            persistent_workers=True)
        got = [_shard_order(loader, e) for e in range(2)]
        for epoch, order in enumerate(got):
            # the reference: the main process's deal of that epoch (with
            # one item per batch, the two workers' items alternate, so
            # their shards come in the dealt order)
            ds.set_epoch(epoch)
            assert order == [osp.basename(u) for u in ds._my_shards()]
        return got

    first = orders()
    assert first[0] != first[1]
    assert orders() == first


def test_load_progress_skips_what_was_trained(many_shards, monkeypatch):
    """A progress state (what a checkpoint holds) makes the next pass over
    that epoch yield exactly the other samples, without opening the done
    shards or decoding the trained keys."""
    pattern, names, keys = many_shards
    ds = AVShardDataset(pattern, PIPE, shuffle_buffer=4, seed=2)
    ds.set_epoch(1)
    trained = {}
    for item in ds:  # the samples a killed run trained on: the first 7
        ds.record_trained(dict(data_samples=[item['data_samples']]))
        meta = item['data_samples'].metainfo
        trained.setdefault(meta['shard'], set()).add(meta['shard_key'])
        if sum(map(len, trained.values())) == 7:
            break
    state = ds.progress_state()
    assert state['epoch'] == 1
    assert set(state['done']) == {n for n, k in trained.items()
                                  if len(k) == 3} != set()
    assert {n: set(k) for n, k in state['partial'].items()} == \
        {n: k for n, k in trained.items() if len(k) < 3} != {}

    opened, decoded = [], []
    real_open = sd.open_stream
    monkeypatch.setattr(sd, 'open_stream', lambda url, *a: (
        opened.append(osp.basename(url)), real_open(url, *a))[1])
    real_results = AVShardDataset._results
    monkeypatch.setattr(AVShardDataset, '_results', lambda self, u, s: (
        decoded.append(s['__key__']), real_results(self, u, s))[1])
    fresh = AVShardDataset(pattern, PIPE, shuffle_buffer=4, seed=2)
    fresh.set_epoch(1)
    fresh.load_progress(state)
    rest = [it['data_samples'].metainfo['shard_key'] for it in fresh]
    seen = set().union(*trained.values())
    assert sorted(rest) == sorted(set(keys) - seen)
    assert not set(opened) & set(state['done'])
    assert not set(decoded) & seen
    # the record goes on from the loaded state: the epoch ends complete
    for key in rest:
        fresh.record_trained(dict(data_samples=[_meta(pattern, key)]))
    assert fresh.progress_state()['done'] == names
    # the next epoch reads everything again
    fresh.set_epoch(2)
    assert len(list(fresh)) == 18


def _meta(pattern, key):
    from mmavcl.structures import AVDataSample
    sample = AVDataSample()
    i = int(key[1:])
    sample.set_metainfo(dict(shard=f'shard-{i // 3:06d}.tar', shard_key=key))
    return sample


@pytest.mark.parametrize('policy', ['raise', 'skip'])
@pytest.mark.parametrize('server', ['http', 's3'])
def test_server_stopped_mid_epoch(many_shards, tmp_path, monkeypatch,
                                  server, policy):
    """The server stops after the first shard: the next shard's opening is
    retried with backoff, then it is an error naming its URL ('raise') or
    a counted skip per shard ('skip'); the shortfall is known."""
    pattern, names, _ = many_shards
    root = osp.dirname(pattern)
    monkeypatch.setattr(remote, 'FETCH_RETRIES', 2)
    monkeypatch.setattr(remote, 'FETCH_BACKOFF', 0.1)
    with contextlib.ExitStack() as server_up:
        if server == 'http':
            base = server_up.enter_context(serve_directory(root))
            kw = {}
        else:
            os.symlink(root, tmp_path / 'bucket')
            endpoint = server_up.enter_context(
                serve_s3(str(tmp_path), access_key='AK'))
            base = 's3://bucket'
            kw = dict(backend_args=dict(
                endpoint_url=endpoint, aws_access_key_id='AK',
                aws_secret_access_key='x', region='us-east-1'))
        ds = AVShardDataset([f'{base}/{n}' for n in names], PIPE,
                            bad_sample_policy=policy, **kw)
        ds.set_epoch(0)
        assert len(ds) == 18  # the index, read while the server is up
        order = ds._my_shards()
        items = iter(ds)
        got = [next(items)]
        server_up.close()  # the server stops mid-epoch
        start = time.monotonic()
        if policy == 'raise':
            with pytest.raises(MediaDecodeError) as err:
                got.extend(items)
            assert err.value.filename == order[1]
            assert 'after 3 attempts' in err.value.reason
        else:
            got.extend(items)
            assert ds.num_skipped == 5
        took = time.monotonic() - start
    assert len(got) == 3  # the first shard, read before the stop
    tries = 1 if policy == 'raise' else 5
    assert tries * 0.3 <= took < tries * 0.3 + 10  # backoff 0.1 s + 0.2 s
    for item in got:
        ds.record_trained(dict(data_samples=[item['data_samples']]))
    assert ds.epoch_shortfall() == (3, 18)


def test_connection_lost_mid_shard_reads_it_again(many_shards, monkeypatch):
    """The server drops the first response of each shard after 50 kB (in
    its second sample): the shard is opened again after the backoff and
    read past the samples already handed on, so every sample comes once.
    Without retries it is an error naming the shard, after the samples
    before the cut."""
    pattern, names, keys = many_shards
    import mmengine.logging
    monkeypatch.setattr(remote, 'FETCH_BACKOFF', 0.05)
    said = []
    monkeypatch.setattr(mmengine.logging, 'print_log',
                        lambda msg, **kw: said.append(msg))
    with serve_directory(osp.dirname(pattern), drop_after=50_000) as url:
        ds = AVShardDataset([f'{url}/{n}' for n in names[:2]], PIPE)
        got = [_key(it) for it in iter(ds)]
        assert sorted(got) == [f'{k}.mp4' for k in keys[:6]]
        assert ds.num_skipped == 0
    said = [m for m in said if 'reading it again' in m]
    assert said[0].startswith(f'{url}/{names[0]}: unreadable shard in '
                              'member s001.mp4 after 1 complete sample(s)')
    assert said[0].endswith('reading it again in 0.05 s past those samples')
    assert len(said) == 2  # once per shard
    monkeypatch.setattr(remote, 'FETCH_RETRIES', 0)
    with serve_directory(osp.dirname(pattern), drop_after=50_000) as url:
        ds = AVShardDataset([f'{url}/{names[0]}'], PIPE)
        items = iter(ds)
        assert _key(next(items)) == 's000.mp4'
        with pytest.raises(MediaDecodeError) as err:
            next(items)
    assert err.value.filename == f'{url}/{names[0]}'
    assert 'after 1 complete sample(s)' in err.value.reason
    assert err.value.reason.endswith('the rest of the shard is lost')


def test_merge_progress_is_the_union_over_ranks():
    """What SafeCheckpointHook saves from 2 ranks: their progress states
    merged (ranks read disjoint shards; a done shard drops its keys)."""
    r0 = dict(epoch=2, done=['a.tar'], partial={'b.tar': ['k1']})
    r1 = dict(epoch=2, done=['c.tar'], partial={'d.tar': ['k2', 'k3'],
                                                'a.tar': ['k9']})
    assert sd.merge_progress([r0, r1]) == dict(
        epoch=2, done=['a.tar', 'c.tar'],
        partial={'b.tar': ['k1'], 'd.tar': ['k2', 'k3']})
    assert sd.merge_progress([None, None]) is None


def test_merge_progress_marks_a_shard_cut_between_ranks_done():
    """After a resume dealt by ``deal_rest`` a shard cut between two ranks
    is trained part by each: no rank reaches its count, the merge does,
    and marks it done (a resume does not list it as partly trained).
    ``b.tar`` lacks one trained key: with its third sample skipped as bad
    on rank 1 (``bad``) it is done too, the bad key kept; without (a
    progress written before bad keys were recorded) it stays partial, as
    before. A shard the index does not count stays partial.
    Before: ``a.tar`` stayed partial with all its 5 keys."""
    counts = {'a.tar': 5, 'b.tar': 3}.get
    r0 = dict(epoch=0, done=[], partial={'a.tar': ['k0', 'k1', 'k2'],
                                         'b.tar': ['k5'], 'c.tar': ['k8']},
              redealt=True)
    r1 = dict(epoch=0, done=[], partial={'a.tar': ['k0', 'k3', 'k4'],
                                         'b.tar': ['k6']}, redealt=True)
    assert sd.merge_progress([r0, r1], counts) == dict(
        epoch=0, done=['a.tar'],
        partial={'b.tar': ['k5', 'k6'], 'c.tar': ['k8']}, redealt=True)
    assert sd.merge_progress([r0, r1])['done'] == []  # no counts given
    r1['bad'] = {'b.tar': ['k7']}
    assert sd.merge_progress([r0, r1], counts) == dict(
        epoch=0, done=['a.tar', 'b.tar'], partial={'c.tar': ['k8']},
        bad={'b.tar': ['k7']}, redealt=True)


def test_deal_rest_cuts_the_samples_left_evenly():
    """The samples left, laid end to end in the shards' order, cut into
    runs of ``total // slots`` or one more: every sample once, a shard cut
    only where a run ends, shards with nothing left in no run."""
    assert sd.deal_rest(['a', 'b', 'c', 'd'], [3, 0, 5, 2], 3) == [
        [('a', 0, 3), ('c', 0, 1)], [('c', 1, 4)], [('c', 4, 5),
                                                   ('d', 0, 2)]]
    # fewer samples than slots: the last slots get none
    assert sd.deal_rest(['a'], [1], 2) == [[('a', 0, 1)], []]
    assert sd.deal_rest(['a', 'b'], [2, 2], 1) == [[('a', 0, 2),
                                                    ('b', 0, 2)]]


def test_progress_of_one_process_dealt_evenly_over_3_ranks_x_2_workers(
        many_shards, monkeypatch):
    """A progress written by 1 process (``world_size`` 1) loaded by 3
    ranks of 2 DataLoader workers: the 12 samples left of epoch 1 (order
    ``shard-000005, 1, 2, 0, 3, 4``; shard 0 done, ``s003`` of shard 1
    and ``s012``, ``s014`` of shard 4 trained) are dealt 4, 4, 4, shard 1
    cut between ranks 0 and 1; over the ranks and workers each untrained
    key comes once, and the ranks' ``epoch_shortfall`` sums to the
    epoch's 18 of 18. The same progress written by 3 processes keeps the
    epoch's own deal, unless it says it was dealt anew (``redealt``)."""
    pattern, names, keys = many_shards
    state = dict(epoch=1, done=['shard-000000.tar'],
                 partial={'shard-000001.tar': ['s003'],
                          'shard-000004.tar': ['s012', 's014']},
                 world_size=1)
    expected = [['s015', 's016', 's017', 's004'],
                ['s005', 's006', 's007', 's008'],
                ['s009', 's010', 's011', 's013']]
    seen, shortfall, states = [], [], []
    for rank in range(3):
        monkeypatch.setattr(sd, 'get_dist_info', lambda r=rank: (r, 3))
        ds = AVShardDataset(pattern, PIPE, seed=2)
        ds.set_epoch(1)
        ds.load_progress(state)
        spans = [(osp.basename(u), span) for u, _, span in ds._my_reads()]
        assert spans == [
            [('shard-000005.tar', (0, 3)), ('shard-000001.tar', (0, 1))],
            [('shard-000001.tar', (1, 2)), ('shard-000002.tar', (0, 3))],
            [('shard-000003.tar', (0, 3)), ('shard-000004.tar', (0, 1))],
        ][rank]
        # batches of 2 over 2 workers: (3, 1), (1, 3), (3, 1) samples,
        # 3 batches on every rank (1 without partial ones); 2 in 1 process
        assert (ds.redealt_batches(2, 2), ds.redealt_batches(2, 2, True),
                ds.redealt_batches(2)) == (3, 1, 2)
        got = []
        for item in DataLoader(ds, batch_size=None, num_workers=2):
            ds.record_trained(dict(data_samples=[item['data_samples']]))
            got.append(item['data_samples'].metainfo['shard_key'])
        assert sorted(got) == sorted(expected[rank])
        seen += got
        shortfall.append(ds.epoch_shortfall())
        states.append(ds.progress_state())
        assert states[-1]['redealt'] is True
    assert sorted(seen) == sorted(
        set(keys) - {f's{i:03d}' for i in (0, 1, 2, 3, 12, 14)})
    assert shortfall == [(10, 10), (4, 4), (4, 4)]  # rank 0: + the 6 before
    # shard 1, cut between ranks 0 and 1, is done by neither alone: the
    # merge by the index's counts marks every shard of the epoch done
    assert [s['partial'] for s in states[:2]] == [
        {'shard-000001.tar': ['s003', 's004'],
         'shard-000004.tar': ['s012', 's014']},
        {'shard-000001.tar': ['s003', 's005'],
         'shard-000004.tar': ['s012', 's014']}]
    assert sd.merge_progress(states, ds.shard_count) == dict(
        epoch=1, done=sorted(names), partial={}, redealt=True)

    # written by as many processes: the epoch's deal, as before
    monkeypatch.setattr(sd, 'get_dist_info', lambda: (0, 3))
    same = AVShardDataset(pattern, PIPE, seed=2)
    same.set_epoch(1)
    same.load_progress(dict(state, world_size=3))
    assert [(osp.basename(u), span) for u, _, span in same._my_reads()] \
        == [(osp.basename(u), None) for u in same._my_shards()
            if osp.basename(u) != 'shard-000000.tar']
    assert 'redealt' not in same.progress_state()
    assert same.redealt_batches(2) is None
    same.load_progress(dict(state, world_size=3, redealt=True))
    assert [span for _, _, span in same._my_reads()] == [(0, 3), (0, 1)]
