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
import json
import os.path as osp

import pytest
import torch
from torch.utils.data import DataLoader

import engine_toys as T
from mmavcl.datasets import AVShardDataset, av_collate
from mmavcl.datasets.shard_dataset import split_shards
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


@pytest.fixture(scope='module')
def seed7_orders(id_shards):
    """The ids of epochs 0 and 1 of seed 7 through 2 workers, in order."""
    ds = _dataset(id_shards[0])
    return [_read_epoch(ds, epoch)[0] for epoch in (0, 1)]


def _cfg(work_dir, pattern, hooks, resume=False, by_epoch=False):
    cfg = T.toy_cfg(work_dir, max_epochs=2, ckpt_interval=1 if by_epoch
                    else 4, ckpt_by_epoch=by_epoch, custom_hooks=hooks,
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


def _ddp_rank(rank, port, pattern, out):
    """One of 2 gloo ranks: ``AVRunner`` trains 2 epochs in DDP
    (``launcher='pytorch'``, 2 DataLoader workers), then the same shards
    go through a fresh dataset and loader of the same seed for epochs 0
    and 1; writes what both read to ``rank{rank}.json``."""
    import os
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    torch.set_num_threads(1)
    cfg = _cfg(f'{out}/work', pattern, [
        dict(type='RecordDecodedIdsHook'),
        dict(type='DataReportHook', interval=1000)])
    cfg.launcher = 'pytorch'
    cfg.experiment_name = 'shard_ddp'
    runner = T.build_runner(cfg)
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
