"""Memory layout of the 3D CNN step: the backbone's forward + backward in
the default (NCDHW) layout against ``channels_last_3d`` (what
``ChannelsLast3dHook`` / :func:`mmavcl.engine.efficiency.
convert_to_channels_last` do), in fp32 and under bf16 autocast, on the same
batch and weights in one process.

The candidates alternate iteration by iteration (ABBA); each ratio is the
default layout's median step time over the candidate's, printed as
``channels_last_3d vs default (<precision>): <ratio>x``, and
``bf16 vs fp32 (<layout>): <ratio>x``.

    python benchmarks/benchmark_layout.py [--config CFG] [--clips 2]
        [--frames 16] [--size 112] [--iters 4] [--precisions fp32 bf16]
        [--threads 1] [--device cpu]
"""
import argparse
import contextlib
import copy
import os.path as osp
import statistics
import time
from typing import Dict

import torch

from bench_utils import ROOT

DEFAULT_CONFIG = osp.join(
    ROOT, 'configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='a config with model.backbone (default: the '
                        'MoCo-v2 R3D-18 K400 baseline)')
    parser.add_argument('--clips', type=int, default=2)
    parser.add_argument('--frames', type=int, default=16)
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--iters', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16'])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    from mmengine.config import Config

    import mmavcl  # noqa: F401
    from mmavcl.engine.efficiency import convert_to_channels_last
    from mmavcl.registry import MODELS
    cfg = Config.fromfile(args.config)
    torch.manual_seed(0)
    base = MODELS.build(cfg.model.backbone).to(args.device).train()
    models = {'default': base, 'channels_last_3d': copy.deepcopy(base)}
    convert_to_channels_last(models['channels_last_3d'])
    x = torch.randn(args.clips, 3, args.frames, args.size, args.size,
                    device=args.device)
    dev = torch.device(args.device).type
    print(f'config: {osp.relpath(args.config, ROOT)}; backbone '
          f'{cfg.model.backbone["type"]}; {args.clips} clips x 3 x '
          f'{args.frames}x{args.size}^2, forward + backward; '
          f'{args.threads} threads, {args.device}')

    def step(model, precision) -> float:
        model.zero_grad(set_to_none=True)
        ctx = torch.autocast(dev, dtype=torch.bfloat16) \
            if precision == 'bf16' else contextlib.nullcontext()
        if dev == 'cuda':
            torch.cuda.synchronize()
        t = time.perf_counter()
        with ctx:
            out = model(x)
            out = out[-1] if isinstance(out, (tuple, list)) else out
            loss = out.float().mean()
        loss.backward()
        if dev == 'cuda':
            torch.cuda.synchronize()
        return (time.perf_counter() - t) * 1e3

    cands = [(layout, p) for p in args.precisions for layout in models]
    for _ in range(args.warmup):
        for layout, p in cands:
            step(models[layout], p)
    times = {c: [] for c in cands}
    for i in range(args.iters):
        for c in (cands if i % 2 == 0 else cands[::-1]):
            times[c].append(step(models[c[0]], c[1]))
    med = {c: statistics.median(t) for c, t in times.items()}
    for (layout, p), ms in med.items():
        print(f'{layout} {p}: {ms:.0f} ms per step (median of '
              f'{len(times[(layout, p)])})')
    out = {f'{layout}_{p}': ms for (layout, p), ms in med.items()}
    for p in args.precisions:
        ratio = med[('default', p)] / med[('channels_last_3d', p)]
        out[f'ratio_{p}'] = ratio
        print(f'channels_last_3d vs default ({p}): {ratio:.2f}x')
    if len(args.precisions) == 2:
        for layout in models:
            ratio = med[(layout, 'fp32')] / med[(layout, 'bf16')]
            out[f'bf16_{layout}'] = ratio
            print(f'bf16 vs fp32 ({layout}): {ratio:.2f}x')
    return out


if __name__ == '__main__':
    main()
