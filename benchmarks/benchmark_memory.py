"""Memory of the dataset index and of DataLoader workers.

1. **Index**: ``AVVideoDataset`` on a generated annotation list of
   ``--index-lines`` lines (default 1,000,000 Kinetics-style paths with a
   label), built in a fresh subprocess. Reported: build time, the RSS
   increase over the process after imports (peak and retained), and the
   whole process's peak RSS. Target: <= 300 MB, <= 20 s.
2. **Workers**: a DataLoader with ``--workers`` workers, shuffling over a
   ``--worker-lines``-line list (every line points at one of a few small
   generated H.264 + AAC videos) through a real two-clip audio-visual
   pipeline (``--video-backend``, default the PyAV reader of the K400
   training configs) for ``--worker-iters`` batches of one sample. Each
   worker's RSS (``/proc/<pid>/status`` VmRSS) is read after ``--warmup``
   iterations and at the end. Target: flat within +-10 %.

    python benchmarks/benchmark_memory.py [--index-lines 1000000]
        [--workers 2] [--worker-iters 1000]
    python benchmarks/benchmark_pipeline.py --memory [same options]
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict

from bench_utils import ROOT

CLASSES = ('abseiling', 'air_drumming', 'answering_questions', 'applauding',
           'applying_cream', 'archery', 'arm_wrestling', 'arranging_flowers')


def rss_mb(pid: int = 0) -> float:
    """Current resident set size of ``pid`` (0 = this process) in MB."""
    path = f'/proc/{pid or os.getpid()}/status'
    with open(path) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f'no VmRSS in {path}')


def write_index(path: str, lines: int) -> None:
    """Kinetics-400-style list: ``<class>/<11-char id>_<start>_<end>.mp4
    <label>`` (about 50 bytes a line)."""
    with open(path, 'w') as f:
        chunk = []
        for i in range(lines):
            vid = format(i * 2654435761 % 2**64, '016x')[:11]
            c = i % len(CLASSES)
            chunk.append(f'{CLASSES[c]}/{vid}_{i % 300:06d}_'
                         f'{i % 300 + 10:06d}.mp4 {c}\n')
            if len(chunk) == 10000:
                f.writelines(chunk)
                chunk = []
        f.writelines(chunk)


def _index_child(ann_file: str) -> Dict:
    """Runs in a fresh interpreter: build the index, report memory."""
    import mmavcl.datasets  # noqa: F401
    from mmavcl.datasets import AVVideoDataset
    base = rss_mb()
    peak = [base]
    done = threading.Event()

    def poll() -> None:  # ru_maxrss may still hold an import-time peak
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.005)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t = time.perf_counter()
    ds = AVVideoDataset(ann_file=ann_file, data_prefix=dict(video='v'),
                        with_label=True, audio_source='container')
    secs = time.perf_counter() - t
    done.set()
    poller.join()
    peak[0] = max(peak[0], rss_mb())
    n = len(ds)
    info = ds.get_data_info(n - 1)
    return dict(lines=n, build_s=secs, base_rss_mb=base,
                peak_increase_mb=peak[0] - base,
                peak_total_mb=peak[0],
                retained_increase_mb=rss_mb() - base,
                last=info['video_id'])


def measure_index(lines: int, work_dir: str) -> Dict:
    ann = osp.join(work_dir, f'index_{lines}.txt')
    t = time.perf_counter()
    write_index(ann, lines)
    write_s = time.perf_counter() - t
    code = ('import json, sys; sys.path.insert(0, %r); '
            'import benchmark_memory as m; '
            'print(json.dumps(m._index_child(%r)))' %
            (osp.dirname(osp.abspath(__file__)), ann))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res['file_mb'] = osp.getsize(ann) / 2**20
    res['write_s'] = write_s
    return res


class _Worker:
    """Picklable worker_init_fn that records worker pids."""

    def __init__(self, queue) -> None:
        self.queue = queue

    def __call__(self, worker_id: int) -> None:
        self.queue.put((worker_id, os.getpid()))


def measure_workers(workers: int, iters: int, warmup: int, lines: int,
                    work_dir: str, backend: str = 'pyav') -> Dict:
    import multiprocessing as mp

    from torch.utils.data import DataLoader

    import mmavcl.datasets  # noqa: F401
    from mmavcl.datasets import AVVideoDataset
    from mmavcl.testing import make_av_video
    from mmengine.dataset import pseudo_collate
    vdir = osp.join(work_dir, 'videos')
    for i in range(4):
        make_av_video(osp.join(vdir, f'v{i}.mp4'), num_frames=48, fps=16,
                      size=(48, 64), keyint=16, pattern='noise', seed=i)
    ann = osp.join(work_dir, 'workers.txt')
    with open(ann, 'w') as f:
        f.writelines(f'v{i % 4}.mp4\n' for i in range(lines))
    pipeline = [
        dict(type='VideoInit', backend=backend),
        dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=2,
             mode='random', audio=True),
        dict(type='DecodeVideoViews'),
        dict(type='DecodeAudioViews', sample_rate=16000),
        dict(type='RandomResizedCropViews', size=32, scale=(0.2, 1.0)),
        dict(type='FlipViews', flip_prob=0.5),
        dict(type='PackAVInputs'),
    ]
    ds = AVVideoDataset(ann_file=ann, data_prefix=dict(video=vdir),
                        with_label=False, pipeline=pipeline)
    queue = mp.get_context('fork').SimpleQueue()
    loader = DataLoader(ds, batch_size=1, shuffle=True, num_workers=workers,
                        collate_fn=pseudo_collate, persistent_workers=True,
                        worker_init_fn=_Worker(queue),
                        multiprocessing_context='fork')
    pids: Dict[int, int] = {}
    first: Dict[int, float] = {}
    t = time.perf_counter()
    n = 0
    while n < iters:
        for _ in loader:
            n += 1
            while not queue.empty():
                wid, pid = queue.get()
                pids[wid] = pid
            if n == warmup:
                first = {w: rss_mb(p) for w, p in pids.items()}
            if n >= iters:
                break
    last = {w: rss_mb(p) for w, p in pids.items()}
    secs = time.perf_counter() - t
    del loader
    return dict(workers=workers, iters=iters, warmup=warmup, lines=lines,
                seconds=secs, rss_first=first, rss_last=last,
                change_pct={w: 100.0 * (last[w] / first[w] - 1)
                            for w in first})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--index-lines', type=int, default=1_000_000,
                        help='annotation lines for the index test (0: skip)')
    parser.add_argument('--workers', type=int, default=2,
                        help='DataLoader workers (0: skip the worker test)')
    parser.add_argument('--worker-iters', type=int, default=1000)
    parser.add_argument('--warmup', type=int, default=50,
                        help='iterations before the first RSS reading')
    parser.add_argument('--worker-lines', type=int, default=100_000,
                        help='annotation lines behind the worker test')
    parser.add_argument('--video-backend', default='pyav',
                        choices=['pyav', 'decord'],
                        help='VideoInit backend of the worker test (pyav: '
                        'what the K400 training configs use)')
    return parser.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    out: Dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.index_lines:
            r = measure_index(args.index_lines, tmp)
            out['index'] = r
            print(f'index: {r["lines"]:,} lines ({r["file_mb"]:.0f} MB '
                  f'list) built in {r["build_s"]:.1f} s; RSS increase: '
                  f'peak {r["peak_increase_mb"]:.0f} MB, retained '
                  f'{r["retained_increase_mb"]:.0f} MB (process: '
                  f'{r["base_rss_mb"]:.0f} MB after imports, peak '
                  f'{r["peak_total_mb"]:.0f} MB)')
            ok = r['peak_increase_mb'] <= 300 and r['build_s'] <= 20
            print(f'index target (<= 300 MB, <= 20 s): '
                  f'{"met" if ok else "MISSED"}')
        if args.workers:
            r = measure_workers(args.workers, args.worker_iters,
                                min(args.warmup, args.worker_iters),
                                args.worker_lines, tmp, args.video_backend)
            out['workers'] = r
            for w in sorted(r['rss_last']):
                a = r['rss_first'].get(w, float('nan'))
                b = r['rss_last'][w]
                print(f'worker {w} RSS: {a:.0f} MB after {r["warmup"]} '
                      f'iterations -> {b:.0f} MB after {r["iters"]} '
                      f'({100.0 * (b / a - 1):+.1f} %)')
            flat = all(abs(c) <= 10 for c in r['change_pct'].values())
            print(f'worker RSS target (flat within +-10 %): '
                  f'{"met" if flat else "MISSED"} '
                  f'({r["iters"]} iterations in {r["seconds"]:.1f} s, '
                  f'{args.video_backend} video reader)')
    return out


if __name__ == '__main__':
    main()
