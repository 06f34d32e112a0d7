"""Soak (issue 9 §8): a long run of the real data pipeline through a
DataLoader with 2 persistent workers; the workers' resident memory must stay
flat.

The default is test-sized (300 iterations x 4 samples, ~30 s on 2 shared
cores).
The longer soak documented in docs/reliability.md is the same test with more
iterations::

    MMAVCL_SOAK_ITERS=20000 python -m pytest -s tests/datasets/test_soak.py

RSS is read from ``/proc/<pid>/status`` of each worker at iteration
``ITERS // 4`` (after the decoders' buffers and copy-on-write pages have
settled) and at the end.

The soak runs in a fresh interpreter, as a training job does: workers forked
from a process that already decoded with decord (earlier tests in the same
pytest process) can deadlock inside decord's native code.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time

import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader, RandomSampler

from mmavcl.datasets import AVVideoDataset
from mmavcl.testing import make_av_video, write_garbage

ITERS = int(os.environ.get('MMAVCL_SOAK_ITERS', 300))
BATCH = 4
MAX_GROWTH = 0.15


def _rss_kb(pid: int) -> int:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise RuntimeError(f'no VmRSS for pid {pid}')


@pytest.mark.skipif(not osp.exists('/proc/self/status'),
                    reason='reads RSS from /proc (Linux)')
@pytest.mark.parametrize('backend', ['decord', 'pyav'])
def test_worker_rss_stays_flat(tmp_path, backend):
    out = subprocess.run([sys.executable, __file__, str(tmp_path), backend],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    mid, end = res['mid'], res['end']
    growth = [(e - m) / m for m, e in zip(mid, end)]
    print(f'\nsoak ({backend}): {ITERS} iterations x {BATCH} samples in '
          f'{res["secs"]:.1f} s; worker RSS at iteration {res["mark"]}: '
          f'{[m // 1024 for m in mid]} MiB, at the end: '
          f'{[e // 1024 for e in end]} MiB, growth '
          f'{[f"{g:+.1%}" for g in growth]}; {res["skipped"]} bad reads '
          'skipped')
    assert res['iters'] == ITERS
    assert res['skipped'] > 0  # the bad file was drawn and replaced
    assert max(growth) < MAX_GROWTH, (mid, end)


def soak(tmp_path, backend: str = 'decord') -> dict:
    """The soak itself: worker RSS at the mark and at the end."""
    import pathlib
    tmp_path = pathlib.Path(tmp_path)
    root = tmp_path / 'v'
    names = []
    for i in range(6):
        make_av_video(str(root / f'v{i}.mp4'), num_frames=40, size=(48, 64),
                      keyint=8, seed=i, pattern='noise')
        names.append(f'v{i}.mp4')
    # a bad file keeps the skip path in the loop as well
    write_garbage(str(root / 'bad.mp4'))
    names.append('bad.mp4')
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{n} {i % 3}\n' for i, n in enumerate(names)))
    ds = AVVideoDataset(
        str(ann), data_prefix=dict(video=str(root)),
        bad_sample_policy='skip',
        pipeline=[
            dict(type='VideoInit', backend=backend),
            dict(type='SampleClips', clip_len=8, frame_interval=2,
                 num_clips=2, audio=True),
            dict(type='DecodeVideoViews'),
            dict(type='DecodeAudioViews'),
            dict(type='RandomResizedCropViews', size=32),
            dict(type='FlipViews', flip_prob=0.5),
            dict(type='PackAVInputs'),
        ])
    sampler = RandomSampler(ds, replacement=True,
                            num_samples=ITERS * BATCH)
    loader = DataLoader(ds, batch_size=BATCH, sampler=sampler, num_workers=2,
                        persistent_workers=True, collate_fn=pseudo_collate)
    it = iter(loader)
    pids = [w.pid for w in it._workers]
    mark = max(ITERS // 4, 1)
    skipped = 0
    t0 = time.time()
    try:
        for i, batch in enumerate(it, 1):
            assert len(batch['inputs']['video']) == 2
            skipped += sum(
                len(s.metainfo.get('skipped_bad_samples', ()))
                for s in batch['data_samples'])
            if i == mark:
                mid = [_rss_kb(p) for p in pids]
        end = [_rss_kb(p) for p in pids]
    finally:
        it._shutdown_workers()
    return dict(mid=mid, end=end, mark=mark, iters=i, skipped=skipped,
                secs=time.time() - t0)


if __name__ == '__main__':
    print(json.dumps(soak(*sys.argv[1:3])))
