"""Samples/s of the two-clip audio-visual pipeline from local files, local
WebDataset shards and shards behind a loopback S3 server; and the RSS of a
DataLoader worker streaming shards.

The same generated Kinetics-like videos (``--num-videos`` x 10 s, 340x256,
30 fps, H.264 + AAC) are read three ways, side by side in one run:

* **local files**: ``AVVideoDataset`` over a list of the files;
* **local shards**: ``AVShardDataset`` over shards of the same files
  written by ``tools/data/make_shards.py`` (``--samples-per-shard``);
* **loopback-S3 shards**: the same shards as ``s3://`` objects of
  :func:`mmavcl.testing.serve_s3` on 127.0.0.1 (a real HTTP round trip per
  ranged read, no network beyond the machine: what the client side costs).

The pipeline is ``train_pipeline`` of
``configs/_base_/datasets/k400_ssl_2clip_av.py``. Every source decodes the
same frames: before video ``i`` of round ``r`` (each round reads every
video once) NumPy is seeded with ``seed + r * num_videos + i`` (a shard
stream learns ``i`` from the sample's key and ``r`` from its epoch), so
the clip sampler draws alike. A shard source loops over its shards epoch
after epoch; each worker streams its own shards (``split_shards``).

Output: ``<source> vs <reference>: <ratio>x`` (samples/s over samples/s)
for 0 and N workers, the targets (local shards >= 1.0x local files;
loopback-S3 shards >= 0.9x local shards with N workers), a table of
samples/s, and the worker RSS after ``--rss-warmup`` iterations, at the end
of ``--rss-iters`` and its peak in between (polled each iteration).

    python benchmarks/benchmark_shards.py [--num-videos 8] [--iters 64]
        [--workers 2] [--rounds 2] [--rss-iters 1000]
"""
import argparse
import contextlib
import copy
import io
import itertools
import multiprocessing as mp
import os
import os.path as osp
import tempfile
import time
import warnings
from typing import Callable, Dict, Iterator, List, Tuple

import numpy as np
from torch.utils.data import DataLoader, IterableDataset

from bench_utils import (SeededSet, add_video_args, import_script,
                         make_videos, write_list)
from benchmark_memory import _Worker, rss_mb
from benchmark_pipeline import _load_pipeline

FILES, SHARDS, S3 = 'local files', 'local shards', 'loopback-S3 shards'
#: (source, reference, target ratio or None, with N workers only)
COMPARISONS = ((SHARDS, FILES, 1.0), (S3, SHARDS, 0.9))
BUCKET = 'bench'


class SeededPipeline:
    """The pipeline after ``np.random.seed(seed + epoch * n + index[key])``
    (``epoch``: the shard dataset's), so that a shard stream draws what
    :class:`~bench_utils.SeededSet` draws for the same video and round."""

    def __init__(self, pipeline: Callable, dataset, index: Dict[str, int],
                 seed: int) -> None:
        self.pipeline = pipeline
        self.dataset = dataset
        self.index = index
        self.seed = seed

    def __call__(self, results: Dict) -> Dict:
        np.random.seed(self.seed + self.dataset.epoch * len(self.index) +
                       self.index[results['video_id']])
        return self.pipeline(results)


class LoopedShards(IterableDataset):
    """``AVShardDataset`` epoch after epoch, without end (each DataLoader
    worker streams its own shards)."""

    def __init__(self, dataset) -> None:
        self.ds = dataset

    def __iter__(self) -> Iterator:
        for epoch in itertools.count():
            self.ds.set_epoch(epoch)
            yield from self.ds


def _identity(batch):
    return batch


def stream(source, workers: int, worker_init_fn=None) -> Iterator:
    """Samples of ``source`` (a :class:`SeededSet` or a
    :class:`LoopedShards`), in-process or from ``workers`` workers."""
    if workers == 0 and isinstance(source, SeededSet):
        return (source[k] for k in itertools.count())
    if workers == 0:
        return iter(source)
    # forkserver: obstore (s3://) is not fork-safe, and the in-process
    # rows already used it in this process (a forked worker's first S3
    # read hangs); every source's workers start alike
    return iter(DataLoader(source, batch_size=None, num_workers=workers,
                           collate_fn=_identity, prefetch_factor=2,
                           worker_init_fn=worker_init_fn,
                           multiprocessing_context='forkserver'))


def make_sources(files: List[str], work_dir: str, endpoint: str, args
                 ) -> Dict[str, object]:
    """The three sources over the same videos (shards written once)."""
    from mmavcl.datasets import AVShardDataset, AVVideoDataset
    make_shards = import_script('data', 'make_shards')
    pipeline = _load_pipeline('ssl_2clip_av')
    names = [osp.basename(p) for p in files]
    ann = write_list(osp.join(work_dir, 'bench_list.txt'),
                     [f'{n} 0' for n in names])
    shard_dir = osp.join(work_dir, BUCKET, 'shards')
    with contextlib.redirect_stdout(io.StringIO()):  # its progress bar
        index = make_shards.make_shards(
            ann, osp.dirname(files[0]), shard_dir,
            samples_per_shard=args.samples_per_shard)
    keys = {make_shards._key(n): i for i, n in enumerate(names)}
    pattern = f'shard-000-{{000000..{len(index) - 1:06d}}}.tar'
    s3_args = dict(endpoint_url=endpoint, aws_access_key_id='testing',
                   aws_secret_access_key='testing', region='us-east-1')
    sources = {
        FILES: SeededSet(
            AVVideoDataset(ann_file=ann,
                           data_prefix=dict(video=osp.dirname(files[0])),
                           with_label=False, pipeline=copy.deepcopy(
                               pipeline)), 1 << 30, args.seed)
    }
    for name, shards, backend_args in (
            (SHARDS, osp.join(shard_dir, pattern), None),
            (S3, f's3://{BUCKET}/shards/{pattern}', s3_args)):
        ds = AVShardDataset(shards, copy.deepcopy(pipeline),
                            backend_args=backend_args)
        ds.pipeline = SeededPipeline(ds.pipeline, ds, keys, args.seed)
        sources[name] = LoopedShards(ds)
    return sources


def _views(item) -> Tuple[str, List[List[int]]]:
    """(video key, every view's frame indices) of a packed sample (the
    key as make_shards.py writes it, for files too)."""
    name = item['data_samples'].metainfo['filename'].rsplit('#', 1)[-1]
    return (import_script('data', 'make_shards')._key(osp.basename(name)),
            [list(map(int, m['frame_inds']))
             for m in item['data_samples'].view_meta])


def check_same_frames(sources: Dict[str, object], num_videos: int) -> None:
    """Round 0 of every source (each video once) must decode the same
    frames of the same videos: what makes the timings comparable."""
    seen = {}
    for name, source in sources.items():
        it = stream(source, 0)
        seen[name] = dict(_views(next(it)) for _ in range(num_videos))
    ref = seen[FILES]
    for name, views in seen.items():
        if views != ref:
            raise RuntimeError(f'{name} decoded other frames than {FILES}: '
                               'does a transform before the sampler draw '
                               'random numbers?')


def time_in_process(sources: Dict[str, object], iters: int, rounds: int
                    ) -> Dict[str, float]:
    """Seconds per source for ``iters`` samples with 0 workers, mean of
    ``rounds`` passes: sample by sample the sources take turns (rotating
    who goes first), so machine load hits all alike."""
    secs = dict.fromkeys(sources, 0.0)
    names = list(sources)
    for r in range(rounds):
        its = {name: stream(s, 0) for name, s in sources.items()}
        for k in range(iters):
            shift = (k + r) % len(names)
            for name in names[shift:] + names[:shift]:
                t = time.perf_counter()
                next(its[name])
                secs[name] += time.perf_counter() - t
    return {k: v / rounds for k, v in secs.items()}


def time_workers(sources: Dict[str, object], iters: int, workers: int,
                 rounds: int) -> Dict[str, float]:
    """Seconds per source for ``iters`` samples from ``workers`` workers
    (after the first one: starting them is not timed), mean of ``rounds``
    passes in ABBA order."""
    secs = dict.fromkeys(sources, 0.0)
    names = list(sources)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            it = stream(sources[name], workers)
            next(it)  # the workers are up (their start is not timed)
            t = time.perf_counter()
            for _ in zip(range(iters), it):
                pass
            secs[name] += time.perf_counter() - t
    return {k: v / rounds for k, v in secs.items()}


def measure_rss(source, iters: int, warmup: int) -> Dict:
    """RSS (MB) of the one worker streaming ``source``: after ``warmup``
    samples (start), after ``iters`` (end) and the most in between."""
    queue = mp.get_context('forkserver').SimpleQueue()
    it = stream(source, 1, worker_init_fn=_Worker(queue))
    pid, start, peak = None, None, 0.0
    t = time.perf_counter()
    for n in range(1, iters + 1):
        next(it)
        while pid is None and not queue.empty():
            pid = queue.get()[1]
        if n >= warmup:
            rss = rss_mb(pid)
            start = rss if start is None else start
            peak = max(peak, rss)
    end = rss_mb(pid)
    secs = time.perf_counter() - t
    del it
    return dict(iters=iters, warmup=warmup, start=start, end=end, peak=peak,
                seconds=secs)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='.*FileClient.*')
    import mmavcl.datasets  # noqa: F401  (registers the transforms)
    from mmengine.utils.dl_utils import set_multi_processing

    from mmavcl.testing import serve_s3

    # what the Runner does with default_runtime's env_cfg
    set_multi_processing('fork', opencv_num_threads=0)
    # workers fork from a server that imported these once
    mp.set_forkserver_preload(['torch', 'mmavcl.datasets',
                               'benchmark_shards'])
    out: Dict = dict(rows=[], ratios={})
    with tempfile.TemporaryDirectory() as tmp:
        video_dir = args.video_dir or osp.join(tmp, 'videos')
        os.makedirs(video_dir, exist_ok=True)
        w, h = (int(x) for x in args.size.lower().split('x'))
        files = make_videos(video_dir, args.num_videos, args.keyint,
                            args.duration, (w, h), args.fps)
        print(f'videos: {len(files)} x {args.duration:g} s {w}x{h} '
              f'{args.fps:g} fps H.264 (keyint {args.keyint}) + AAC; '
              f'shards of {args.samples_per_shard} samples', flush=True)
        with serve_s3(tmp) as endpoint:
            sources = make_sources(files, tmp, endpoint, args)
            # also the warm-up (imports, first opens)
            check_same_frames(sources, len(files))
            for workers in sorted({0, args.workers}):
                if workers == 0:
                    secs = time_in_process(sources, args.iters,
                                           args.rounds)
                else:
                    secs = time_workers(sources, args.iters, workers,
                                        args.rounds)
                rate = {k: args.iters / v for k, v in secs.items()}
                for name in sources:
                    out['rows'].append(dict(source=name, workers=workers,
                                            rate=rate[name]))
                for src, ref, target in COMPARISONS:
                    ratio = rate[src] / rate[ref]
                    out['ratios'][(src, ref, workers)] = ratio
                    print(f'{src} ({workers} workers) vs {ref}: '
                          f'{ratio:.2f}x', flush=True)
            for src, ref, target in COMPARISONS:
                ratio = out['ratios'][(src, ref, args.workers)]
                print(f'target {src} >= {target:.1f}x {ref} '
                      f'({args.workers} workers): '
                      f'{"met" if ratio >= target else "MISSED"}')
            print('\n| source | workers | samples/s |\n|---|---|---|')
            for r in out['rows']:
                print(f'| {r["source"]} | {r["workers"]} | '
                      f'{r["rate"]:.2f} |')
            if args.rss_iters:
                r = measure_rss(sources[args.rss_source], args.rss_iters,
                                min(args.rss_warmup, args.rss_iters))
                out['rss'] = r
                change = 100.0 * (r['end'] / r['start'] - 1)
                print(f'\nworker RSS streaming {args.rss_source}: '
                      f'{r["start"]:.0f} MB after {r["warmup"]} samples -> '
                      f'{r["end"]:.0f} MB after {r["iters"]} ({change:+.1f}'
                      f' %), peak {r["peak"]:.0f} MB '
                      f'({r["iters"]} samples in {r["seconds"]:.1f} s)')
                flat = abs(change) <= 10 and r['peak'] <= 1.1 * r['start']
                print('worker RSS target (flat: end and peak within 10 % '
                      f'of start): {"met" if flat else "MISSED"}')
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-videos', type=int, default=8)
    parser.add_argument('--samples-per-shard', type=int, default=2,
                        help='at least workers x 1 shards are needed for '
                        'every worker to stream')
    parser.add_argument('--iters', type=int, default=64,
                        help='samples per measurement (a multiple of '
                        '--num-videos reads every video equally often)')
    parser.add_argument('--workers', type=int, default=2,
                        help='N: also measure with N DataLoader workers')
    parser.add_argument('--rounds', type=int, default=2,
                        help='passes per source (the mean counts)')
    parser.add_argument('--keyint', type=int, default=30)
    add_video_args(parser)
    parser.add_argument('--rss-iters', type=int, default=1000,
                        help='samples the RSS worker streams (0: skip)')
    parser.add_argument('--rss-warmup', type=int, default=50,
                        help='samples before the start reading')
    parser.add_argument('--rss-source', default=S3, choices=[SHARDS, S3])
    return parser.parse_args(argv)


if __name__ == '__main__':
    main()
