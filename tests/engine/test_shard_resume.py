"""Mid-epoch resume from WebDataset shards through mmengine's Runner
(``AVRunner.resume`` + ``AVEpochBasedTrainLoop``): the killed run's
checkpoint holds what the epoch trained on, and the resumed run trains on
exactly the samples of the epoch it had not, counted by sample key."""
import gc
import os
import os.path as osp
from collections import Counter

import pytest
import torch

import engine_toys as T
from mmavcl.testing import write_shards

PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=2, frame_interval=1, num_clips=1,
             mode='uniform'),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]


@pytest.fixture(scope='module')
def shards(tiny_toy_av, tmp_path_factory):
    """18 samples (the 4 toy training videos under keys s000..s017) in 6
    shards of 3."""
    with open(osp.join(tiny_toy_av, 'train.txt')) as f:
        rels = [ln.split()[0] for ln in f if ln.strip()]
    videos = []
    for rel in rels:
        with open(osp.join(tiny_toy_av, rel), 'rb') as f:
            videos.append(f.read())
    samples = [(f's{i:03d}', {'mp4': videos[i % len(videos)],
                              'json': b'{"label": 0}'}) for i in range(18)]
    pattern, names = write_shards(
        samples, str(tmp_path_factory.mktemp('shards')), 3)
    return pattern, {f'{names[i // 3]}#{k}' for i, (k, _) in
                     enumerate(samples)}


def _cfg(work_dir, pattern, hooks, resume=False):
    cfg = T.toy_cfg(work_dir, max_epochs=2, ckpt_interval=6,
                    custom_hooks=hooks, resume=resume)
    cfg.model = dict(type='ToyClipMean')
    cfg.train_dataloader = dict(
        dataset=dict(type='AVShardDataset', shards=pattern, pipeline=PIPE,
                     shuffle_buffer=3, seed=1, audio_source='none'),
        sampler=None, batch_size=2, num_workers=2,
        persistent_workers=True,
        collate_fn=dict(type='mmavcl.av_collate'))
    cfg.param_scheduler = []
    cfg.log_level = 'INFO'
    return cfg


def _stop_workers(tb):
    """Stop the workers of the DataLoader iterator the crashed loop held
    (a killed process takes them along). Left to the garbage collector,
    the shutdown of these persistent workers waited 5 s per worker."""
    while tb is not None:
        iterator = tb.tb_frame.f_locals.get('iterator')
        if hasattr(iterator, '_shutdown_workers'):
            iterator._shutdown_workers()
        tb = tb.tb_next
    gc.collect()


def _keys(work_dir):
    """epoch -> [(iteration, keys)] in the order trained."""
    out = {}
    with open(osp.join(work_dir, 'keys.txt')) as f:
        for line in f:
            epoch, it, keys = line.strip().split(':')
            out.setdefault(int(epoch), []).append(
                (int(it), keys.split(',')))
    return out


def test_resume_mid_epoch_trains_on_the_rest_of_the_epoch(shards, tmp_path):
    """2 persistent workers, a shuffle buffer of 3: the resumed workers
    start with the saved progress, and drop it for the next epoch."""
    pattern, every_key = shards
    work = str(tmp_path / 'work')
    hooks = [dict(type='RecordShardKeysHook')]
    # a crash before iteration 8: iterations 1-7 ran, the last checkpoint
    # is iter_6.pth (the middle of epoch 0: 18 samples in batches of 2)
    crashed = _cfg(work, pattern, hooks + [dict(type='CrashHook',
                                                at_iter=8)])
    with pytest.raises(T.SimulatedCrash) as crash:
        T.build_runner(crashed).train()
    _stop_workers(crash.tb)
    before = [k for it, ks in _keys(work)[0] if it <= 6 for k in ks]
    assert len(before) == 12

    ck = torch.load(osp.join(work, 'iter_6.pth'), weights_only=False)
    progress = ck['meta']['mmavcl_resume']['data_progress']
    assert progress['epoch'] == 0 and progress['done']
    # the checkpoint says what iterations 1-4 trained on, shard by shard
    trained = Counter(k.split('#')[0] for k in before)
    assert set(progress['done']) == {s for s, n in trained.items()
                                     if n == 3}
    assert {s: set(k) for s, k in progress['partial'].items()} == {
        s: {k.split('#')[1] for k in before if k.startswith(s + '#')}
        for s, n in trained.items() if n < 3}

    runner = T.build_runner(_cfg(work, pattern, hooks, resume=True))
    runner.train()
    keys = _keys(work)
    lines = keys[0]
    # the resumed run appends its epoch-0 lines after the killed run's
    # (iterations 1-7); its first iteration is 7 again
    restart = max(i for i, (it, _) in enumerate(lines) if it == 7)
    resumed = [k for _, ks in lines[restart:] for k in ks]
    # each sample of epoch 0 once: the 12 before the checkpoint, the
    # other 6 after the resume
    assert sorted(before + resumed) == sorted(every_key)
    assert not set(before) & set(resumed)
    # the next epoch (persistent workers too) reads every sample again
    assert sorted(k for _, ks in keys[1] for k in ks) == sorted(every_key)
    # the same for the finished run's persistent workers
    runner.train_dataloader._iterator._shutdown_workers()
    log = osp.join(runner.log_dir, f'{runner.timestamp}.log')
    with open(log) as f:
        text = f.read()
    assert f'Resume: {len(progress["done"])} shard(s) of this epoch' in text
    # iteration counts go on from the checkpoint; the resumed epoch ends
    # when its data does (2 workers: each may end on a half batch)
    assert lines[restart][0] == 7


def test_skipped_samples_are_reported_and_the_short_epoch_said(
        shards, tmp_path):
    """A shard cut inside its second sample, under 'skip': the sample
    before the cut trains, the skip reaches BadSampleSummaryHook with the
    next item, and the epoch end says how many samples the index listed
    that were not trained on."""
    import shutil
    import tarfile

    from mmavcl.datasets import AVShardDataset
    pattern, every_key = shards
    src = osp.dirname(pattern)
    data = str(tmp_path / 'data')
    shutil.copytree(src, data)
    dataset = dict(type='AVShardDataset',
                   shards=osp.join(data, osp.basename(pattern)),
                   pipeline=PIPE, seed=1, audio_source='none',
                   bad_sample_policy='skip')
    probe = AVShardDataset(**{k: v for k, v in dataset.items()
                              if k != 'type'})
    probe.set_epoch(0)
    first = probe._my_shards()[0]  # read first: later items carry its skip
    with tarfile.open(first) as tar:
        second = tar.getmembers()[2]  # s??1.mp4: sample 2's first member
    with open(first, 'rb') as f:
        head = f.read(second.offset_data + second.size // 2)
    with open(first, 'wb') as f:
        f.write(head)

    cfg = _cfg(str(tmp_path / 'work'), pattern,
               [dict(type='BadSampleSummaryHook'),
                dict(type='RecordShardKeysHook')])
    cfg.train_dataloader.dataset = dataset
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.persistent_workers = False
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.checkpoint.interval = 100  # saving is not the point
    runner = T.build_runner(cfg)
    runner.train()
    trained = [k for _, ks in _keys(str(tmp_path / 'work'))[0] for k in ks]
    name = osp.basename(first)
    assert len(trained) == 16 and f'{name}#{second.name[:-4]}' not in trained
    assert sum(k.startswith(name) for k in trained) == 1
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        log = f.read()
    assert f'1 new bad file(s) skipped on 1 rank(s) (1 in this run): ' \
        f'{first}: unreadable shard in member {second.name} after 1 ' \
        'complete sample(s)' in log
    assert 'Epoch 1 trained on 16 of the 18 samples the shard index lists ' \
        'for this rank: 2 were skipped' in log


def test_a_bad_sample_before_the_checkpoint_is_not_read_again(
        tmp_path, monkeypatch):
    """Shards of 3, 3 and 2 id videos (ids 0-7), id 1 (the second sample of
    ``ids-000000.tar``, the shard read first) random bytes; one process,
    no shuffle buffer, batch 2: iteration 1 trains ids 0 and 2 (the bad
    one reported with id 2), iteration 2 ids 6 and 7 (``ids-000002.tar``).
    Killed after the checkpoint of iteration 2 and resumed: the
    checkpoint lists the bad key (``bad``) and ``ids-000000.tar`` as done,
    the resumed run does not open it, the good ids of the epoch come once
    over both runs, and ``bad_samples.json`` counts 1 bad read over the
    run. Before (measured by this test): the checkpoint held the shard as
    partial (``s000``, ``s002``), the resumed run opened it again, decoded
    ``s001`` again and reported it again: ``bad_reads`` 2 for the one bad
    sample, and the resumed run's bad ratio 1 of 4 reads (25%, what
    ``max_bad_ratio`` judges) where it read no new bad sample. A
    checkpoint in that older format still loads and reads the shard
    again for its bad sample."""
    import json
    import shutil

    from mmavcl.datasets import AVShardDataset
    from mmavcl.datasets import shard_dataset as sd
    from mmavcl.testing import write_id_shards
    sizes = (3, 3, 2)
    pattern, names, _ = write_id_shards(str(tmp_path / 'probe'), sizes)
    for seed in range(50):  # a seed whose epoch 0 reads ids-000000 first
        probe = AVShardDataset(pattern, PIPE, seed=seed)
        probe.set_epoch(0)
        if osp.basename(probe._my_shards()[0]) == names[0]:
            break
    pattern, names, good = write_id_shards(str(tmp_path / 'data'), sizes,
                                           bad=[1])
    hooks = [dict(type='RecordDecodedIdsHook'),
             dict(type='DataReportHook', interval=1)]

    def cfg(work, extra=(), resume=False):
        c = _cfg(work, pattern, hooks + list(extra), resume=resume)
        c.train_dataloader = dict(
            dataset=dict(type='AVShardDataset', shards=pattern,
                         pipeline=PIPE, seed=seed, audio_source='none',
                         bad_sample_policy='skip'),
            sampler=None, batch_size=2, num_workers=0,
            collate_fn=dict(type='mmavcl.av_collate'))
        c.train_cfg.max_epochs = 1
        c.default_hooks.checkpoint.interval = 2
        return c

    def report(work):
        with open(osp.join(work, 'bad_samples.json')) as f:
            return json.load(f)

    opened = []
    real_open = sd.open_stream
    monkeypatch.setattr(sd, 'open_stream', lambda url, *a: (
        opened.append(osp.basename(url)), real_open(url, *a))[1])
    work = str(tmp_path / 'work')
    with pytest.raises(T.SimulatedCrash):
        T.build_runner(cfg(work, [dict(type='CrashHook', at_iter=3)])
                       ).train()
    killed = T.read_decoded_ids(work)[0]
    assert killed == [(1, [0, 2]), (2, [6, 7])]
    assert report(work)['bad_reads'] == 1
    ck = torch.load(osp.join(work, 'iter_2.pth'), weights_only=False)
    progress = ck['meta']['mmavcl_resume']['data_progress']
    assert progress == dict(epoch=0, done=[names[0], names[2]], partial={},
                            bad={names[0]: ['s001']})

    opened.clear()
    T.build_runner(cfg(work, resume=True)).train()
    assert opened == [names[1]]
    resumed = [i for _, ids in T.read_decoded_ids(work)[0][2:] for i in ids]
    assert sorted([0, 2, 6, 7] + resumed) == good
    assert report(work)['bad_reads'] == 1
    log = T.log_text(work)
    assert 'Resume: 2 shard(s) of this epoch were fully' in log
    assert 'Epoch 1: no bad samples skipped (3 samples)' in log
    assert 'Epoch 1 trained on 7 of the 8 samples the shard index lists ' \
        'for this rank: 1 were skipped' in log

    # the checkpoint as mmavcl wrote it before: no bad keys, the shard
    # partial; it loads, and the shard is read again for its bad sample
    old = str(tmp_path / 'old')
    os.makedirs(old)
    ck['meta']['mmavcl_resume']['data_progress'] = dict(
        epoch=0, done=[names[2]], partial={names[0]: ['s000', 's002']})
    torch.save(ck, osp.join(old, 'iter_2.pth'))
    shutil.copy(osp.join(work, 'bad_samples.json'), old)
    opened.clear()
    T.build_runner(cfg(old, resume=True)).train()
    assert sorted(opened) == [names[0], names[1]]
    resumed = [i for _, ids in T.read_decoded_ids(old)[0] for i in ids]
    assert sorted([0, 2, 6, 7] + resumed) == good
    assert report(old)['bad_reads'] == 2
