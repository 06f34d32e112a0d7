"""Resuming with another number of processes (and batch size) goes on at
the exact sample position, checked from decoded pixels: 22 H.264 videos
whose frames spell their ids (``mmavcl.testing.write_id_shards``), trained
through ``AVRunner`` on 2 gloo ranks and in 1 process.

The rule (docs/reliability.md): the processes of a run take the epoch's
global order (``DefaultSampler``: ``randperm(seed + epoch)``, padded; rank
``r`` of ``W`` takes ``[r::W]``), so after ``N`` iterations of ``B`` a
process they have trained on its first ``N x B x W`` indices; a run with
``W'`` processes of ``B'`` deals the rest of that order over its own
(``rest[r::W']``). Every leg below crashes right after a checkpoint, so
what a killed run trained is what its checkpoint counts.
"""
import os
import os.path as osp
import re

import pytest
import torch

import engine_toys as T
from mmavcl.datasets import shard_dataset as sd
from mmavcl.testing import free_port, run_ranks, write_id_shards

PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=2, frame_interval=1, num_clips=1,
             mode='uniform'),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]
SIZES = (6, 5, 6, 5)  # shards: 22 samples, 11 for each of 2 ranks
GOOD = list(range(22))


def _cfg(work, data, leg, *, by_epoch, batch_size, ckpt, crash=None,
         shuffle=True, shards=False, max_epochs=2, max_iters=14,
         load_from=None, sampler='DefaultSampler'):
    """An ``AVRunner`` config training ``ToyClipMean`` on the id videos
    (``AVVideoDataset`` with ``sampler``, or with ``shards`` the
    ``AVShardDataset`` of them), no DataLoader workers, a checkpoint every
    ``ckpt`` iterations, a crash before iteration ``crash``, resumed from
    ``load_from`` when given. ``leg`` names the run (the same on every
    rank)."""
    hooks = [dict(type='RecordDecodedIdsHook')]
    if crash:
        hooks.append(dict(type='CrashHook', at_iter=crash))
    cfg = T.toy_cfg(work, by_epoch=by_epoch, max_epochs=max_epochs,
                    max_iters=max_iters, ckpt_interval=ckpt,
                    custom_hooks=hooks)
    cfg.model = dict(type='ToyClipMean')
    cfg.param_scheduler = []
    cfg.log_level = 'INFO'
    cfg.experiment_name = leg
    if shards:
        dataset = dict(type='AVShardDataset', shards=data['shards'],
                       pipeline=PIPE, shuffle_buffer=1, seed=7,
                       audio_source='none')
        sampler = None
    else:
        dataset = dict(type='AVVideoDataset', ann_file=data['ann'],
                       data_prefix=dict(video=data['videos']),
                       pipeline=PIPE, audio_source='none')
        sampler = dict(type=sampler, shuffle=shuffle)
    cfg.train_dataloader = dict(dataset=dataset, sampler=sampler,
                                batch_size=batch_size, num_workers=0,
                                collate_fn=dict(type='mmavcl.av_collate'))
    if load_from:
        cfg.load_from, cfg.resume = load_from, True
    return cfg


def _train(cfg, saved_by=None):
    """Train ``cfg`` until it ends or its ``CrashHook`` crashes it;
    ``saved_by``: the processes of the checkpoint a resume in this process
    (1) loads, whose RNG states it cannot restore."""
    if saved_by:
        with pytest.warns(UserWarning, match=f'saved by {saved_by} process'
                          r'\(es\), this run has 1: RNG states are not'):
            return _train(cfg)
    runner = T.build_runner(cfg)
    try:
        runner.train()
    except T.SimulatedCrash:
        assert any(h.get('type') == 'CrashHook' for h in cfg.custom_hooks)


# each leg's arguments of _cfg
EPOCH_KILLED = dict(by_epoch=True, batch_size=2, ckpt=3, crash=4)
EPOCH_RESUMED = dict(by_epoch=True, batch_size=3, ckpt=100)
ITER_KILLED = dict(by_epoch=False, batch_size=3, ckpt=3, crash=4,
                   shuffle=False)
ITER_RESUMED = dict(by_epoch=False, batch_size=2, ckpt=4, crash=13,
                    shuffle=False)
ITER_AGAIN = dict(by_epoch=False, batch_size=2, ckpt=100, shuffle=False,
                  max_iters=13)
INF_KILLED = dict(by_epoch=False, batch_size=2, ckpt=3, crash=4,
                  sampler='InfiniteSampler')
INF_RESUMED = dict(by_epoch=False, batch_size=2, ckpt=100, max_iters=9,
                   sampler='InfiniteSampler')
SHARD_KILLED = dict(by_epoch=True, batch_size=2, ckpt=3, crash=4,
                    shards=True, max_epochs=1)
SHARD_RESUMED = dict(by_epoch=True, batch_size=2, ckpt=100, shards=True,
                     max_epochs=1)
SHARD_ITER_KILLED = dict(by_epoch=False, batch_size=2, ckpt=3, crash=4,
                         shards=True, max_iters=7)
SHARD_ITER_RESUMED = dict(by_epoch=False, batch_size=2, ckpt=100,
                          shards=True, max_iters=7)


def _two_ranks(rank, port, data, out):
    """One of 2 gloo ranks: the 2-process legs."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    torch.set_num_threads(1)
    for leg, kwargs, load_from in (
            ('epoch_killed', EPOCH_KILLED, None),
            ('shard_killed', SHARD_KILLED, None),
            ('inf_killed', INF_KILLED, None),
            ('iter_resumed', ITER_RESUMED,
             osp.join(out, 'iter_killed', 'iter_3.pth')),
            ('shard_one_resumed', SHARD_RESUMED,
             osp.join(out, 'shard_one_killed', 'iter_3.pth')),
            ('shard_iter_resumed', SHARD_ITER_RESUMED,
             osp.join(out, 'shard_iter_killed', 'iter_3.pth'))):
        cfg = _cfg(osp.join(out, leg), data, leg, load_from=load_from,
                   **kwargs)
        cfg.launcher = 'pytorch'
        _train(cfg)


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """The id videos and shards, the 1-process run the 2 ranks resume,
    then the 2-rank legs; returns ``(data, out dir)``."""
    root = tmp_path_factory.mktemp('world_size')
    pattern, _, good = write_id_shards(str(root / 'shards'), SIZES)
    assert good == GOOD
    videos = str(root / 'shards' / '.videos')
    ann = str(root / 'list.txt')
    with open(ann, 'w') as f:
        f.writelines(f'{i}.mp4 0\n' for i in GOOD)
    data = dict(shards=pattern, videos=videos, ann=ann)
    out = str(root / 'runs')
    _train(_cfg(osp.join(out, 'iter_killed'), data, 'iter_killed',
                **ITER_KILLED))
    _train(_cfg(osp.join(out, 'shard_one_killed'), data, 'shard_one_killed',
                **SHARD_KILLED))
    _train(_cfg(osp.join(out, 'shard_iter_killed'), data,
                'shard_iter_killed', **SHARD_ITER_KILLED))
    run_ranks(_two_ranks, (free_port(), data, out))
    return data, out


def _ids(work, rank=0):
    """``[(iteration, [ids])]`` a run in ``work`` trained on ``rank``."""
    return [b for batches in T.read_decoded_ids(work, rank).values()
            for b in batches]


def _logged_batches(log):
    """``[(epoch, batch index + 1, len(dataloader))]`` of mmengine's
    ``Epoch(train) [1][ 3/6]`` lines (the batch index hooks saw)."""
    return [tuple(map(int, m)) for m in re.findall(
        r'Epoch\(train\) \[(\d+)\]\[ *(\d+)/(\d+)\]', log)]


def _resume_state(path):
    return torch.load(path, weights_only=False)['meta']['mmavcl_resume']


def test_two_ranks_resumed_by_one_process_with_another_batch(runs):
    """``AVEpochBasedTrainLoop``, shuffled ``DefaultSampler``: 2 ranks of
    batch 2 checkpoint after iteration 3 of epoch 1 (12 of its 22 samples
    trained: the first 12 of the epoch's order, interleaved over the
    ranks) and crash; 1 process of batch 3 resumes. It trains, decoded
    from the pixels, exactly the other 10 of the epoch, each once, in the
    order's sequence (4 batches, the last of 1: the last 4 of its epoch of
    8), then epoch 2 whole in its own order. Before, it skipped 3 batches
    of 3 (9 indices) of the order: the 10th to 12th were trained
    again."""
    data, out = runs
    killed = osp.join(out, 'epoch_killed')
    state = _resume_state(osp.join(killed, 'iter_3.pth'))
    assert state['world_size'] == 2
    assert state['sample_position'] == dict(epoch=0, consumed=12,
                                            batch_size=2)
    ranks = [_ids(killed, r) for r in (0, 1)]
    assert [[it for it, _ in r] for r in ranks] == [[1, 2, 3]] * 2
    seed = state['sampler_seed']
    order = torch.randperm(22, generator=torch.Generator().manual_seed(
        seed)).tolist()
    # rank r took order[r::2]: the 2 ranks' first 12 are order[:12]
    for r in (0, 1):
        assert [i for _, ids in ranks[r] for i in ids] == order[r:12:2]
    before = [i for r in ranks for _, ids in r for i in ids]
    assert sorted(before) == sorted(order[:12])

    work = osp.join(out, 'epoch_resumed')
    _train(_cfg(work, data, 'epoch_resumed',
                load_from=osp.join(killed, 'iter_3.pth'), **EPOCH_RESUMED),
           saved_by=2)
    epochs = T.read_decoded_ids(work)
    rest = [i for _, ids in epochs[0] for i in ids]
    assert [it for it, _ in epochs[0]] == [4, 5, 6, 7]
    assert [len(ids) for _, ids in epochs[0]] == [3, 3, 3, 1]
    assert sorted(before + rest) == GOOD
    assert rest == order[12:]
    second = torch.randperm(22, generator=torch.Generator().manual_seed(
        seed + 1)).tolist()
    assert [i for _, ids in epochs[1] for i in ids] == second
    log = T.log_text(work)
    assert "Resume: the checkpoint was written by 2 process(es) taking 2 " \
        "sample(s) each per iteration, this run has 1 taking 3: of epoch " \
        "1's order the first 12 were trained on" in log
    assert 'not exact' not in log


def test_one_process_resumed_by_two_ranks_then_by_one(runs):
    """``AVIterBasedTrainLoop``, ``DefaultSampler`` without shuffle
    (the order is ``0..21`` every pass): 1 process of batch 3 checkpoints
    after iteration 3 (samples 0-8) and crashes; 2 ranks of batch 2 resume
    from it: the rest of the pass, 9-21, padded to an even count with the
    pass's first sample (0, as ``DefaultSampler`` pads), dealt over them
    (9, 11, .. 21 on rank 0; 10, 12, .. 20, 0 on rank 1; 4 iterations),
    then the next pass from its start, and checkpoint after iteration 12,
    5 iterations into that pass (its samples 0-19 trained); 1 process of
    batch 2 resumes from that: 20-21. Each pass has every sample once over
    the runs, decoded from the pixels, but the one padding sample. Before,
    the 2 ranks skipped 3 batches of 2 of their own shares (samples 0-11
    of the pass) and trained only 12-21 of it: 9-11 were never trained in
    that pass."""
    data, out = runs
    killed = osp.join(out, 'iter_killed')
    first = [i for _, ids in _ids(killed) for i in ids]
    assert first == list(range(9))
    resumed = osp.join(out, 'iter_resumed')
    ranks = [_ids(resumed, r) for r in (0, 1)]
    for r in (0, 1):
        assert [it for it, _ in ranks[r]] == list(range(4, 13))
        assert [i for _, ids in ranks[r][4:] for i in ids] == \
            list(range(r, 20, 2))
    assert [i for _, ids in ranks[0][:4] for i in ids] == \
        list(range(9, 22, 2))
    assert [i for _, ids in ranks[1][:4] for i in ids] == \
        list(range(10, 22, 2)) + [0]
    assert _resume_state(osp.join(resumed, 'iter_8.pth'))[
        'sample_position'] == dict(epoch=1, consumed=4, batch_size=2)
    state = _resume_state(osp.join(resumed, 'iter_12.pth'))
    assert state['world_size'] == 2
    assert state['sample_position'] == dict(epoch=1, consumed=20,
                                            batch_size=2)
    assert "of pass 1's order the first 9 were trained on, and the 2 " \
        "process(es) share the other 13 of its 22 samples and 1 padding " \
        "sample(s)" in T.log_text(resumed)

    again = osp.join(out, 'iter_again')
    _train(_cfg(again, data, 'iter_again', **ITER_AGAIN,
                load_from=osp.join(resumed, 'iter_12.pth')), saved_by=2)
    last = _ids(again)
    assert last == [(13, [20, 21])]
    passes = [first, []]
    for r in (0, 1):
        passes[0] += [i for _, ids in ranks[r][:4] for i in ids]
        passes[1] += [i for _, ids in ranks[r][4:] for i in ids]
    passes[1] += [i for _, ids in last for i in ids]
    assert sorted(passes[0]) == sorted(GOOD + [0])
    assert sorted(passes[1]) == GOOD
    assert "of pass 2's order the first 20 were trained on, and the 1 " \
        "process(es) share the other 2 of its 22 samples" in \
        T.log_text(again)


def test_shards_of_two_ranks_resumed_by_one_process(runs):
    """``AVShardDataset`` (4 shards, 11 samples a rank), 2 ranks of batch
    2 checkpoint after iteration 3 (12 samples) and crash; 1 process
    resumes: it reads every shard, the 2 ranks' included, without the
    samples the checkpoint's progress (merged over the ranks, by shard
    and sample key) names, so the epoch's 22 ids, decoded, are each
    trained once over the runs. Nothing in the progress depends on the
    number of processes: this was already so, checked here."""
    data, out = runs
    killed = osp.join(out, 'shard_killed')
    before = [i for r in (0, 1) for _, ids in _ids(killed, r) for i in ids]
    assert len(before) == 12
    work = osp.join(out, 'shard_resumed')
    _train(_cfg(work, data, 'shard_resumed', **SHARD_RESUMED,
                load_from=osp.join(killed, 'iter_3.pth')), saved_by=2)
    rest = [i for _, ids in _ids(work) for i in ids]
    assert sorted(before + rest) == GOOD
    log = T.log_text(work)
    assert 'shard(s) of this epoch were fully trained on' in log
    assert 'not exact' not in log


def test_infinite_sampler_of_two_ranks_resumed_by_one_process(runs):
    """``AVIterBasedTrainLoop`` with mmengine's ``InfiniteSampler``
    (one stream of ``randperm`` after ``randperm`` of its seed; rank ``r``
    of 2 takes every other index from ``r``): 2 ranks of batch 2
    checkpoint after iteration 3 (the stream's first 12 trained) and
    crash; 1 process resumes and trains, decoded from the pixels, the
    stream from its 13th index on: the rest of the first permutation,
    then the second's start."""
    data, out = runs
    killed = osp.join(out, 'inf_killed')
    state = _resume_state(osp.join(killed, 'iter_3.pth'))
    assert state['sample_position'] == dict(epoch=0, consumed=12,
                                            batch_size=2)
    gen = torch.Generator().manual_seed(state['sampler_seed'])
    stream = torch.randperm(22, generator=gen).tolist() + \
        torch.randperm(22, generator=gen).tolist()
    for r in (0, 1):
        assert [i for _, ids in _ids(killed, r) for i in ids] == \
            stream[r:12:2]
    work = osp.join(out, 'inf_resumed')
    _train(_cfg(work, data, 'inf_resumed', **INF_RESUMED,
                load_from=osp.join(killed, 'iter_3.pth')), saved_by=2)
    resumed = _ids(work)
    assert [it for it, _ in resumed] == [4, 5, 6, 7, 8, 9]
    assert [i for _, ids in resumed for i in ids] == stream[12:24]
    assert "of the infinite sampler's global stream the first 12 were " \
        'trained on' in T.log_text(work)


def test_checkpoint_without_a_sample_position_says_it_is_not_exact(runs):
    """The 2 ranks' checkpoint of the first test with its
    ``sample_position`` removed (as mmavcl wrote them before), resumed by
    1 process of batch 3: the batches done are skipped by the new batch
    size, as before (the 10th-12th samples of the order, trained by the
    ranks, are trained again), and the log says the position is not
    exact."""
    data, out = runs
    ck = torch.load(osp.join(out, 'epoch_killed', 'iter_3.pth'),
                    weights_only=False)
    del ck['meta']['mmavcl_resume']['sample_position']
    old = osp.join(out, 'old_iter_3.pth')
    torch.save(ck, old)
    work = osp.join(out, 'old_resumed')
    _train(_cfg(work, data, 'old_resumed', load_from=old,
                **dict(EPOCH_RESUMED, max_epochs=1)), saved_by=2)
    order = torch.randperm(22, generator=torch.Generator().manual_seed(
        ck['meta']['mmavcl_resume']['sampler_seed'])).tolist()
    assert [i for _, ids in _ids(work) for i in ids] == order[9:]
    assert 'Resume: the checkpoint was written by 2 process(es), this run ' \
        'has 1, and it has no sample position (written by an older ' \
        'mmavcl): the batches already trained on are skipped by the ' \
        'iteration count, so the sample position is not exact.' in \
        T.log_text(work)


def test_shards_of_one_process_resumed_by_two_ranks(runs):
    """``AVShardDataset``, 1 process of batch 2 checkpoints after
    iteration 3 and crashes: it read the epoch's shards in their order
    (``ids-000003`` (ids 17-21), ``ids-000000`` (0-5), ``ids-000002``
    (11-16), ``ids-000001`` (6-10)) and trained 17-21 and 0. 2 ranks of
    batch 2 resume. The epoch's deal over 2 ranks gives rank 0
    ``ids-000003`` and ``ids-000002``, rank 1 the other two: of the 16
    samples left, 6 were rank 0's and 10 rank 1's, and the epoch ended
    with rank 0's share: 7-10 were not trained in it (measured before the
    rest was dealt anew). Now the 16 are dealt 8 and 8 in the shards'
    order, ``ids-000002`` cut between the ranks (each reads it and keeps
    its own part of its untrained samples): every id of the epoch is
    trained once over the two runs, decoded from the pixels."""
    data, out = runs
    killed = osp.join(out, 'shard_one_killed')
    before = [i for _, ids in _ids(killed) for i in ids]
    assert before == [17, 18, 19, 20, 21, 0]
    state = _resume_state(osp.join(killed, 'iter_3.pth'))
    assert state['world_size'] == 1
    assert state['data_progress'] == dict(
        epoch=0, done=['ids-000003.tar'],
        partial={'ids-000000.tar': ['s000']})
    work = osp.join(out, 'shard_one_resumed')
    ranks = [[i for _, ids in _ids(work, r) for i in ids] for r in (0, 1)]
    assert ranks == [[1, 2, 3, 4, 5, 11, 12, 13],
                     [14, 15, 16, 6, 7, 8, 9, 10]]
    assert sorted(before + ranks[0] + ranks[1]) == GOOD
    log = T.log_text(work)
    assert 'Resume: the 16 sample(s) of epoch 1 not yet trained on are ' \
        'dealt anew over the 2 rank(s): 8, 8 (a shard cut between ranks ' \
        'is read by each' in log
    assert 'samples the shard index lists' not in log  # none untrained
    # the iteration count goes on from the killed run's 3: 4 more (as
    # for a sampler's re-dealt rest, not rescaled)
    assert [[it for it, _ in _ids(work, r)] for r in (0, 1)] == \
        [[4, 5, 6, 7]] * 2
    # the batch index hooks see numbers the 4 batches as the last of the
    # epoch of 6 (len: the epoch's deal's smaller share, 11, in batches
    # of 2), as a sampler's re-dealt rest: mmengine's end of the epoch
    # by count is its real end. Before: indices 3-6, the last past len
    # ("[7/6]"), from the killed run's 3 batches of 2 of an epoch of 11
    assert _logged_batches(log) == [(1, i, 6) for i in (3, 4, 5, 6)]
    # mmengine saves at what it counts as the last iteration (6): its
    # progress, merged over the ranks, holds both ranks' parts of the cut
    # shard, and says the rest was dealt anew (a resume deals it so again)
    state = _resume_state(osp.join(work, 'iter_6.pth'))
    assert state['data_progress'] \
        == dict(epoch=0, done=['ids-000000.tar', 'ids-000003.tar'],
                partial={'ids-000001.tar': ['s006', 's007', 's008'],
                         'ids-000002.tar': ['s011', 's014', 's015',
                                            's016']},
                redealt=True)
    assert state['epoch_iter'] == 5  # the index of its batch, plus one


def test_redealt_epoch_of_two_ranks_resumed_by_one_process(runs):
    """The 2 ranks' checkpoint of iteration 6 above (the epoch dealt
    anew; ids 9-10 and 12-13 left) resumed by 1 process of batch 2 for 2
    epochs, a checkpoint by epoch: the rest is dealt anew again, 2
    batches numbered as the last of this run's epoch of 11 (batch index
    9-10: "[1][10/11]", "[1][11/11]"; iterations 7-8 as the count goes
    on), the epoch ends there once (one checkpoint ``epoch_1.pth``, at
    iteration 8), and epoch 2 starts at batch index 0 and trains all 22
    ids in 11 batches to ``epoch_2.pth``. Each id of epoch 1 is trained
    once over the three runs. Before, the 2 batches had the indices 6-7
    ("[1][7/11]", "[1][8/11]", from the checkpoint's 6): the epoch ended
    by its data all the same, once, and epoch 2 started at index 0, but
    the index hooks see never reached the epoch's last."""
    data, out = runs
    work = osp.join(out, 'shard_redealt_again')
    cfg = _cfg(work, data, 'shard_redealt_again', load_from=osp.join(
        out, 'shard_one_resumed', 'iter_6.pth'),
        **dict(SHARD_RESUMED, max_epochs=2))
    cfg.default_hooks.checkpoint.update(by_epoch=True, interval=1)
    _train(cfg, saved_by=2)
    epochs = T.read_decoded_ids(work)
    assert epochs[0] == [(7, [12, 13]), (8, [9, 10])]
    assert [it for it, _ in epochs[1]] == list(range(9, 20))
    assert sorted(i for _, ids in epochs[1] for i in ids) == GOOD
    before = [i for _, ids in _ids(osp.join(out, 'shard_one_killed'))
              for i in ids] + [i for r in (0, 1) for it, ids in _ids(
                  osp.join(out, 'shard_one_resumed'), r) if it <= 6
                               for i in ids]
    assert sorted(before + [9, 10, 12, 13]) == GOOD
    log = T.log_text(work)
    assert _logged_batches(log) == [(1, 10, 11), (1, 11, 11)] + [
        (2, i, 11) for i in range(1, 12)]
    assert 'Resume: the 4 sample(s) of epoch 1 not yet trained on are ' \
        'dealt anew over the 1 rank(s): 4.' in log
    assert [ln.split(' - ')[-1] for ln in log.splitlines()
            if 'Saving checkpoint' in ln] == [
        'Saving checkpoint at 1 epochs',
        'Saving checkpoint at 2 epochs']
    assert torch.load(osp.join(work, 'epoch_1.pth'), weights_only=False)[
        'meta']['iter'] == 8


def test_shard_pass_of_one_process_resumed_by_two_ranks(runs):
    """The same under ``AVIterBasedTrainLoop`` (the pass over the shards
    is the dataset's epoch 0, the same order): 1 process of batch 2
    checkpoints after iteration 3 and crashes, 2 ranks of batch 2 resume
    and train iterations 4-7, the 16 samples left of the pass dealt 8 and
    8 as for the epoch loop (the checkpoint's ``world_size`` reaches the
    dataset through this loop's resume of a pass too); the log names the
    pass as the loop does."""
    data, out = runs
    killed = osp.join(out, 'shard_iter_killed')
    before = [i for _, ids in _ids(killed) for i in ids]
    assert before == [17, 18, 19, 20, 21, 0]
    work = osp.join(out, 'shard_iter_resumed')
    ranks = [_ids(work, r) for r in (0, 1)]
    assert [[it for it, _ in r] for r in ranks] == [[4, 5, 6, 7]] * 2
    assert [[i for _, ids in r for i in ids] for r in ranks] == [
        [1, 2, 3, 4, 5, 11, 12, 13], [14, 15, 16, 6, 7, 8, 9, 10]]
    # named as the loop names its passes (it said "epoch 1")
    assert 'Resume: the 16 sample(s) of pass 1 over the data not yet ' \
        'trained on are dealt anew over the 2 rank(s): 8, 8' in \
        T.log_text(work)


def test_shard_cut_between_ranks_is_done_for_the_next_resume(runs,
                                                              monkeypatch):
    """The 2 ranks of the test above save at iteration 7, their shares of
    pass 1 trained: ``ids-000002.tar`` was cut between them (ids 11-13 on
    rank 0, 14-16 on rank 1), so neither rank's own record reaches its 6
    samples; merged over the ranks they do, and the checkpoint lists every
    shard as done. 1 process resumes it to iteration 9: it opens no shard
    of pass 1 (counted on the opener the dataset streams through) and
    trains pass 2's first 4 ids, decoded from the pixels, from the one
    shard it opens. Before, ``ids-000002.tar`` stayed in ``partial`` with
    all 6 keys, and the resume said it re-read 1 partly trained shard
    (the re-deal gave it no span, so it was not opened)."""
    data, out = runs
    ck = osp.join(out, 'shard_iter_resumed', 'iter_7.pth')
    shards = [f'ids-{i:06d}.tar' for i in range(4)]
    assert _resume_state(ck)['data_progress'] == dict(
        epoch=0, done=shards, partial={}, redealt=True)
    opened = []
    real_open = sd.open_stream

    def counting_open(url, *args, **kwargs):
        opened.append(osp.basename(url))
        return real_open(url, *args, **kwargs)

    monkeypatch.setattr(sd, 'open_stream', counting_open)
    work = osp.join(out, 'shard_iter_again')
    _train(_cfg(work, data, 'shard_iter_again', load_from=ck,
                **dict(SHARD_ITER_RESUMED, max_iters=9)), saved_by=2)
    passes = T.read_decoded_ids(work)
    assert list(passes) == [1]  # nothing left of pass 1 (epoch 0)
    assert [it for it, _ in passes[1]] == [8, 9]
    ids = [i for _, ids in passes[1] for i in ids]
    first = sd.AVShardDataset(data['shards'], seed=7)
    first.set_epoch(1)
    (url, _, _), *_ = first._my_reads()
    assert opened == [osp.basename(url)]
    starts = dict(zip(shards, (0, 6, 11, 17)))
    assert ids == list(range(starts[opened[0]], starts[opened[0]] + 4))
    assert 'Resume: 4 shard(s) of pass 1 over the data were fully trained ' \
        'on and are not read again; 0 partly trained shard(s)' in \
        T.log_text(work)
