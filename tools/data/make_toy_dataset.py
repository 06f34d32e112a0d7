"""Write the toy audio-visual dataset (real H.264 + AAC .mp4 files).

Every video shows one disk moving over a background; the class is the
disk's motion pattern, and the soundtrack is the sound the disk "makes":

    pitch     f(t) = 250 Hz * 2 ** (2 * (1 - y(t) / H))  (higher when up)
    loudness  a(t) = 0.15 + 0.5 * x(t) / W               (louder on the right)

Classes (``--classes``, default the first four):

    0 horizontal   x oscillates, y fixed
    1 vertical     y oscillates, x fixed
    2 circle_cw    clockwise circle
    3 circle_ccw   counter-clockwise circle
    4 diagonal     oscillation along the main diagonal
    5 antidiagonal oscillation along the other diagonal

Appearance is random per video and independent of the class (background and
disk colour, disk radius, texture noise, start phase, amplitude, period,
centre), so one frame says nothing about the class: only motion over
several frames, or the sound, does. The two circle classes differ only in
direction, and in the audio only by the phase between pitch and loudness.

Output layout (paths in the lists are relative to ``--out``)::

    OUT/videos/<class>/<class>_<i>.mp4
    OUT/train.txt  OUT/val.txt   ("videos/<class>/<class>_<i>.mp4 <label>")
    OUT/classes.txt

Example::

    python tools/data/make_toy_dataset.py --out data/toy_av --num-per-class 24
"""
import argparse
import os
import os.path as osp
import time
from multiprocessing import Pool
from typing import List, Tuple

import numpy as np

from mmavcl.datasets.media_writer import write_video

CLASSES = ('horizontal', 'vertical', 'circle_cw', 'circle_ccw', 'diagonal',
           'antidiagonal')


def trajectory(cls: str, t: np.ndarray,
               p: dict) -> Tuple[np.ndarray, np.ndarray]:
    """Disk centre ``(x(t), y(t))`` in pixels (image y grows downwards)."""
    w = 2 * np.pi * t / p['period'] + p['phase']
    a, cx, cy = p['amp'], p['cx'], p['cy']
    if cls == 'horizontal':
        return cx + a * np.sin(w), np.full_like(t, cy)
    if cls == 'vertical':
        return np.full_like(t, cx), cy + a * np.sin(w)
    if cls == 'circle_cw':  # clockwise on screen (y down)
        return cx + a * np.cos(w), cy + a * np.sin(w)
    if cls == 'circle_ccw':
        return cx + a * np.cos(w), cy - a * np.sin(w)
    if cls == 'diagonal':
        s = a * np.sin(w) / np.sqrt(2)
        return cx + s, cy + s
    if cls == 'antidiagonal':
        s = a * np.sin(w) / np.sqrt(2)
        return cx + s, cy - s
    raise ValueError(f'unknown class {cls!r}')


def make_sample(cls: str, rng: np.random.Generator, size: int, fps: float,
                duration: float,
                sample_rate: int) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 frames ``(T, size, size, 3)`` and float32 audio ``(L,)``."""
    h = w = size
    radius = rng.uniform(0.08, 0.14) * size
    amp = rng.uniform(0.2, 0.3) * size
    margin = radius + amp
    p = dict(
        period=rng.uniform(0.9, 1.6),
        phase=rng.uniform(0, 2 * np.pi),
        amp=amp,
        cx=rng.uniform(margin, w - margin),
        cy=rng.uniform(margin, h - margin))
    # appearance: random, class-independent
    bg = rng.uniform(0, 255, 3)
    fg = rng.uniform(0, 255, 3)
    while np.abs(fg - bg).sum() < 150:  # keep the disk visible
        fg = rng.uniform(0, 255, 3)
    texture = rng.normal(0, 12, (h, w, 1))
    n = int(round(duration * fps))
    t = np.arange(n) / fps
    x, y = trajectory(cls, t, p)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = np.sqrt((xx[None] - x[:, None, None])**2 +
                   (yy[None] - y[:, None, None])**2)
    alpha = np.clip(radius - dist + 0.5, 0, 1)[..., None]  # soft edge
    frames = (1 - alpha) * (bg + texture)[None] + alpha * fg
    frames += rng.normal(0, 4, frames.shape)  # sensor noise
    frames = np.clip(frames, 0, 255).astype(np.uint8)

    ta = np.arange(int(round(duration * sample_rate))) / sample_rate
    xa, ya = trajectory(cls, ta, p)
    freq = 250.0 * 2**(2 * (1 - ya / h))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate + rng.uniform(
        0, 2 * np.pi)
    loud = 0.15 + 0.5 * xa / w
    wave = loud * np.sin(phase) + rng.normal(0, 0.01, ta.shape)
    return frames, np.clip(wave, -1, 1).astype(np.float32)


def _write_one(job: tuple) -> str:
    out, rel, cls, seed, size, fps, duration, sr = job
    rng = np.random.default_rng(seed)
    frames, wave = make_sample(cls, rng, size, fps, duration, sr)
    write_video(
        osp.join(out, rel),
        frames,
        fps=fps,
        audio=wave,
        sample_rate=sr,
        keyint=int(fps),
        crf=20)
    return rel


def make_toy_dataset(out: str,
                     num_per_class: int = 24,
                     classes: List[str] = CLASSES[:4],
                     val_ratio: float = 0.25,
                     size: int = 64,
                     fps: float = 16.0,
                     duration: float = 3.0,
                     sample_rate: int = 16000,
                     seed: int = 0,
                     workers: int = 2) -> dict:
    """Write the dataset; return ``dict(train=[...], val=[...])`` lines."""
    jobs, split = [], {'train': [], 'val': []}
    num_val = max(1, int(round(num_per_class * val_ratio)))
    for label, cls in enumerate(classes):
        for i in range(num_per_class):
            rel = f'videos/{cls}/{cls}_{i:04d}.mp4'
            jobs.append((out, rel, cls, seed * 100003 + label * 1009 + i,
                         size, fps, duration, sample_rate))
            part = 'val' if i >= num_per_class - num_val else 'train'
            split[part].append(f'{rel} {label}')
    os.makedirs(out, exist_ok=True)
    if workers > 1:
        with Pool(workers) as pool:
            list(pool.imap_unordered(_write_one, jobs, chunksize=4))
    else:
        for job in jobs:
            _write_one(job)
    for part, lines in split.items():
        with open(osp.join(out, f'{part}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    return split


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-per-class', type=int, default=24)
    parser.add_argument(
        '--classes',
        nargs='+',
        default=list(CLASSES[:4]),
        choices=CLASSES,
        help='motion classes, in label order')
    parser.add_argument('--val-ratio', type=float, default=0.25)
    parser.add_argument('--size', type=int, default=64, help='frame side')
    parser.add_argument('--fps', type=float, default=16.0)
    parser.add_argument('--duration', type=float, default=3.0)
    parser.add_argument('--sample-rate', type=int, default=16000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=2)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.size % 2:
        raise SystemExit('--size must be even (yuv420p)')
    start = time.time()
    split = make_toy_dataset(args.out, args.num_per_class, args.classes,
                             args.val_ratio, args.size, args.fps,
                             args.duration, args.sample_rate, args.seed,
                             args.workers)
    print(f'wrote {len(split["train"])} train + {len(split["val"])} val '
          f'videos to {args.out} in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
