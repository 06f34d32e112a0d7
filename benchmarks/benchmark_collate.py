"""What the training process pays to receive a batch from the loader's
workers: ``pseudo_collate`` (one tensor per sample and view) against
``av_collate`` (one stacked tensor per view).

Every tensor a worker returns travels to the training process as a
shared-memory segment of its own, which that process must receive and map.
The samples are real: ``--num-samples`` outputs of a dataset config's
pipeline on generated videos, decoded once and then served (as fresh
copies) by the workers, so the workers only copy and the measurement is
the transfer. With the queue kept full (the consumer waits ``--wait`` s
between batches), the time ``next(loader)`` takes is the receiving cost.
Rounds alternate the two collates (ABBA).

    python benchmarks/benchmark_collate.py [--config CFG]
        [--batch-size 32] [--workers 2] [--batches 12] [--rounds 2]
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
import time
from typing import Dict, List

import torch

from bench_utils import ROOT, make_video_set

DEFAULT_CONFIG = osp.join(ROOT, 'configs/_base_/datasets/k400_ssl_2clip_av.py')


class ServeCopies(torch.utils.data.Dataset):
    """Cycles through pre-decoded samples, returning fresh copies."""

    def __init__(self, samples: List[Dict]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        return 10**6

    def __getitem__(self, idx: int) -> Dict:
        return copy.deepcopy(self.samples[idx % len(self.samples)])


def receive_ms(dataset, collate, batch_size: int, workers: int,
               batches: int, wait: float) -> List[float]:
    """Milliseconds each ``next(loader)`` took with a full queue."""
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, num_workers=workers,
        collate_fn=collate, prefetch_factor=2)
    it = iter(loader)
    next(it)
    times = []
    for _ in range(batches):
        time.sleep(wait)
        t = time.perf_counter()
        next(it)
        times.append((time.perf_counter() - t) * 1e3)
    del it
    return times


def load_samples(config: str, num: int, tmp: str) -> List[Dict]:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmavcl  # noqa: F401
    from mmavcl.registry import DATASETS
    init_default_scope('mmavcl')
    cfg = Config.fromfile(config)
    ds_cfg = cfg.train_dataloader.dataset
    make_video_set(tmp, 2, keyint=30)
    ds_cfg.update(data_root=tmp, ann_file='train.txt',
                  data_prefix=dict(video='videos'))
    ds = DATASETS.build(ds_cfg)
    return [ds[i % len(ds)] for i in range(num)]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG,
                        help='a config with a train_dataloader.dataset')
    parser.add_argument('--num-samples', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batches', type=int, default=12)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--wait', type=float, default=1.0,
                        help='seconds between batches (queue refills)')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    from mmengine.dataset import pseudo_collate

    from mmavcl.datasets import av_collate
    with tempfile.TemporaryDirectory() as tmp:
        samples = load_samples(args.config, args.num_samples, tmp)
    dataset = ServeCopies(samples)
    batch = av_collate(samples[:1])
    shapes = {k: [tuple(v.shape[1:]) for v in views]
              for k, views in batch['inputs'].items()}
    print(f'config: {osp.relpath(args.config, ROOT)}; per sample: {shapes}; '
          f'batch {args.batch_size}, {args.workers} workers')
    collates = {'pseudo_collate': pseudo_collate, 'av_collate': av_collate}
    times = {name: [] for name in collates}
    for r in range(args.rounds):
        order = list(collates) if r % 2 == 0 else list(collates)[::-1]
        for name in order:
            times[name] += receive_ms(dataset, collates[name],
                                      args.batch_size, args.workers,
                                      args.batches, args.wait)
    med = {name: statistics.median(t) for name, t in times.items()}
    for name, ms in med.items():
        print(f'{name}: {ms:.2f} ms to receive a batch (median of '
              f'{len(times[name])})')
    ratio = med['pseudo_collate'] / med['av_collate']
    print(f'av_collate vs pseudo_collate: {ratio:.2f}x')
    return dict(med, ratio=ratio)


if __name__ == '__main__':
    main()
