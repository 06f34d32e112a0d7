"""Make the edited copies of a video fingerprinting benchmark (AVTSS).

Every video of a list is decoded (PyAV), edited, and encoded again with
FFmpeg's encoders through PyAV (H.264 + AAC), once per edit; the edits are
what a copy meets on the way back to the web:

==================  ======================================================
edit                what the copy is
==================  ======================================================
``crop``            70 % of each side at a random offset, kept at that size
``scale``           downscaled to half the width and height (area filter)
``blur``            Gaussian blur, sigma 2 % of the short side (>= 1 px)
``brightness``      brighter and more contrasted: ``1.25 x + 20``
``colour``          hue turned by 30 degrees, saturation x 0.6
``reencode``        x264 at 0.05 bit per pixel (average bit rate mode) and a
                    keyframe every 0.5 s
``speed``           played 1.5x faster: every 1.5th frame, audio resampled
                    (pitch rises, as a sped-up player's)
``temporal_crop``   the middle 60 % of the duration, at a random start
``audio_gain``      audio at -6 dB
``audio_noise``     white noise added at 10 dB SNR
``a+b+...``         the edits one after the other (combinations)
==================  ======================================================

Random choices (crop offset, temporal start, noise) come from a generator
seeded by ``(seed, video index, edit)``, so a rerun writes the same copies.

Output (paths relative to the list's video prefix, as the dataset reads
them)::

    <prefix>/<out-dir>/<edit>/<video path>      the copies
    <out-list>                                  the fingerprint list (JSON)

The list holds the originals (``"edit": "original"``, the gallery) and the
copies (``"source"``: the original's path): the test dataset reads it as an
annotation file and :class:`mmavcl.evaluation.FingerprintMetric` reads it
for the sources and edit types.

Example (the toy set of tools/data/make_toy_dataset.py)::

    python tools/data/make_fingerprint_queries.py val.txt \\
        --data-root data/toy_av --out-list data/toy_av/fingerprint.json
"""
import argparse
import json
import os
import os.path as osp
import zlib
from dataclasses import dataclass, field, replace
from multiprocessing import Pool
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from mmavcl.datasets.media import (PyAVVideoReader, play_at_speed,
                                   probe_media, read_audio_span, write_video)

ORIGINAL = 'original'  # the edit name of a gallery video


@dataclass
class Clip:
    """A decoded video and how it will be encoded.

    ``frames`` uint8 ``(T, H, W, 3)`` RGB at ``fps``; ``audio`` float32
    ``(L,)`` mono at ``sample_rate`` Hz, or ``None``; ``encode``: keyword
    arguments of :func:`mmavcl.datasets.media.write_video`.
    """
    frames: np.ndarray
    fps: float
    audio: Optional[np.ndarray]
    sample_rate: int
    encode: Dict = field(default_factory=dict)


def _even(x: float, low: int = 8) -> int:
    return max(low, int(x) // 2 * 2)


def _map_frames(clip: Clip, fn: Callable[[np.ndarray], np.ndarray]) -> Clip:
    return replace(clip, frames=np.stack([fn(f) for f in clip.frames]))


def edit_crop(clip: Clip, rng: np.random.Generator) -> Clip:
    h, w = clip.frames.shape[1:3]
    ch, cw = _even(0.7 * h), _even(0.7 * w)
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return replace(clip, frames=np.ascontiguousarray(
        clip.frames[:, y:y + ch, x:x + cw]))


def edit_scale(clip: Clip, rng: np.random.Generator) -> Clip:
    h, w = clip.frames.shape[1:3]
    size = (_even(w / 2), _even(h / 2))  # cv2: (w, h)
    return _map_frames(
        clip, lambda f: cv2.resize(f, size, interpolation=cv2.INTER_AREA))


def edit_blur(clip: Clip, rng: np.random.Generator) -> Clip:
    sigma = max(1.0, 0.02 * min(clip.frames.shape[1:3]))
    return _map_frames(clip, lambda f: cv2.GaussianBlur(f, (0, 0), sigma))


def edit_brightness(clip: Clip, rng: np.random.Generator) -> Clip:
    out = clip.frames.astype(np.float32) * 1.25 + 20
    return replace(clip, frames=np.clip(out, 0, 255).round().astype(
        np.uint8))


def edit_colour(clip: Clip, rng: np.random.Generator) -> Clip:
    def turn(f: np.ndarray) -> np.ndarray:
        hsv = cv2.cvtColor(f, cv2.COLOR_RGB2HSV).astype(np.int32)
        hsv[..., 0] = (hsv[..., 0] + 15) % 180  # OpenCV hue: 2 degrees/unit
        hsv[..., 1] = hsv[..., 1] * 6 // 10
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return _map_frames(clip, turn)


def edit_reencode(clip: Clip, rng: np.random.Generator) -> Clip:
    h, w = clip.frames.shape[1:3]
    bit_rate = int(0.05 * h * w * clip.fps)
    return replace(clip, encode=dict(clip.encode, bit_rate=bit_rate,
                                     keyint=max(1, round(clip.fps / 2))))


def edit_speed(clip: Clip, rng: np.random.Generator,
               speed: float = 1.5) -> Clip:
    num = int(np.floor((len(clip.frames) - 1) / speed)) + 1
    inds = np.floor(np.arange(num) * speed).astype(np.int64)
    audio = clip.audio
    if audio is not None:
        length = int(np.floor(len(audio) / speed))
        audio = play_at_speed(audio, clip.sample_rate, 0, speed,
                              clip.sample_rate, length)
    return replace(clip, frames=clip.frames[inds], audio=audio)


def edit_temporal_crop(clip: Clip, rng: np.random.Generator,
                       keep: float = 0.6) -> Clip:
    t = len(clip.frames)
    n = max(1, int(round(keep * t)))
    s = int(rng.integers(0, t - n + 1))
    audio = clip.audio
    if audio is not None:
        a0 = int(round(s / clip.fps * clip.sample_rate))
        a1 = int(round((s + n) / clip.fps * clip.sample_rate))
        audio = audio[a0:a1]
    return replace(clip, frames=clip.frames[s:s + n], audio=audio)


def edit_audio_gain(clip: Clip, rng: np.random.Generator) -> Clip:
    if clip.audio is None:
        return clip
    return replace(clip, audio=clip.audio * np.float32(10**(-6 / 20)))


def edit_audio_noise(clip: Clip, rng: np.random.Generator,
                     snr_db: float = 10.0) -> Clip:
    if clip.audio is None:
        return clip
    rms = float(np.sqrt(np.mean(clip.audio.astype(np.float64)**2)))
    noise = rng.standard_normal(len(clip.audio)) * rms * 10**(-snr_db / 20)
    return replace(clip, audio=np.clip(clip.audio + noise, -1,
                                       1).astype(np.float32))


#: the atomic edits; a spec ``'a+b'`` applies ``a`` then ``b``
EDITS: Dict[str, Callable[[Clip, np.random.Generator], Clip]] = {
    'crop': edit_crop,
    'scale': edit_scale,
    'blur': edit_blur,
    'brightness': edit_brightness,
    'colour': edit_colour,
    'reencode': edit_reencode,
    'speed': edit_speed,
    'temporal_crop': edit_temporal_crop,
    'audio_gain': edit_audio_gain,
    'audio_noise': edit_audio_noise,
}
DEFAULT_EDITS = tuple(EDITS) + ('crop+blur+reencode',
                                'speed+colour+audio_noise')


def check_edits(specs: Sequence[str]) -> List[str]:
    """The specs, each checked (``ValueError`` naming an unknown edit)."""
    for spec in specs:
        for name in spec.split('+'):
            if name not in EDITS:
                raise ValueError(f'unknown edit {name!r} in {spec!r}; '
                                 f'known: {", ".join(EDITS)}')
        if spec == ORIGINAL:
            raise ValueError(f'{ORIGINAL!r} names the unedited videos')
    return list(specs)


def apply_edit(clip: Clip, spec: str, rng: np.random.Generator) -> Clip:
    for name in spec.split('+'):
        clip = EDITS[name](clip, rng)
    return clip


def decode_clip(filename: str, sample_rate: int = 16000) -> Clip:
    """Every frame of ``filename`` and its audio (mono, ``sample_rate``)
    from the first frame's time on, or ``None`` without an audio stream."""
    reader = PyAVVideoReader(filename)
    try:
        frames = reader.get_batch(np.arange(reader.num_frames))
        fps, start = float(reader.fps), float(reader.start_time)
    finally:
        reader.close()
    audio = None
    if probe_media(filename)['has_audio']:
        length = int(round(len(frames) / fps * sample_rate))
        wave, t0 = read_audio_span(filename, start, start + len(frames) / fps,
                                   sample_rate)
        # the span starts at the first frame; pad where the audio is short
        first = int(round((t0 - start) * sample_rate))
        audio = np.zeros(length, np.float32)
        src = wave[max(0, -first):][:length - max(0, first)]
        audio[max(0, first):max(0, first) + len(src)] = src
    return Clip(frames, fps, audio, sample_rate)


def _seed(seed: int, index: int, spec: str) -> np.random.Generator:
    return np.random.default_rng([seed, index, zlib.crc32(spec.encode())])


def make_copies(job: tuple) -> List[dict]:
    """Write every edit of one video; returns its list records."""
    index, src_abs, video_id, prefix, out_dir, specs, seed, sr = job
    clip = decode_clip(src_abs, sr)
    records = []
    for spec in specs:
        edited = apply_edit(clip, spec, _seed(seed, index, spec))
        rel = osp.join(out_dir, spec, video_id)
        write_video(osp.join(prefix, rel), edited.frames, fps=edited.fps,
                    audio=edited.audio, sample_rate=edited.sample_rate,
                    **edited.encode)
        records.append(dict(filename=rel, source=video_id, edit=spec))
    return records


def make_fingerprint_queries(ann_file: str,
                             out_list: str,
                             data_root: str = '',
                             video_prefix: str = '',
                             out_dir: str = 'fingerprint',
                             edits: Sequence[str] = DEFAULT_EDITS,
                             seed: int = 0,
                             sample_rate: int = 16000,
                             max_videos: Optional[int] = None,
                             workers: int = 1) -> dict:
    """Write the copies and the list; returns the list (a dict).

    Args:
        ann_file: The originals, any list ``AVVideoDataset`` reads
            (relative to ``data_root``).
        out_list: The fingerprint list to write (``.json``).
        data_root, video_prefix: As the dataset config's ``data_root`` and
            ``data_prefix['video']``.
        out_dir: Folder of the copies, under the video prefix.
        edits: Edit specs (see the module docstring).
        seed: Seed of the random choices.
        sample_rate: Audio rate of the copies (Hz, mono).
        max_videos: Use only the first ``n`` videos of the list.
        workers: Processes.
    """
    from mmavcl.datasets import AVVideoDataset
    specs = check_edits(edits)
    if not out_list.endswith('.json'):
        raise ValueError(f'--out-list {out_list}: must end in .json')
    ds = AVVideoDataset(ann_file, data_root=data_root,
                        data_prefix=dict(video=video_prefix),
                        audio_source='none', with_label=None)
    prefix = ds.data_prefix['video']
    n = len(ds) if max_videos is None else min(len(ds), max_videos)
    infos = [ds.get_data_info(i) for i in range(n)]
    jobs = [(i, info['filename'], info['video_id'], prefix, out_dir, specs,
             seed, sample_rate) for i, info in enumerate(infos)]
    if workers > 1:
        with Pool(workers) as pool:
            copies = pool.map(make_copies, jobs)
    else:
        copies = [make_copies(j) for j in jobs]
    records = [dict(filename=info['video_id'], source=info['video_id'],
                    edit=ORIGINAL) for info in infos]
    records += [r for per_video in copies for r in per_video]
    listing = dict(metainfo=dict(protocol='fingerprint', edits=specs,
                                 seed=seed, source_list=ann_file),
                   data_list=records)
    if osp.dirname(out_list):
        os.makedirs(osp.dirname(out_list), exist_ok=True)
    with open(out_list, 'w', encoding='utf-8') as f:
        json.dump(listing, f, indent=1)
    return listing


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('ann_file', help='list of the original videos')
    p.add_argument('--out-list', required=True,
                   help='fingerprint list to write (.json)')
    p.add_argument('--data-root', default='',
                   help="the dataset config's data_root")
    p.add_argument('--video-prefix', default='',
                   help="the dataset config's data_prefix['video']")
    p.add_argument('--out-dir', default='fingerprint',
                   help='folder of the copies under the video prefix')
    p.add_argument('--edits', nargs='+', default=list(DEFAULT_EDITS),
                   help='edit specs; a+b chains edits (default: all '
                   'atomic edits and two combinations)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--sample-rate', type=int, default=16000)
    p.add_argument('--max-videos', type=int, default=None)
    p.add_argument('--workers', type=int, default=1)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    listing = make_fingerprint_queries(
        args.ann_file, args.out_list, data_root=args.data_root,
        video_prefix=args.video_prefix, out_dir=args.out_dir,
        edits=args.edits, seed=args.seed, sample_rate=args.sample_rate,
        max_videos=args.max_videos, workers=args.workers)
    num_orig = sum(r['edit'] == ORIGINAL for r in listing['data_list'])
    print(f'wrote {args.out_list}: {num_orig} originals, '
          f'{len(listing["data_list"]) - num_orig} copies '
          f'({len(listing["metainfo"]["edits"])} edits)')
    return listing


if __name__ == '__main__':
    main()
