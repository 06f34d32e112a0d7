"""What the benchmark scripts of this folder share: the repository root,
the repository's ``tools/`` scripts, generated Kinetics-like videos,
datasets whose random draws repeat, and the timing that compares
candidates side by side in one run.

The scripts import this module (and each other) by name: ``python
benchmarks/<script>.py`` puts this folder first on ``sys.path``, and the
tests insert it there.
"""
import importlib
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def import_script(folder: str, name: str):
    """The module ``tools/<folder>/<name>.py`` (the tools are scripts, not
    a package)."""
    sys.path.insert(0, osp.join(ROOT, 'tools', folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def write_list(path: str, lines: Sequence[str]) -> str:
    """Write ``lines`` to the annotation list ``path``, one a line; returns
    ``path``."""
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


# ---------------------------------------------------------------- videos
def bench_frames(num_frames: int, size: Tuple[int, int],
                 seed: int) -> np.ndarray:
    """uint8 ``(T, H, W, 3)``: a smooth random texture panning like a
    camera, plus mild per-frame noise, so the H.264 bitrate (~0.7 Mb/s at
    340x256) is close to Kinetics' rather than that of flat test patterns."""
    import cv2
    w, h = size
    rng = np.random.default_rng(seed)
    pad_w, pad_h = w // 2, h // 3
    small = rng.integers(0, 256, ((h + pad_h) // 4, (w + pad_w) // 4, 3),
                         dtype=np.uint8)
    tex = cv2.resize(small, (w + pad_w, h + pad_h),
                     interpolation=cv2.INTER_CUBIC)
    out = np.empty((num_frames, h, w, 3), np.uint8)
    for t in range(num_frames):
        dx = int(pad_w / 2 * (1 + np.sin(t / 30.0)))
        dy = int(pad_h / 2 * (1 + np.cos(t / 45.0)))
        noisy = tex[dy:dy + h, dx:dx + w].astype(np.int16) + rng.integers(
            -6, 7, (h, w, 3), dtype=np.int16)
        out[t] = np.clip(noisy, 0, 255)
    return out


def make_videos(out_dir: str, num_videos: int, keyint: int,
                duration: float, size: Tuple[int, int], fps: float,
                sample_rate: int = 44100) -> List[str]:
    """Write (or reuse) ``num_videos`` H.264 + AAC stereo files."""
    from mmavcl.testing import chirp, write_video
    paths = []
    for i in range(num_videos):
        name = (f'bench_{size[0]}x{size[1]}_{duration:g}s_{fps:g}fps_'
                f'g{keyint}_{i}.mp4')
        path = osp.join(out_dir, name)
        if not osp.exists(path):
            frames = bench_frames(int(round(duration * fps)), size, seed=i)
            rng = np.random.default_rng(1000 + i)
            wave = 0.5 * chirp(duration, sample_rate) + 0.1 * rng.uniform(
                -1, 1, int(round(duration * sample_rate))).astype(np.float32)
            write_video(path + '.part.mp4', frames, fps=fps,
                        audio=np.stack([wave, wave]),
                        sample_rate=sample_rate, keyint=keyint, crf=23)
            os.replace(path + '.part.mp4', path)
        paths.append(path)
    return paths


def add_video_args(parser) -> None:
    """The generated videos' options the pipeline scripts share (10 s,
    340x256, 30 fps: Kinetics-like) and the sampling seed."""
    parser.add_argument('--duration', type=float, default=10.0)
    parser.add_argument('--size', default='340x256', help='WxH')
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--video-dir', help='keep generated videos here '
                        '(default: a temporary folder)')
    parser.add_argument('--seed', type=int, default=0)


def make_video_set(root: str, num_videos: int, keyint: int,
                   size: Tuple[int, int] = (340, 256)) -> None:
    """``root/videos/*.mp4`` (Kinetics-like: 10 s, 30 fps, H.264 + AAC, a
    keyframe every ``keyint`` frames) and ``root/train.txt`` listing them
    (label 0). The loaders sample them with an ``InfiniteSampler``, so a
    few files serve any batch size."""
    video_dir = osp.join(root, 'videos')
    os.makedirs(video_dir, exist_ok=True)
    files = make_videos(video_dir, num_videos, keyint, duration=10.0,
                        size=size, fps=30.0)
    write_list(osp.join(root, 'train.txt'),
               [f'{osp.basename(p)} 0' for p in files])


# -------------------------------------------------------------- datasets
class SeededSet:
    """``iters`` items of ``dataset``: item ``k`` is its sample
    ``k % len(dataset)``, read after ``np.random.seed(seed + k)``, so a
    pipeline draws the same views in every candidate and every round."""

    def __init__(self, dataset, iters: int, seed: int = 0) -> None:
        self.ds = dataset
        self.iters = iters
        self.seed = seed

    def __len__(self) -> int:
        return self.iters

    def __getitem__(self, k: int):
        np.random.seed(self.seed + k)
        return self.ds[k % len(self.ds)]


# ---------------------------------------------------------------- timing
def _identity(batch):
    return batch


def time_loader(ds, workers: int) -> float:
    """Seconds to read every item of ``ds`` (``workers=0``: in-process)."""
    if workers == 0:
        t = time.perf_counter()
        for k in range(len(ds)):
            ds[k]
        return time.perf_counter() - t
    from torch.utils.data import DataLoader
    loader = DataLoader(ds, batch_size=1, num_workers=workers,
                        collate_fn=_identity, prefetch_factor=2)
    t = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t


def interleaved_in_process(sets: Dict[str, object], iters: int,
                           rounds: int = 1,
                           cpu: Optional[Dict[str, float]] = None
                           ) -> Dict[str, float]:
    """Seconds per set for ``workers=0``: sample by sample, the sets take
    turns (rotating who goes first), so machine load hits all alike. With
    ``rounds`` > 1 every sample is read that many times per set and its
    best time counts (like ``timeit``): a burst of load from another job
    during one read does not count against that set. ``cpu``, when given,
    receives each set's CPU seconds (this process, all its threads; the
    least of the rounds per sample): what the work costs a machine whose
    cores are all busy, which the load of other jobs barely changes."""
    best = {name: np.full(iters, np.inf) for name in sets}
    least_cpu = {name: np.full(iters, np.inf) for name in sets}
    names = list(sets)
    for r in range(rounds):
        for k in range(iters):
            shift = (k + r) % len(names)
            for name in names[shift:] + names[:shift]:
                c, t = time.process_time(), time.perf_counter()
                sets[name][k]
                best[name][k] = min(best[name][k], time.perf_counter() - t)
                least_cpu[name][k] = min(least_cpu[name][k],
                                         time.process_time() - c)
    if cpu is not None:
        cpu.update({name: float(v.sum()) for name, v in least_cpu.items()})
    return {name: float(v.sum()) for name, v in best.items()}


def alternating_workers(sets: Dict[str, object], workers: int,
                        rounds: int) -> Dict[str, float]:
    """Seconds per set with ``workers`` DataLoader workers, in ABBA rounds."""
    total = {name: 0.0 for name in sets}
    names = list(sets)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            total[name] += time_loader(sets[name], workers)
    return total
