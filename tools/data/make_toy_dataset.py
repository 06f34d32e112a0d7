"""Write the toy audio-visual dataset (real H.264 + AAC .mp4 files).

Every video is a camera panning over a random smooth colour texture; the
class is the camera's motion pattern, and the soundtrack is the sound the
motion "makes" (``(x(t), y(t))`` is the centre of the camera window in
texture pixels, ``H``/``W`` the frame size):

    pitch     f(t) = 250 Hz * 2 ** (2 * (1 - y(t) / H))  (higher when up)
    loudness  a(t) = 0.15 + 0.5 * x(t) / W               (louder on the right)

Classes (``--classes``, default the first four):

    0 horizontal   x oscillates, y fixed
    1 vertical     y oscillates, x fixed
    2 circle_cw    clockwise circle
    3 circle_ccw   counter-clockwise circle
    4 diagonal     oscillation along the main diagonal
    5 antidiagonal oscillation along the other diagonal

Appearance is random per video and independent of the class (texture and
its colours, start phase, amplitude, period, centre), so one frame says
nothing about the class: only motion over several frames, or the sound,
does. The two circle classes differ only in direction, and in the audio only
by the phase between pitch and loudness.

Why a panning camera and not a small moving object: with a disk of a few
pixels moving several pixels per sampled frame, a 3D CNN trained from
scratch on this little data learned neither supervised (validation at
chance after 120 epochs, while memorising training videos by colour) nor
self-supervised; whole-frame motion is learnable in a few hundred
iterations (measured while designing the demo, see README).

Output layout (paths in the lists are relative to ``--out``)::

    OUT/videos/<class>/<class>_<i>.mp4
    OUT/train.txt  OUT/val.txt   ("videos/<class>/<class>_<i>.mp4 <label>")
    OUT/classes.txt

Example::

    python tools/data/make_toy_dataset.py --out data/toy_av --num-per-class 24

Events variant (``--events``, audio-visual event localization in AVE's
layout and annotation format): every video lasts ``--segments`` seconds and
holds one event of its class from ``StartTime`` to ``EndTime`` (whole
seconds, 2-7 s long): only then does the camera move (as above) and make
its sound; before and after, the camera stands still at the event's first
and last position and the soundtrack is faint noise (background
segments)::

    OUT/AVE/<class>_<i>.mp4
    OUT/Annotations.txt   header + every video: "class&<class>_<i>&good&3&8"
    OUT/trainSet.txt  OUT/testSet.txt   (the same format, no header)
    OUT/classes.txt

    python tools/data/make_toy_dataset.py --out data/toy_ave --events

Sound-source localization set (``--sound-localization``, issue #24): on a
static dim texture, one bright black-and-white checkerboard square moves on a
straight line (bouncing off the borders) and is visible only between a random
entry and exit time; only while it is visible a tone sounds, pitched by its
height and loud by its x position (the rules above, with ``(x, y)`` the
square's centre). Two striped, saturated squares move as well and make no
sound. The ground truth is the sounding square's box in every frame where it
is visible (:func:`make_sound_localization_set`)::

    python tools/data/make_toy_dataset.py --out data/toy_soundloc \
        --sound-localization --num-per-class 8
"""
import argparse
import os
import os.path as osp
import time
from multiprocessing import Pool
from typing import List, Optional, Tuple

import numpy as np

from mmavcl.datasets.ave_dataset import AVE_HEADER
from mmavcl.datasets.media import write_video

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


def random_texture(rng: np.random.Generator, h: int, w: int,
                   cell: int = 8) -> np.ndarray:
    """Smooth random colour texture ``(h, w, 3)`` float in [0, 255]:
    uniform colour cells, box-blurred so that motion is visible everywhere.
    """
    coarse = rng.uniform(0, 255, (h // cell + 1, w // cell + 1, 3))
    tex = np.repeat(np.repeat(coarse, cell, 0), cell, 1)[:h, :w]
    kernel = np.ones(cell + 1) / (cell + 1)
    for axis in (0, 1):
        tex = np.apply_along_axis(np.convolve, axis, tex, kernel, 'same')
    return tex


def pan_frames(texture: np.ndarray, x: np.ndarray, y: np.ndarray, h: int,
               w: int) -> np.ndarray:
    """``(T, h, w, 3)`` windows of ``texture`` whose centres follow
    ``(x, y)`` (frame coordinates; the texture is twice the frame size and
    frame coordinate 0 maps to texture coordinate ``w / 2``)."""
    big_h, big_w = texture.shape[:2]
    ox = np.clip(np.round(x + big_w / 4 - w / 2).astype(int), 0, big_w - w)
    oy = np.clip(np.round(y + big_h / 4 - h / 2).astype(int), 0, big_h - h)
    return np.stack([texture[b:b + h, a:a + w] for a, b in zip(ox, oy)])


def make_sample(cls: str, rng: np.random.Generator, size: int, fps: float,
                duration: float, sample_rate: int,
                active: Optional[Tuple[float, float]] = None
                ) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 frames ``(T, size, size, 3)`` and float32 audio ``(L,)``.

    ``active=(start, end)`` (s, the events variant): the camera moves and
    sounds only then; the motion clock stops outside, so the camera stands
    still at its first / last position, and the audio is the noise alone
    (std 0.01; the motion's sound is 0.15-0.65 loud)."""
    h = w = size
    amp = rng.uniform(0.2, 0.3) * size
    margin = amp + 1
    p = dict(
        period=rng.uniform(0.9, 1.6),
        phase=rng.uniform(0, 2 * np.pi),
        amp=amp,
        cx=rng.uniform(margin, w - margin),
        cy=rng.uniform(margin, h - margin))
    n = int(round(duration * fps))
    t = np.arange(n) / fps
    x, y = trajectory(cls, t if active is None else np.clip(t, *active), p)
    frames = pan_frames(random_texture(rng, 2 * h, 2 * w), x, y, h, w)
    frames = frames + rng.normal(0, 3, frames.shape)  # sensor noise
    frames = np.clip(frames, 0, 255).astype(np.uint8)

    ta = np.arange(int(round(duration * sample_rate))) / sample_rate
    xa, ya = trajectory(cls, ta, p)
    freq = 250.0 * 2**(2 * (1 - ya / h))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate + rng.uniform(
        0, 2 * np.pi)
    loud = 0.15 + 0.5 * xa / w
    if active is not None:
        loud = loud * ((ta >= active[0]) & (ta < active[1]))
    wave = loud * np.sin(phase) + rng.normal(0, 0.01, ta.shape)
    return frames, np.clip(wave, -1, 1).astype(np.float32)


def _write_one(job: tuple) -> str:
    """Write one video: ``(path, cls, seed, size, fps, duration, sr,
    active)`` (``active``: the events variant's span, or ``None``)."""
    path, cls, seed, size, fps, duration, sr, active = job
    frames, wave = make_sample(cls, np.random.default_rng(seed), size, fps,
                               duration, sr, active=active)
    write_video(path, frames, fps=fps, audio=wave, sample_rate=sr,
                keyint=int(fps), crf=20)
    return path


def _write_all(jobs: List[tuple], workers: int) -> None:
    if workers > 1:
        with Pool(workers) as pool:
            list(pool.imap_unordered(_write_one, jobs, chunksize=2))
    else:
        for job in jobs:
            _write_one(job)


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
            jobs.append((osp.join(out, rel), cls,
                         seed * 100003 + label * 1009 + i, size, fps,
                         duration, sample_rate, None))
            part = 'val' if i >= num_per_class - num_val else 'train'
            split[part].append(f'{rel} {label}')
    os.makedirs(out, exist_ok=True)
    _write_all(jobs, workers)
    for part, lines in split.items():
        with open(osp.join(out, f'{part}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    return split


# --------------------------------------------------------------- events
# The events variant (--events): AVE's layout, an event that starts and
# stops inside each video (AVE_HEADER: the annotation file's first line).


def make_toy_events(out: str,
                    num_per_class: int = 12,
                    classes: List[str] = CLASSES[:4],
                    val_ratio: float = 0.25,
                    size: int = 64,
                    fps: float = 16.0,
                    num_segments: int = 10,
                    sample_rate: int = 16000,
                    seed: int = 0,
                    workers: int = 2) -> dict:
    """Write the events variant; return ``dict(train=[...], test=[...])``
    of AVE lines ``Category&VideoID&Quality&StartTime&EndTime``."""
    if num_segments < 3:
        raise ValueError(f'num_segments must be >= 3, got {num_segments}')
    jobs, split = [], {'train': [], 'test': []}
    num_test = max(1, int(round(num_per_class * val_ratio)))
    for label, cls in enumerate(classes):
        for i in range(num_per_class):
            vid = f'{cls}_{i:04d}'
            seed_i = seed * 100003 + label * 1009 + i + 7919
            # an event of 2 .. min(7, S - 1) whole seconds, anywhere
            pick = np.random.default_rng(seed_i + 1)
            length = int(pick.integers(2, min(7, num_segments - 1) + 1))
            start = int(pick.integers(0, num_segments - length + 1))
            jobs.append((osp.join(out, 'AVE', vid + '.mp4'), cls, seed_i,
                         size, fps, num_segments, sample_rate,
                         (start, start + length)))
            part = 'test' if i >= num_per_class - num_test else 'train'
            split[part].append(f'{cls}&{vid}&good&{start}&{start + length}')
    os.makedirs(osp.join(out, 'AVE'), exist_ok=True)
    _write_all(jobs, workers)
    with open(osp.join(out, 'Annotations.txt'), 'w') as f:
        f.write('\n'.join([AVE_HEADER] + split['train'] + split['test']) +
                '\n')
    for part, lines in split.items():
        with open(osp.join(out, f'{part}Set.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    return split


# -- sound-source localization set (issue #24) -----------------------------

#: the annotation file of the sound-localization set (see
#: ``configs/_base_/datasets/bench_flickr_soundnet_sound_localization.py``
#: for the format)
SOUND_LOC_ANN = 'sound_localization_val.json'


def _bounce(start: float, speed: float, t: np.ndarray, lo: float,
            hi: float) -> np.ndarray:
    """Position on ``[lo, hi]`` moving at ``speed`` px/s, reflected at the
    ends (a triangle wave)."""
    span = hi - lo
    p = np.mod(start - lo + speed * t, 2 * span)
    return lo + np.where(p > span, 2 * span - p, p)


def make_sound_localization_sample(
        rng: np.random.Generator, size: int, fps: float, duration: float,
        sample_rate: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One video of the sound-localization set.

    Returns:
        uint8 frames ``(T, size, size, 3)``, float32 audio ``(L,)`` and int
        boxes ``(T, 4)`` ``(x1, y1, x2, y2)`` of the sounding square in
        pixels (``x2``/``y2`` exclusive), ``-1`` where it is not visible.
    """
    n = int(round(duration * fps))
    t = np.arange(n) / fps
    # background: the smooth texture, dimmed into [40, 160] so that only
    # the sounding square has pure white and black pixels
    bg = 40 + random_texture(rng, size, size) * (120 / 255)
    frames = np.repeat(bg[None], n, axis=0)

    def path(side: int) -> Tuple[np.ndarray, np.ndarray]:
        speed = rng.uniform(0.25, 0.6) * size * rng.choice([-1, 1], 2)
        x0, y0 = rng.uniform(0, size - side, 2)
        return (np.round(_bounce(x0, speed[0], t, 0, size - side)).astype(int),
                np.round(_bounce(y0, speed[1], t, 0, size - side)).astype(int))

    # silent distractors: saturated colour stripes (never pure white/black)
    for _ in range(2):
        side = int(rng.integers(size // 6, size // 4 + 1))
        xs, ys = path(side)
        colour = rng.permutation([220.0, 60.0, rng.uniform(60, 220)])
        stripes = (np.arange(side) // 2 % 2)[:, None, None]
        patch = np.where(stripes, colour, colour * 0.6)
        patch = np.broadcast_to(patch, (side, side, 3))
        for i in range(n):
            frames[i, ys[i]:ys[i] + side, xs[i]:xs[i] + side] = patch
    # the sounding square: a 4-pixel black/white checkerboard, on top; a
    # half to 5/8 of the frame side, since cIoU binarises the map at its
    # median: a box under a quarter of the frame can never reach cIoU 0.5
    side = int(rng.integers(size // 2, size * 5 // 8 + 1)) // 4 * 4
    xs, ys = path(side)
    cells = np.arange(side) // 4
    checker = ((cells[:, None] + cells[None, :]) % 2 * 255.0)[..., None]
    on_frame = int(rng.integers(0, n // 4 + 1))
    off_frame = int(rng.integers(n - n // 4, n + 1))
    visible = (np.arange(n) >= on_frame) & (np.arange(n) < off_frame)
    boxes = np.full((n, 4), -1, dtype=np.int64)
    for i in np.flatnonzero(visible):
        frames[i, ys[i]:ys[i] + side, xs[i]:xs[i] + side] = checker
        boxes[i] = (xs[i], ys[i], xs[i] + side, ys[i] + side)
    frames = np.clip(frames + rng.normal(0, 2, frames.shape), 0, 255)

    # the tone: on exactly while the square is shown (frame i shows
    # [i / fps, (i + 1) / fps)); pitch and loudness follow its centre
    ta = np.arange(int(round(duration * sample_rate))) / sample_rate
    idx = np.minimum((ta * fps).astype(int), n - 1)
    cx = xs[idx] + side / 2
    cy = ys[idx] + side / 2
    freq = 300.0 * 2**(1.5 * (1 - cy / size))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    loud = (0.2 + 0.4 * cx / size) * visible[idx]
    wave = loud * np.sin(phase) + rng.normal(0, 0.005, ta.shape)
    return (frames.astype(np.uint8), np.clip(wave, -1, 1).astype(np.float32),
            boxes)


def make_sound_localization_set(out: str, num_videos: int = 24,
                                val_ratio: float = 0.25, size: int = 64,
                                fps: float = 16.0, duration: float = 3.0,
                                sample_rate: int = 16000,
                                seed: int = 0) -> dict:
    """Write the sound-localization toy set.

    ``OUT/videos/soundloc/soundloc_<i>.mp4``, ``OUT/train.txt`` and
    ``OUT/val.txt`` (label 0: for pretraining on this set) and
    ``OUT/sound_localization_val.json``, the ground truth of the val
    videos: per video ``"frames"`` maps a frame index (as a string) to its
    annotators, each a list of ``[x1, y1, x2, y2]`` boxes normalised by the
    frame width and height; here one annotator with one box, for every frame
    in which the square is visible. Returns ``{'train': [...], 'val': [...],
    'boxes': {filename: (T, 4) pixel boxes}}``.
    """
    import json
    os.makedirs(out, exist_ok=True)
    num_val = max(1, int(round(num_videos * val_ratio)))
    split, all_boxes, records = {'train': [], 'val': []}, {}, []
    for i in range(num_videos):
        rel = f'videos/soundloc/soundloc_{i:04d}.mp4'
        rng = np.random.default_rng(seed * 100003 + 7919 + i)
        frames, wave, boxes = make_sound_localization_sample(
            rng, size, fps, duration, sample_rate)
        write_video(osp.join(out, rel), frames, fps=fps, audio=wave,
                    sample_rate=sample_rate, keyint=int(fps), crf=18)
        all_boxes[rel] = boxes
        part = 'val' if i >= num_videos - num_val else 'train'
        split[part].append(f'{rel} 0')
        if part == 'val':
            records.append(dict(filename=rel, frames={
                str(f): [[(b / size).tolist()]]
                for f, b in enumerate(boxes) if b[0] >= 0}))
    for part, lines in split.items():
        with open(osp.join(out, f'{part}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('soundloc\n')
    with open(osp.join(out, SOUND_LOC_ANN), 'w') as f:
        json.dump(dict(metainfo=dict(box_format='xyxy, normalised'),
                       data_list=records), f)
    return dict(split, boxes=all_boxes)


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
    # the events variant (AVE layout; see the module docstring)
    parser.add_argument('--events', action='store_true',
                        help='write the event-localization variant')
    parser.add_argument('--segments', type=int, default=10,
                        help='--events: one-second segments per video')
    parser.add_argument(
        '--sound-localization', action='store_true',
        help='write the sound-source localization set instead: '
        '--num-per-class videos of one sounding square, boxes in '
        f'{SOUND_LOC_ANN}')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.size % 2:
        raise SystemExit('--size must be even (yuv420p)')
    start = time.time()
    if args.events:
        split = make_toy_events(args.out, args.num_per_class, args.classes,
                                args.val_ratio, args.size, args.fps,
                                args.segments, args.sample_rate, args.seed,
                                args.workers)
        print(f'wrote {len(split["train"])} train + {len(split["test"])} '
              f'test event videos to {args.out} in '
              f'{time.time() - start:.1f} s')
        return
    if args.sound_localization:
        split = make_sound_localization_set(
            args.out, args.num_per_class, args.val_ratio, args.size,
            args.fps, args.duration, args.sample_rate, args.seed)
        print(f'wrote {len(split["train"])} train + {len(split["val"])} '
              f'val sound-localization videos to {args.out} in '
              f'{time.time() - start:.1f} s')
        return
    split = make_toy_dataset(args.out, args.num_per_class, args.classes,
                             args.val_ratio, args.size, args.fps,
                             args.duration, args.sample_rate, args.seed,
                             args.workers)
    print(f'wrote {len(split["train"])} train + {len(split["val"])} val '
          f'videos to {args.out} in {time.time() - start:.1f} s')


if __name__ == '__main__':
    main()
