"""Throughput of the device-side photometric video augmentation: the
batched implementation (``video_aug_impl='batched'``,
:class:`mmavcl.models.data_preprocessors.BatchedVideoAug`) against kornia's
``VideoSequential`` (``'kornia'``, the reference), both built from the same
``model.data_preprocessor.video_aug`` of a config and run on the same batch.

The batch is what the data preprocessor hands the augmentation: per view a
``(clips, 3, frames, size, size)`` float tensor in ``[0, 1]`` (generated
frames of a panning texture). One step augments every view, as a training
step does; the two candidates alternate step by step (ABBA), so a load
change on a shared machine hits both, and the ratio of their median step
times is printed as ``BatchedVideoAug vs kornia: <ratio>x``. On the CPU
the ratio of their median CPU times (the thread's own: with ``--threads
1`` every kernel runs on it) follows as ``BatchedVideoAug vs kornia (CPU
time): <ratio>x``: on a machine shared by more runnable jobs than cores,
a step's wall time also counts the time the scheduler gave to the others.

    python benchmarks/benchmark_augment.py [--config CFG] [--views 2]
        [--clips 8] [--frames 16] [--size 112] [--iters 40] [--threads 1]
        [--device cpu]
"""
import argparse
import os.path as osp
import statistics
import time
from typing import Dict, List, Tuple

import numpy as np
import torch

from bench_utils import ROOT, bench_frames

DEFAULT_CONFIG = osp.join(
    ROOT, 'configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py')


def video_aug_cfg(config: str) -> List[Dict]:
    """``model.data_preprocessor.video_aug`` of ``config``."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    aug = cfg.model.get('data_preprocessor', {}).get('video_aug')
    if not aug:
        raise SystemExit(f'{config}: model.data_preprocessor.video_aug is '
                         f'empty; nothing to benchmark')
    return [dict(a) for a in aug]


def make_views(views: int, clips: int, frames: int, size: int,
               device: str) -> List[torch.Tensor]:
    """``views`` batches ``(clips, 3, frames, size, size)`` in [0, 1]."""
    out = []
    for v in range(views):
        batch = np.stack([
            bench_frames(frames, (size, size), seed=100 * v + c)
            for c in range(clips)
        ])                                            # (B, T, H, W, 3)
        x = torch.from_numpy(batch).permute(0, 4, 1, 2, 3).contiguous()
        out.append(x.to(device).float() / 255.0)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='a config with model.data_preprocessor.'
                        'video_aug (default: the MoCo-v2 K400 baseline)')
    parser.add_argument('--views', type=int, default=2)
    parser.add_argument('--clips', type=int, default=8,
                        help='clips per view (the batch)')
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--iters', type=int, default=40,
                        help='timed steps per candidate')
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (2 oversubscribed the '
                        'shared 2-core machine)')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import mmavcl  # noqa: F401
    from mmavcl.models.data_preprocessors import (AVDataPreprocessor,
                                                  BatchedVideoAug)
    cfgs = video_aug_cfg(args.config)
    augs = {
        'BatchedVideoAug': AVDataPreprocessor._build_video_aug(
            cfgs, 'batched').to(args.device),
        'kornia': AVDataPreprocessor._build_video_aug(
            cfgs, 'kornia').to(args.device),
    }
    views = make_views(args.views, args.clips, args.frames, args.size,
                       args.device)
    print(f'config: {osp.relpath(args.config, ROOT)}; video_aug: '
          f'{[c["type"] for c in cfgs]}; {args.views} views x {args.clips} '
          f'clips x {args.frames}x{args.size}^2; {args.threads} threads, '
          f'{args.device}')

    scratch = [torch.empty_like(x) for x in views]

    cuda = args.device.startswith('cuda')

    def step(aug) -> Tuple[float, float]:
        # as AVDataPreprocessor calls them: kornia returns a new tensor,
        # BatchedVideoAug writes into the preprocessor's own x / 255 (a
        # copy made here before the clock starts)
        batched = isinstance(aug, BatchedVideoAug)
        if batched:
            for x, s in zip(views, scratch):
                s.copy_(x)
        if cuda:
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.thread_time()
        for x, s in zip(views, scratch):
            if batched:
                aug(s, inplace=True)
            else:
                aug(x)
        if cuda:
            torch.cuda.synchronize()
        return ((time.perf_counter() - t) * 1e3,
                (time.thread_time() - c) * 1e3)

    torch.manual_seed(0)
    for _ in range(args.warmup):
        for aug in augs.values():
            step(aug)
    times = {name: [] for name in augs}
    cpu = {name: [] for name in augs}
    names = list(augs)
    for i in range(args.iters):
        # ABBA: each candidate goes first every other pair of steps
        for name in (names if i % 4 in (0, 3) else names[::-1]):
            wall, own = step(augs[name])
            times[name].append(wall)
            cpu[name].append(own)
    clips_per_step = args.views * args.clips
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    for name, ms in med.items():
        print(f'{name}: {ms:.1f} ms per step (median of {len(times[name])}), '
              f'{clips_per_step / ms * 1e3:.1f} clips/s, '
              f'{ms / (clips_per_step * args.frames):.3f} ms per frame' +
              ('' if cuda else f'; CPU time {med_cpu[name]:.1f} ms'))
    ratio = med['kornia'] / med['BatchedVideoAug']
    print(f'BatchedVideoAug vs kornia: {ratio:.2f}x')
    out = dict(med, ratio=ratio)
    if not cuda:
        out['cpu_ratio'] = med_cpu['kornia'] / med_cpu['BatchedVideoAug']
        print(f'BatchedVideoAug vs kornia (CPU time): '
              f"{out['cpu_ratio']:.2f}x")
    return out


if __name__ == '__main__':
    main()
