"""Samples/s of audio pipelines reading PCM WAVs: the standard-library WAV
reader against FFmpeg (PyAV) on the same files, side by side in one run.

Audio-only datasets (ESC-50: 5 s, 44.1 kHz mono 16-bit WAVs) and the
sidecars of ``tools/data/extract_audio.py`` (16 kHz mono WAVs) are read by
``mmavcl.datasets.media.wav`` without opening them in FFmpeg.
The reference reads the very same bytes through PyAV: each file is also
linked under a ``.riff`` name, which FFmpeg recognises by its content and
the WAV reader leaves alone (it takes ``.wav`` names only). Both sides run
the shipped ``bench_esc50`` pipelines (``AudioInit -> SampleAudioClips ->
DecodeAudioViews -> PackAVInputs``; train: one random 2 s crop, test: ten)
with NumPy seeded alike per sample, so they cut the same crops. The two
datasets take turns sample by sample; each sample is read ``--rounds``
times per side and its best time counts.

    python benchmarks/benchmark_audio.py [--num-files 8] [--iters 64]
        [--rounds 3] [--duration 5] [--sample-rate 44100]
"""
import argparse
import copy
import os
import os.path as osp
import tempfile
from typing import Dict, List

import numpy as np

from bench_utils import ROOT, SeededSet, interleaved_in_process, write_list

CONFIG = osp.join(ROOT, 'configs/_base_/datasets/bench_esc50.py')
READER = 'wav reader'
REFERENCE = 'pyav'


def audio_set(root: str, names: List[str], pipeline: List[dict],
              list_file: str, iters: int) -> SeededSet:
    """``AVAudioDataset`` over ``names``; item ``k`` reads file
    ``k % len(names)`` after ``np.random.seed(k)``."""
    from mmavcl.datasets import AVAudioDataset
    return SeededSet(
        AVAudioDataset(write_list(list_file, names),
                       data_prefix=dict(audio=root), with_label=False,
                       pipeline=copy.deepcopy(pipeline)), iters)


def make_files(root: str, num: int, duration: float,
               sample_rate: int) -> List[str]:
    """``num`` noise WAVs (16-bit mono) and a ``.riff`` link to each."""
    from mmavcl.testing import make_audio_file
    names = []
    for i in range(num):
        name = f'clip_{sample_rate}_{duration:g}s_{i}'
        wav = osp.join(root, name + '.wav')
        if not osp.exists(wav):
            make_audio_file(wav, duration, sample_rate, 'noise', seed=i)
        if not osp.exists(osp.join(root, name + '.riff')):
            os.symlink(name + '.wav', osp.join(root, name + '.riff'))
        names.append(name)
    return names


def check_same_audio(a: SeededSet, b: SeededSet, n: int = 2) -> None:
    """Both sides must cut the same crops with the same samples."""
    for k in range(n):
        x, y = a[k]['inputs']['audio'], b[k]['inputs']['audio']
        if not all(np.array_equal(u.numpy(), v.numpy())
                   for u, v in zip(x, y)):
            raise RuntimeError(f'sample {k}: the WAV reader and PyAV '
                               'returned different audio')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-files', type=int, default=8)
    parser.add_argument('--iters', type=int, default=64,
                        help='samples per measurement')
    parser.add_argument('--rounds', type=int, default=3,
                        help='reads per sample and side (the best counts)')
    parser.add_argument('--duration', type=float, default=5.0)
    parser.add_argument('--sample-rate', type=int, default=44100)
    parser.add_argument('--file-dir', help='keep the generated files here '
                        '(default: a temporary folder)')
    return parser.parse_args(argv)


def main(argv=None) -> Dict[str, float]:
    args = parse_args(argv)
    from mmengine.config import Config

    import mmavcl.datasets  # noqa: F401  (registers the transforms)
    cfg = Config.fromfile(CONFIG)
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = args.file_dir or tmp
        os.makedirs(root, exist_ok=True)
        names = make_files(root, args.num_files, args.duration,
                           args.sample_rate)
        print(f'files: {len(names)} x {args.duration:g} s, '
              f'{args.sample_rate} Hz mono 16-bit WAV')
        for split in ('train', 'test'):
            pipeline = cfg[f'{split}_pipeline']
            sets = {
                side: audio_set(root, [n + ext for n in names], pipeline,
                                osp.join(tmp, f'{split}_{ext[1:]}.txt'),
                                args.iters)
                for side, ext in ((READER, '.wav'), (REFERENCE, '.riff'))
            }
            check_same_audio(sets[READER], sets[REFERENCE])
            secs = interleaved_in_process(sets, args.iters, args.rounds)
            rate = {k: args.iters / v for k, v in secs.items()}
            ratio = rate[READER] / rate[REFERENCE]
            label = f'bench_esc50 {split} pipeline'
            print(f'{label}: {rate[READER]:.1f} samples/s ({READER}), '
                  f'{rate[REFERENCE]:.1f} samples/s ({REFERENCE})')
            print(f'{label} {READER} vs {REFERENCE}: {ratio:.2f}x',
                  flush=True)
            ratios[split] = ratio
    return ratios


if __name__ == '__main__':
    main()
