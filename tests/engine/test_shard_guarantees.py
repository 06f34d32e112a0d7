"""What ``AVShardDataset`` promises per epoch, checked from decoded pixels:
shards of H.264 videos whose frames spell their sample id
(``mmavcl.testing.write_id_shards``), read through real DataLoaders with 2
workers, the ids read back from the batches the model gets. The shards are
uneven (7, 1, 6, 5 and 4 samples), 5 of them (not a multiple of ranks x
workers), and sample 15's video member is random bytes.

Guarantees: every good sample once per epoch over ranks x workers, a
different order each epoch, the same order for the same seed, each rank's
``len`` its share of the epoch, the bad member reported by shard and
member, mid-epoch and epoch-boundary resume through ``AVRunner`` without
a repeat or a gap, and 2 DDP ranks whose shares differ stopping together.
The same under ``AVIterBasedTrainLoop``, whose passes over the data are
the dataset's epochs: a new order each pass, a resume that goes on with
the checkpoint's pass (1 process and 2 DDP ranks), and the ranks ending
each pass together. Also there, for a map-style dataset of the same
videos: a resumed 2-rank iteration run trains the uninterrupted run's
batches with mmengine's ``InfiniteSampler`` and ``DefaultSampler``.
"""
import itertools
import json
import os
import os.path as osp
import re

import pytest
import torch
from torch.utils.data import DataLoader

import engine_toys as T
from mmavcl.datasets import AVShardDataset, av_collate
from mmavcl.datasets.shard_dataset import shard_names, split_shards
from mmavcl.testing import (decode_sample_ids, free_port, run_ranks,
                            write_id_shards)

PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=2, frame_interval=1, num_clips=1,
             mode='uniform'),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]
SIZES = (7, 1, 6, 5, 4)
BAD = 15  # in the 4th shard, ids-000003.tar (ids 14..18)
BAD_MEMBER = 'ids-000003.tar#s015.mp4'


@pytest.fixture(scope='module')
def id_shards(tmp_path_factory):
    """(pattern, shard names, good ids) of the 5 uneven shards."""
    return write_id_shards(str(tmp_path_factory.mktemp('id_shards')), SIZES,
                           bad=[BAD])


def _dataset(pattern, seed=7):
    return AVShardDataset(pattern, PIPE, shuffle_buffer=4, seed=seed,
                          audio_source='none', bad_sample_policy='skip')


def _read_epoch(ds, epoch):
    """(ids decoded from the pixels in the order batched, the skip reports
    that reached the main process) of one epoch through 2 workers."""
    ds.set_epoch(epoch)
    ids, reports = [], []
    for batch in DataLoader(ds, batch_size=2, num_workers=2,
                            collate_fn=av_collate):
        got = decode_sample_ids(batch['inputs']['video'][0])
        for sample, sample_id in zip(batch['data_samples'], got):
            # the pixels are those of the sample the metainfo names
            assert sample.metainfo['shard_key'] == f's{sample_id:03d}'
            reports += sample.metainfo.get('skipped_bad_samples', ())
        ids += got
        ds.record_trained(batch)
    return ids, reports


def test_deal_balances_the_ranks_by_samples():
    """The shipped K400 loader (240 shards of 1,000, 8 ranks x 8 workers):
    every rank reads 30 shards. Before, shards were dealt over the 64
    worker slots, so ranks 0-5 read 32 and ranks 6-7 24 (a third more
    iterations, and DDP waits), while ``len`` said 30 for each. Shards of
    different sizes: the ranks' totals differ by at most the largest."""
    urls = [f's{i}' for i in range(240)]
    shares = [sum(len(split_shards(urls, r, 8, w, 8)) for w in range(8))
              for r in range(8)]
    assert shares == [30] * 8
    sizes = dict(zip(urls, [1000] * 236 + [300, 650, 20, 999]))
    totals = [sum(sizes[u] for u in split_shards(urls, r, 8, 0, 1,
                                                  sizes.get))
              for r in range(8)]
    assert sum(totals) == sum(sizes.values())
    assert max(totals) - min(totals) <= 1000
    parts = [split_shards(urls, r, 3, w, 5, sizes.get) for r in range(3)
             for w in range(5)]
    assert sorted(sum(parts, [])) == sorted(urls)


def test_every_good_sample_once_per_epoch_in_pixels(id_shards, seed7_orders):
    """One rank, 2 workers, 3 epochs: each epoch the decoded ids are the 22
    good ids once each, the bad member is reported once by shard and
    member, and ``epoch_shortfall`` counts it; each epoch's order differs,
    and a dataset with the same seed repeats the orders."""
    pattern, _, good = id_shards

    def epochs(seed):
        ds = _dataset(pattern, seed)
        out = []
        for epoch in range(3):
            ids, reports = _read_epoch(ds, epoch)
            assert sorted(ids) == good, epoch
            assert [name.rsplit('/', 1)[1] for name, _ in reports] == \
                [BAD_MEMBER]
            assert reports[0][1].startswith('InvalidDataError')
            assert len(ds) == 23 and ds.epoch_shortfall() == (22, 23)
            out.append(ids)
        return out

    first = epochs(seed=7)
    assert len({tuple(ids) for ids in first}) == 3
    assert epochs(seed=7) == first
    assert first == seed7_orders
    assert _read_epoch(_dataset(pattern, seed=8), 0)[0] != first[0]


def test_same_file_names_in_two_folders_stay_apart(tmp_path):
    """Two datasets whose shards have the same file names
    (``ids-000000.tar`` and ``ids-000001.tar`` in ``a/`` with 3 and 2
    samples, in ``b/`` with 2 and 4), read as one: ``len`` counts each
    folder's shards by its own index (11; before, 5: the deal, keyed by
    file name, held 2 shards, counted by the first folder's index), the
    items name their shard by folder, and an epoch cut after 3 batches
    and resumed from the progress state trains every id once (before, the
    progress of ``a/ids-000000.tar`` and ``b/ids-000000.tar`` was one
    entry: the resumed run lost 2 ids). A shard listed twice is an error;
    the shards of one folder keep their file names as names (the names in
    checkpoints written before)."""
    a = write_id_shards(str(tmp_path / 'a'), (3, 2))
    b = write_id_shards(str(tmp_path / 'b'), (2, 4), first_id=5)
    assert a[1] == b[1]  # the same file names
    good = a[2] + b[2]

    def loader(ds):
        return DataLoader(ds, batch_size=2, collate_fn=av_collate)

    first, shards = [], set()
    ds = _dataset([a[0], b[0]])
    ds.set_epoch(0)
    assert len(ds) == 11
    for batch in itertools.islice(loader(ds), 3):
        ds.record_trained(batch)
        first += decode_sample_ids(batch['inputs']['video'][0])
        shards.update(s.metainfo['shard'] for s in batch['data_samples'])
    assert shards <= {f'{folder}/{name}' for folder in 'ab' for name in a[1]}
    resumed = _dataset([a[0], b[0]])
    resumed.set_epoch(0)
    resumed.load_progress(ds.progress_state())
    rest = [i for batch in loader(resumed)
            for i in decode_sample_ids(batch['inputs']['video'][0])]
    assert sorted(first + rest) == good
    twice = f'shard {tmp_path}/a/ids-000001.tar is listed twice (shards 1 ' \
        'and 2 of 3)'
    with pytest.raises(ValueError, match=re.escape(twice)):
        AVShardDataset([a[0], a[0].replace('{000000..000001}', '000001')])
    assert shard_names([f'{tmp_path}/a/{n}' for n in a[1]]) == a[1]
    # one index file for both folders: by shard name, or by file name for
    # the file names no other shard has
    index = tmp_path / 'index.json'
    for counts, shards, total in (
            ({'a/ids-000000.tar': 3, 'a/ids-000001.tar': 2,
              'b/ids-000000.tar': 2, 'b/ids-000001.tar': 4},
             [a[0], b[0]], 11),
            ({'ids-000000.tar': 3, 'ids-000001.tar': 4},
             [a[0].replace('{000000..000001}', '000000'),
              b[0].replace('{000000..000001}', '000001')], 7)):
        index.write_text(json.dumps(dict(shards=counts)))
        ds = AVShardDataset(shards, PIPE, index_file=str(index))
        ds.set_epoch(0)
        assert len(ds) == total


@pytest.fixture(scope='module')
def seed7_orders(id_shards):
    """The ids of epochs 0, 1 and 2 of seed 7 through 2 workers, in
    order."""
    ds = _dataset(id_shards[0])
    return [_read_epoch(ds, epoch)[0] for epoch in (0, 1, 2)]


def _cfg(work_dir, pattern, hooks, resume=False, by_epoch=False,
         max_epochs=2):
    cfg = T.toy_cfg(work_dir, max_epochs=max_epochs,
                    ckpt_interval=1 if by_epoch else 4,
                    ckpt_by_epoch=by_epoch, custom_hooks=hooks,
                    resume=resume)
    cfg.model = dict(type='ToyClipMean')
    cfg.train_dataloader = dict(
        dataset=dict(type='AVShardDataset', shards=pattern, pipeline=PIPE,
                     shuffle_buffer=4, seed=7, audio_source='none',
                     bad_sample_policy='skip'),
        sampler=None, batch_size=2, num_workers=2,
        collate_fn=dict(type='mmavcl.av_collate'))
    cfg.param_scheduler = []
    cfg.log_level = 'INFO'
    return cfg


@pytest.mark.parametrize('kill', ['mid-epoch', 'epoch-boundary'])
def test_resume_neither_repeats_nor_skips_in_pixels(id_shards, seed7_orders,
                                                    tmp_path, kill):
    """Killed mid-epoch (checkpoint after iteration 4, crash before 7) or
    after the epoch-end checkpoint (crash before epoch 2's first
    iteration), resumed through ``AVRunner``: over the killed and the
    resumed run each good id of each epoch is trained once, counting the
    killed run up to its checkpoint, and the bad member is named in the
    log. The epochs that were not cut are trained in the order of an
    uninterrupted pass with the same seed; the cut one in another."""
    pattern, _, good = id_shards
    work = str(tmp_path / 'work')
    hooks = [dict(type='RecordDecodedIdsHook'),
             dict(type='DataReportHook', interval=1000)]
    by_epoch = kill == 'epoch-boundary'
    crash = dict(type='CrashHook', at_epoch=1) if by_epoch else \
        dict(type='CrashHook', at_iter=7)
    killed = T.build_runner(_cfg(work, pattern, hooks + [crash],
                                 by_epoch=by_epoch))
    with pytest.raises(T.SimulatedCrash):
        killed.train()
    saved = 4  # the mid-epoch checkpoint's iteration
    del killed
    T.build_runner(_cfg(work, pattern, hooks, resume=True,
                        by_epoch=by_epoch)).train()
    lines = T.read_decoded_ids(work)
    for epoch, batches in lines.items():
        # the resumed run appends after the killed run; its first
        # iteration number is the checkpoint's + 1
        if epoch == 0 and not by_epoch:
            restart = max(i for i, (it, _) in enumerate(batches)
                          if it == saved + 1)
            batches = [b for b in batches[:restart] if b[0] <= saved] + \
                batches[restart:]
        trained = [i for _, ids in batches for i in ids]
        assert sorted(trained) == good, (epoch, trained)
        if by_epoch or epoch == 1:
            assert trained == seed7_orders[epoch]
        else:
            assert trained != seed7_orders[epoch]
    log = T.log_text(work)
    assert f'{BAD_MEMBER}: InvalidDataError' in log


def _ddp_cfg(rank, port, out, pattern, name, hooks, **kwargs):
    """The config of :func:`_cfg` for rank ``rank`` of 2 gloo ranks
    (``launcher='pytorch'``, 2 DataLoader workers), as experiment
    ``name``."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    torch.set_num_threads(1)
    cfg = _cfg(f'{out}/work', pattern, hooks, **kwargs)
    cfg.launcher = 'pytorch'
    cfg.experiment_name = name
    return cfg


def _ddp_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVRunner`` trains 2 epochs in DDP, then
    the same shards go through a fresh dataset and loader of the same seed
    for epochs 0 and 1; writes what both read to ``rank{rank}.json``."""
    runner = T.build_runner(_ddp_cfg(
        rank, port, out, pattern, 'shard_ddp',
        [dict(type='RecordDecodedIdsHook'),
         dict(type='DataReportHook', interval=1000)]))
    runner.train()
    ds = _dataset(pattern)
    epochs = []
    for epoch in (0, 1):
        ids, reports = _read_epoch(ds, epoch)
        epochs.append(dict(ids=ids, len=len(ds), reports=reports,
                           share=ds.epoch_shortfall()[1]))
    # a resumed epoch: the progress of both ranks (here: every shard done)
    # counts on each rank for its own shards only
    ds.set_epoch(1)
    ds.load_progress(dict(epoch=1, done=sorted(ds.index['shards']),
                          partial={}))
    epochs.append(ds.epoch_shortfall())
    try:
        AVShardDataset(pattern.replace('{000000..000004}', '000000'),
                       PIPE).set_epoch(0)
    except ValueError as err:
        epochs.append(str(err))
    with open(osp.join(out, f'rank{rank}.json'), 'w') as f:
        json.dump(epochs, f)


def test_two_ddp_ranks_split_stop_together_and_report(id_shards, tmp_path):
    """2 gloo ranks x 2 DataLoader workers. The dataset alone: each epoch
    the ranks' decoded ids are the good ids once, each rank's share (by
    the index) is what it read plus what it skipped, the shares differ by
    at most a shard, and ``len`` is the smaller share on both ranks.
    Through ``AVRunner`` in DDP: epoch 2's shares give 7 and 5
    batches, and both ranks stop after 5 (before, the rank left alone
    with data waited in DDP's all-reduce for the other, which had gone on
    to the epoch end's collectives: the run hung); no id is trained twice,
    each rank's batches are those of the same seed's loader, and rank 0's
    log counts the samples of both ranks that were not trained. One shard
    for the 2 ranks is an error at ``set_epoch``."""
    pattern, _, good = id_shards
    run_ranks(_ddp_rank, (free_port(), pattern, str(tmp_path)))
    alone = [json.load(open(tmp_path / f'rank{r}.json')) for r in (0, 1)]
    trained = [T.read_decoded_ids(str(tmp_path / 'work'), r) for r in (0, 1)]
    log = T.log_text(str(tmp_path / 'work'))
    iterations = []
    for epoch in (0, 1):
        ranks = [a[epoch] for a in alone]
        assert sorted(ranks[0]['ids'] + ranks[1]['ids']) == good
        for got in ranks:
            assert got['share'] == len(got['ids']) + len(got['reports'])
        shares = [r['share'] for r in ranks]
        assert sum(shares) == 23 and abs(shares[0] - shares[1]) <= 7
        # mmengine's iterations per epoch: the same on both ranks
        assert ranks[0]['len'] == ranks[1]['len'] == min(shares)
        assert sum(len(r['reports']) for r in ranks) == 1
        per_rank = [[i for _, ids in t[epoch] for i in ids] for t in trained]
        iterations.append([len(t[epoch]) for t in trained])
        for ids, got in zip(per_rank, ranks):
            assert ids == got['ids'][:len(ids)]  # same seed, same batches
        both = per_rank[0] + per_rank[1]
        assert len(set(both)) == len(both) and set(both) <= set(good)
        if len(both) < 23:
            assert f'Epoch {epoch + 1} trained on {len(both)} of the 23 ' \
                'samples the shard index lists for the 2 ranks' in log
    assert iterations == [[6, 6], [5, 5]]
    # after a resume each rank counts its own shards of the merged progress
    assert [a[2] for a in alone] == [[a[1]['share']] * 2 for a in alone]
    # fewer shards than ranks: nothing could train, said before a read
    assert alone[0][3] == alone[1][3]
    assert alone[0][3].startswith('1 shard(s) for 2 ranks: a rank would '
                                  'read none')
    assert f'{BAD_MEMBER}: InvalidDataError' in log


def _train(cfg, resume):
    """Train ``cfg`` through ``AVRunner`` until it ends or a ``CrashHook``
    crashes it; a resumed run must not crash. The runner is gone after."""
    runner = T.build_runner(cfg)
    try:
        runner.train()
    except T.SimulatedCrash:
        assert not resume


def _ddp_resume_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVRunner`` trains epoch 0 in DDP and
    crashes before iteration 6 (the checkpoint was saved after 4); a new
    ``AVRunner`` resumes from that checkpoint and ends the epoch."""
    hooks = [dict(type='RecordDecodedIdsHook')]
    crash = [dict(type='CrashHook', at_iter=6)]
    for name, extra, resume in (('killed', crash, False),
                                ('resumed', [], True)):
        _train(_ddp_cfg(rank, port, out, pattern, f'shard_ddp_{name}',
                        hooks + extra, resume=resume, max_epochs=1), resume)


def test_two_ddp_ranks_resume_mid_epoch_in_pixels(id_shards, tmp_path):
    """2 gloo ranks x 2 workers, killed mid-epoch (checkpoint after
    iteration 4, crash before 6), resumed through ``AVRunner``: over both
    ranks, the ids decoded from the batches trained up to the checkpoint
    and after the resume are each good id of the epoch once. Iteration 5
    of the killed run came after the checkpoint: its samples are trained
    again (documented)."""
    pattern, _, good = id_shards
    run_ranks(_ddp_resume_rank, (free_port(), pattern, str(tmp_path)))
    saved = 4
    trained, again = [], []
    for rank in (0, 1):
        batches = T.read_decoded_ids(str(tmp_path / 'work'), rank)[0]
        # the resumed run's first iteration is the checkpoint's + 1
        restart = max(i for i, (it, _) in enumerate(batches)
                      if it == saved + 1)
        assert [it for it, _ in batches[:restart]] == [1, 2, 3, 4, 5]
        for i, (it, ids) in enumerate(batches):
            (again if i < restart and it > saved else trained).extend(ids)
    assert sorted(trained) == good
    assert 0 < len(again) <= 4 and set(again) <= set(good)


def test_iteration_loop_reshuffles_every_pass(id_shards, seed7_orders,
                                              tmp_path):
    """``AVIterBasedTrainLoop`` over the shards for two passes and a bit
    (the loop restarts the DataLoader at the end of each): each pass
    trains the good ids once, the second in the order of epoch 1 of the
    same seed. Before, mmengine told the new pass to the sampler only,
    which the dataset does not read: every pass repeated the first's
    batches."""
    pattern, _, good = id_shards
    cfg = _cfg(str(tmp_path), pattern, [dict(type='RecordDecodedIdsHook')])
    cfg.train_cfg = dict(type='AVIterBasedTrainLoop', max_iters=25)
    cfg.default_hooks.checkpoint = dict(type='SafeCheckpointHook',
                                        interval=100)
    T.build_runner(cfg).train()
    passes = T.read_decoded_ids(str(tmp_path))
    trained = [[i for _, ids in passes[p] for i in ids] for p in (0, 1)]
    assert [sorted(p) for p in trained] == [good, good]
    assert trained == seed7_orders[:2]
    assert sorted(passes) == [0, 1, 2]


def _iteration_cfg(work, pattern, hooks, resume=False, max_iters=30):
    """:func:`_cfg` with ``AVIterBasedTrainLoop`` and persistent workers
    (the loop starts them when it is built, before the resume)."""
    cfg = _cfg(work, pattern, [dict(type='RecordDecodedIdsHook')] + hooks,
               resume=resume)
    cfg.train_cfg = dict(type='AVIterBasedTrainLoop', max_iters=max_iters)
    cfg.train_dataloader.persistent_workers = True
    return cfg


def _kept(work, saved, rank=0):
    """``[(iteration, pass, ids)]`` that :class:`RecordDecodedIdsHook`
    wrote for ``rank`` in a killed run up to its checkpoint of iteration
    ``saved``, then in the run resumed from it (appended after the killed
    run's lines; its first iteration is ``saved + 1`` again)."""
    with open(osp.join(work, f'ids{rank}.txt')) as f:
        lines = [ln.strip().split(':') for ln in f]
    batches = [(int(it), int(p), [int(i) for i in ids.split(',')])
               for p, it, ids in lines]
    restart = max(i for i, (it, _, _) in enumerate(batches)
                  if it == saved + 1)
    return [b for b in batches[:restart] if b[0] <= saved] + \
        batches[restart:]


def _by_pass(batches, passes):
    """The ids of each pass in ``passes``, in the order trained."""
    return [[i for _, p, ids in batches if p == pass_ for i in ids]
            for pass_ in passes]


def test_iteration_loop_resume_goes_on_with_the_pass(
        id_shards, seed7_orders, tmp_path):
    """``AVIterBasedTrainLoop`` over the shards (2 persistent workers,
    shuffle buffer of 4), killed after the checkpoint of iteration 16 (in
    the second pass; crash before 19), resumed through ``AVRunner``: the
    checkpoint holds what the second pass trained on, and the resumed run
    trains on the rest of that pass, each good id once over the killed and
    the resumed run (the workers the loop started when it was built, before
    the resume, are replaced by workers that hold the progress), then the
    third pass in the order of epoch 2 of the same seed. Before, the
    checkpoint's progress was empty and the resumed run loaded, decoded
    and dropped the 16 batches trained since the first pass began. A
    checkpoint of that kind (its progress emptied here) still resumes, as
    before, and the log says what it cannot restore."""
    import shutil
    pattern, _, good = id_shards
    work, old = str(tmp_path / 'work'), str(tmp_path / 'old')
    saved = 16
    with pytest.raises(T.SimulatedCrash):
        T.build_runner(_iteration_cfg(
            work, pattern, [dict(type='CrashHook', at_iter=19)])).train()
    killed = T.read_decoded_ids(work)
    ck = torch.load(osp.join(work, f'iter_{saved}.pth'), weights_only=False)
    progress = ck['meta']['mmavcl_resume']['data_progress']
    before = [i for it, ids in killed[1] if it <= saved for i in ids]
    assert progress['epoch'] == 1 and before
    # the checkpoint names exactly the samples the pass trained on (keys
    # s{id:03d}; a done shard by its name: every id of it)
    first = dict(zip(id_shards[1], itertools.accumulate((0,) + SIZES)))
    recorded = {int(k[1:]) for keys in progress['partial'].values()
                for k in keys}
    recorded |= {i for name in progress['done']
                 for i in range(first[name], first[name] + SIZES[
                     id_shards[1].index(name)])}
    assert recorded == set(before)

    # the old kind of checkpoint: no record of what the pass trained on
    shutil.copytree(work, old)
    ck['meta']['mmavcl_resume']['data_progress'] = dict(
        epoch=1, done=[], partial={})
    torch.save(ck, osp.join(old, f'iter_{saved}.pth'))
    with open(osp.join(old, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(old, f'iter_{saved}.pth'))

    for run in (work, old):
        T.build_runner(_iteration_cfg(run, pattern, [], resume=True)).train()
    kept = _kept(work, saved)
    assert [it for it, _, _ in kept] == list(range(1, 31))
    trained = _by_pass(kept, (0, 1, 2))
    assert trained[0] == seed7_orders[0]
    assert sorted(trained[1]) == good
    # up to the checkpoint the uninterrupted order; after it another (the
    # shuffle buffers start empty)
    assert trained[1][:len(before)] == seed7_orders[1][:len(before)]
    assert trained[1] != seed7_orders[1]
    assert trained[2] == seed7_orders[2][:len(trained[2])]
    log = T.log_text(work)
    assert f'Resume: {len(progress["done"])} shard(s) of pass 2 over the ' \
        'data were fully trained on' in log
    assert 'loading and dropping' not in log

    replayed = [i for _, _, ids in _kept(old, saved) for i in ids]
    assert replayed[:44] == seed7_orders[0] + seed7_orders[1]
    log = T.log_text(old)
    assert 'Resume: the checkpoint holds no record of what pass 2 over ' \
        'the data trained on' in log
    assert f'Resume: cannot skip the {saved} batches already trained on ' \
        'without loading them' in log


def _ddp_iteration_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVRunner`` with ``AVIterBasedTrainLoop``
    over the shards (2 workers) crashes before iteration 10 (the
    checkpoint was saved after 8, in the second pass); a new ``AVRunner``
    resumes from it up to iteration 16. Then a fresh dataset of the same
    seed reads this rank's share of epochs 0 to 2 (``alone{rank}.json``)."""
    for name, extra, resume in (
            ('killed', [dict(type='CrashHook', at_iter=10)], False),
            ('resumed', [], True)):
        cfg = _ddp_cfg(rank, port, out, pattern, f'shard_iter_{name}',
                       [dict(type='RecordDecodedIdsHook')] + extra,
                       resume=resume)
        cfg.train_cfg = dict(type='AVIterBasedTrainLoop', max_iters=16)
        _train(cfg, resume)
    ds = _dataset(pattern)
    with open(osp.join(out, f'alone{rank}.json'), 'w') as f:
        json.dump([_read_epoch(ds, epoch)[0] for epoch in (0, 1, 2)], f)


def test_two_ddp_ranks_iteration_loop_resume_in_pixels(id_shards, tmp_path):
    """2 gloo ranks x 2 workers, ``AVIterBasedTrainLoop`` over the uneven
    shards, killed after the checkpoint of iteration 8 (in the second pass;
    crash before 10), resumed through ``AVRunner``: both ranks are in the
    same pass at every iteration (a pass ends on every rank when the first
    one's share runs out: the second pass's shares give 7 and 5 batches);
    over the killed run up to its checkpoint and the resumed run no id is
    trained twice in a pass, the second pass goes on after the resume
    without the samples either rank trained before it, and the passes that
    were not cut are each rank's share of the same seed's epochs, in their
    order. Before, the resumed run loaded and dropped the 8 batches, and
    each rank began its next pass alone when its own share ran out (the
    ranks' passes drifted apart, and a checkpoint's progress, merged over
    the ranks, would have mixed two passes)."""
    pattern, _, good = id_shards
    saved = 8
    run_ranks(_ddp_iteration_rank, (free_port(), pattern, str(tmp_path)))
    work = str(tmp_path / 'work')
    kept = [_kept(work, saved, rank) for rank in (0, 1)]
    alone = [json.load(open(tmp_path / f'alone{r}.json')) for r in (0, 1)]
    assert [[(it, p) for it, p, _ in k] for k in kept] == \
        [[(it, p) for it, p, _ in kept[0]]] * 2
    assert [it for it, _, _ in kept[0]] == list(range(1, 17))
    passes = sorted({p for _, p, _ in kept[0]})
    assert passes == [0, 1, 2]
    trained = [_by_pass(k, passes) for k in kept]
    for pass_ in passes:
        both = trained[0][pass_] + trained[1][pass_]
        assert len(set(both)) == len(both) and set(both) <= set(good)
    for rank in (0, 1):
        mine, same_seed = trained[rank], alone[rank]
        assert mine[0] == same_seed[0][:len(mine[0])]
        assert mine[2] == same_seed[2][:len(mine[2])]
        before = [i for it, p, ids in kept[rank] if p == 1 and it <= saved
                  for i in ids]
        assert before and mine[1][:len(before)] == same_seed[1][:len(before)]
    ck = torch.load(osp.join(work, f'iter_{saved}.pth'), weights_only=False)
    progress = ck['meta']['mmavcl_resume']['data_progress']
    assert progress['epoch'] == 1
    log = T.log_text(work)
    assert f'Resume: {len(progress["done"])} shard(s) of pass 2 over the ' \
        'data were fully trained on' in log
    assert 'loading and dropping' not in log
    # the pass ends count what was not trained, over both ranks (the bad
    # sample, and the second pass's batches of the longer share)
    short = re.findall(r'Pass (\d) over the data trained on (\d+) of the 23 '
                       r'samples the shard index lists for the 2 ranks', log)
    assert sorted(short) == [('1', '22'), ('2', '20')]


def _ddp_map_style_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVIterBasedTrainLoop`` over a map-style
    ``AVVideoDataset`` of the id videos (1 worker), with mmengine's
    ``InfiniteSampler`` and ``DefaultSampler``: a run that saves a
    checkpoint after iteration 8 and crashes before 14, then a run resumed
    from that checkpoint up to iteration 14."""
    videos = osp.join(osp.dirname(pattern), '.videos')
    ann = osp.join(out, 'list.txt')
    with open(ann, 'w') as f:
        f.writelines(f'{name} 0\n' for name in sorted(os.listdir(videos)))
    for sampler in ('InfiniteSampler', 'DefaultSampler'):
        for extra, resume in (([dict(type='CrashHook', at_iter=14)], False),
                              ([], True)):
            cfg = _ddp_cfg(rank, port, out, pattern,
                           f'map_{sampler}_{resume}',
                           [dict(type='RecordDecodedIdsHook')] + extra,
                           resume=resume)
            cfg.work_dir = osp.join(out, sampler)
            cfg.default_hooks.checkpoint.interval = 8
            cfg.train_cfg = dict(type='AVIterBasedTrainLoop', max_iters=14)
            loader = cfg.train_dataloader
            loader.dataset = dict(
                type='AVVideoDataset', ann_file=ann,
                data_prefix=dict(video=videos), pipeline=PIPE,
                audio_source='none')
            loader.sampler = dict(type=sampler, shuffle=True)
            loader.num_workers = 1
            _train(cfg, resume)


def test_two_ddp_ranks_map_style_iteration_resume_in_pixels(id_shards,
                                                             tmp_path):
    """2 gloo ranks, ``AVIterBasedTrainLoop`` over a map-style dataset (the
    22 good id videos, 11 a rank: ``DefaultSampler`` pads each rank's pass
    to 6 batches), with ``InfiniteSampler`` and ``DefaultSampler``: a run
    killed before iteration 14 is, up to then, the uninterrupted run; the
    run resumed from its checkpoint of iteration 8 (in the second pass of
    the finite sampler) trains, on each rank, the batches the killed run
    trained at iterations 9-13 (ids decoded from the pixels), into the
    third pass."""
    pattern = id_shards[0]
    run_ranks(_ddp_map_style_rank, (free_port(), pattern, str(tmp_path)))
    for sampler in ('InfiniteSampler', 'DefaultSampler'):
        work = str(tmp_path / sampler)
        first_pass = []
        for rank in (0, 1):
            batches = T.read_decoded_ids(work, rank)[0]
            killed, resumed = batches[:13], batches[13:]
            assert [it for it, _ in killed] == list(range(1, 14))
            assert [it for it, _ in resumed] == list(range(9, 15))
            assert resumed[:5] == killed[8:], (sampler, rank)
            first_pass += [i for _, ids in killed[:6] for i in ids]
        assert set(first_pass) == set(id_shards[2])
