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
"""
import itertools
import json
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
    assert first[:2] == seed7_orders
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
    """The ids of epochs 0 and 1 of seed 7 through 2 workers, in order."""
    ds = _dataset(id_shards[0])
    return [_read_epoch(ds, epoch)[0] for epoch in (0, 1)]


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
    import os
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


def _ddp_resume_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVRunner`` trains epoch 0 in DDP and
    crashes before iteration 6 (the checkpoint was saved after 4); a new
    ``AVRunner`` resumes from that checkpoint and ends the epoch."""
    hooks = [dict(type='RecordDecodedIdsHook')]
    crash = [dict(type='CrashHook', at_iter=6)]
    for name, extra, resume in (('killed', crash, False),
                                ('resumed', [], True)):
        runner = T.build_runner(_ddp_cfg(
            rank, port, out, pattern, f'shard_ddp_{name}', hooks + extra,
            resume=resume, max_epochs=1))
        try:
            runner.train()
        except T.SimulatedCrash:
            assert not resume
        del runner


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
    (mmengine restarts the DataLoader at the end of each): each pass
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
    trained = [i for _, ids in T.read_decoded_ids(str(tmp_path))[0]
               for i in ids]
    passes = [trained[:22], trained[22:44]]
    assert [sorted(p) for p in passes] == [good, good]
    assert passes == seed7_orders


def test_iteration_loop_resume_replays_the_same_batches(
        id_shards, seed7_orders, tmp_path):
    """``AVIterBasedTrainLoop`` over the shards, killed after the
    checkpoint of iteration 12 (crash before 15; the first pass ended
    after iteration 11 or 12), resumed through ``AVRunner``: the resumed
    run loads and drops the first 12 batches (the dataset has no indices
    to skip, and this loop keeps no shard progress) and trains from the
    13th on; the batches trained up to the checkpoint and after the
    resume are those of an uninterrupted run, both passes in the order of
    epochs 0 and 1 of the same seed."""
    pattern, _, good = id_shards
    work = str(tmp_path / 'work')

    def cfg(hooks, resume=False):
        cfg = _cfg(work, pattern, [dict(type='RecordDecodedIdsHook')] +
                   hooks, resume=resume)
        cfg.train_cfg = dict(type='AVIterBasedTrainLoop', max_iters=25)
        return cfg

    with pytest.raises(T.SimulatedCrash):
        T.build_runner(cfg([dict(type='CrashHook', at_iter=15)])).train()
    T.build_runner(cfg([], resume=True)).train()
    batches = T.read_decoded_ids(work)[0]
    restart = max(i for i, (it, _) in enumerate(batches) if it == 13)
    kept = batches[:12] + batches[restart:]
    assert [it for it, _ in kept] == list(range(1, 26))
    trained = [i for _, ids in kept for i in ids]
    assert [trained[:22], trained[22:44]] == seed7_orders
    assert 'Resume: cannot skip the 12 batches already trained on without ' \
        'loading them' in T.log_text(work)
