"""`bash tools/dist_train.sh CONFIG 2` on CPU: gloo DDP, checkpoints, resume,
and how the job ends when one rank fails alone.
"""
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import List, Tuple

import pytest
import torch

import engine_toys as T
from mmavcl.testing.media import make_av_video, write_garbage


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_dist_train_two_cpu_ranks_then_resume_auto(tmp_path):
    work = str(tmp_path / 'work')
    cfg = T.toy_cfg(work, by_epoch=False, max_iters=6, ckpt_interval=3,
                    batch_size=2, sampler='InfiniteSampler',
                    custom_hooks=[dict(type='DumpRankWeightsHook')])
    config = T.write_cfg(str(tmp_path / 'toy_dist.py'), cfg)
    env = T.subprocess_env()
    env.update(PYTHON=sys.executable, PORT=str(T.free_port()))
    res = subprocess.run(
        ['bash', osp.join(T.REPO, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', work], env=env, capture_output=True, text=True,
        timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    for name in ('iter_3.pth', 'iter_6.pth', 'last_checkpoint'):
        assert osp.exists(osp.join(work, name)), name
    w0 = torch.load(osp.join(work, 'rank0.pth'))
    w1 = torch.load(osp.join(work, 'rank1.pth'))
    # DDP keeps parameters (and the EMA copy built from them) identical;
    # the toy's queue holds each rank's own keys (it does not all-gather)
    for k in w0:
        if k != 'queue':
            assert torch.equal(w0[k], w1[k]), k
    ck = torch.load(osp.join(work, 'iter_6.pth'), weights_only=False)
    for k, v in ck['state_dict'].items():
        if k != 'queue':
            assert torch.equal(v, w0[k]), k
    state = ck['meta']['mmavcl_resume']
    # both ranks' RNG states were gathered into rank 0's checkpoint
    assert state['world_size'] == 2 and len(state['rng']) == 2

    res = subprocess.run(
        [sys.executable, osp.join(T.REPO, 'tools', 'train.py'), config,
         '--work-dir', work, '--resume', 'auto', '--cfg-options',
         'train_cfg.max_iters=8', 'log_level=INFO'], env=T.subprocess_env(),
        capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert 'resumed epoch: 0, iter: 6' in out
    # 1 process goes on at the 2 ranks' position in the sampler's stream
    assert "of the infinite sampler's global stream the first 24 were " \
        'trained on' in out
    ck = torch.load(osp.join(work, 'iter_8.pth'), weights_only=False)
    assert ck['meta']['iter'] == 8


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_channels_last_weights_converted_before_ddp(tiny_toy_av, tmp_path):
    """With ``ChannelsLast3dHook``, ``AVRunner`` converts the weights before
    DDP is built, so DDP's gradient buckets have the channels-last layout:
    no "Grad strides do not match bucket view strides" copy (converting in
    the hook, after wrapping, gave that warning on both ranks)."""
    res, out, setup, _ = T.dist_train_vclr_toy(
        tmp_path, tiny_toy_av, 2,
        "extra_hooks = [dict(type='ChannelsLast3dHook')]",
        ['train_dataloader.batch_size=2', 'train_cfg.max_epochs=2',
         'default_hooks.checkpoint.save_last=False'], timeout=240)
    assert res.returncode == 0, out[-3000:]
    assert setup['wrapper'] == 'MMDistributedDataParallel'
    assert setup['world_size'] == 2 and setup['channels_last_5d']
    assert 'bucket view strides' not in out


def _dist_train_timed(tmp_path, cfg) -> Tuple[int, List[Tuple[float, str]]]:
    """``bash tools/dist_train.sh`` of ``cfg`` over ``default_runtime.py``
    (its guard and ``DataReportHook``) on 2 gloo ranks whose collectives
    time out after 60 s, killed with its children after 240 s. Returns the
    exit code and the output lines (stderr included), each with the
    seconds since the start at which it arrived."""
    cfg.env_cfg = dict(dist_cfg=dict(backend='gloo', timeout=60))
    config = T.write_cfg_with_runtime(tmp_path, cfg)
    env = T.subprocess_env()
    env.update(PYTHON=sys.executable, PORT=str(T.free_port()))
    start = time.monotonic()
    proc = subprocess.Popen(
        ['bash', osp.join(T.REPO, 'tools', 'dist_train.sh'), config, '2',
         '--work-dir', cfg.work_dir], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    killer = threading.Timer(240, os.killpg, (proc.pid, signal.SIGKILL))
    killer.start()
    try:
        lines = [(time.monotonic() - start, line.rstrip('\n'))
                 for line in proc.stdout]
        return proc.wait(), lines
    finally:
        killer.cancel()


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_one_rank_failing_alone_ends_the_job_and_names_its_error(tmp_path):
    """Rank 1 alone raises ``TooManyBadSamplesError`` ('no good sample in
    max_refetch draws') at its first batch while rank 0 waits for it in a
    collective (the guard's all-reduce of the loss verdict, then DDP's).
    torchrun tears the job down within seconds
    (not at the process-group timeout, 60 s here), exits 1, rank 1's error
    with its files comes before rank 0's, and torchrun's closing summary
    repeats it as the root cause: ``tools/train.py`` runs ``main`` under
    torch's ``record``. Before, the summary said ``error_file: <N/A>`` and
    the error was only in the interleaved output of every rank."""
    videos = tmp_path / 'videos'
    make_av_video(str(videos / 'v0.mp4'), num_frames=8, size=(32, 32),
                  audio=False)
    # DefaultSampler without shuffling: rank 0 reads v0 first, rank 1 v1;
    # every redraw (from any index but 0 with skip_seed=0) is bad too
    (videos / 'v1.mp4').write_bytes(b'')
    bad = {str(videos / 'v1.mp4')}
    for i in range(2, 8):
        bad.add(write_garbage(str(videos / f'v{i}.mp4'), seed=i))
    (tmp_path / 'list.txt').write_text(
        ''.join(f'v{i}.mp4 0\n' for i in range(8)))
    cfg = T.toy_cfg(str(tmp_path / 'work'), max_epochs=1)
    cfg.model = dict(type='ToyClipMean')
    cfg.train_dataloader = dict(
        dataset=dict(
            type='AVVideoDataset', ann_file=str(tmp_path / 'list.txt'),
            data_prefix=dict(video=str(videos)), audio_source='none',
            bad_sample_policy='skip', max_refetch=2,
            pipeline=[dict(type='VideoInit', backend='pyav'),
                      dict(type='SampleClips', clip_len=2, num_clips=1,
                           mode='uniform'),
                      dict(type='DecodeVideoViews'),
                      dict(type='PackAVInputs')]),
        sampler=dict(type='DefaultSampler', shuffle=False), batch_size=1,
        num_workers=1, collate_fn=dict(type='mmavcl.av_collate'))
    rc, lines = _dist_train_timed(tmp_path, cfg)
    out = '\n'.join(line for _, line in lines)
    assert rc == 1, out[-3000:]
    head = ('TooManyBadSamplesError: no good sample found for index 1 after '
            f'3 bad draw(s) ({tmp_path / "list.txt"}):')
    first = next(i for i, (_, line) in enumerate(lines)
                 if line.startswith('[rank1]: mmavcl.datasets') and
                 line.endswith(head))
    # '[rank1]:   <file>: <reason>'
    listed = [line.partition(']: ')[2].split(': ')[0].strip()
              for _, line in lines[first + 1:first + 4]]
    assert listed[0] == str(videos / 'v1.mp4'), out[-3000:]
    assert len(set(listed)) == 3 and set(listed) <= bad, listed
    assert not any(line.startswith('[rank0]')
                   for _, line in lines[:first]), 'rank 0 printed first'
    # measured 2-7 s on 2 busy cores
    assert lines[-1][0] - lines[first][0] < 30, out[-3000:]
    summary = out[out.index('Root Cause (first observed failure)'):]
    assert 'rank      : 1 (local_rank: 1)' in summary, summary
    assert head in summary and all(f in summary for f in listed), summary


@pytest.mark.skipif(shutil.which('bash') is None, reason='needs bash')
def test_exploding_gradient_on_one_rank_stops_all_and_names_its_batch(
        tmp_path):
    """Sample 9 (``spike=1e12``) is in rank 1's second batch only. DDP
    averages the gradients, so both ranks see the same inf norm and the
    default guard stops both at iteration 2. Each rank's message names its
    own batch, so rank 0's, the one in the log file, named four files that
    are not at fault; now every rank's message also lists every rank's
    batch, largest loss first."""
    cfg = T.toy_cfg(str(tmp_path / 'work'), max_epochs=1, batch_size=4,
                    shuffle=False)
    cfg.model = dict(type='ToyRegressor')
    cfg.train_dataloader.dataset.update(type='SpikyToyVectors', spike=1e12)
    rc, lines = _dist_train_timed(tmp_path, cfg)
    out = '\n'.join(line for _, line in lines)
    assert rc == 1, out[-3000:]
    # DefaultSampler without shuffling: rank r trains on r, r + 2, ...
    clips = {r: ', '.join(f'/data/videos/clip_{i:03d}.mp4'
                          for i in range(8 + r, 16, 2)) for r in (0, 1)}
    raised = {}
    for _, line in lines:
        rank, _, msg = line.partition(']: ')
        if 'ExplodingGradientError: non-finite gradient norm inf' in msg:
            raised[rank.lstrip('[')] = msg
    assert set(raised) == {'rank0', 'rank1'}, out[-3000:]
    losses = {}
    for rank, msg in raised.items():
        assert ' at iteration 2 (epoch 1, batch 2)' in msg, msg
        marker = "Every rank's batch, largest loss first: "
        assert marker in msg, msg
        head, _, every = msg.partition(marker)
        assert f'the batch held 4 file(s): {clips[int(rank[-1])]}' in head
        first, second = every.split('; ')
        assert first.startswith('rank 1 (loss=')
        assert first.endswith(f'): {clips[1]}'), every
        assert second.startswith('rank 0 (loss=')
        assert second.endswith(f'): {clips[0]}'), every
        losses[rank] = [float(part.split('loss=')[1].split(')')[0])
                        for part in (first, second)]
    assert losses['rank0'] == losses['rank1']
    assert losses['rank0'][0] > 1e20 and losses['rank0'][1] < 1e3
    (logged, ) = [line for line in T.log_text(str(tmp_path / 'work'))
                  .splitlines() if 'stopping' in line]
    assert f'rank 1 (loss={losses["rank0"][0]:.3g}): {clips[1]}' in logged
