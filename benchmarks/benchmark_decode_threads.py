"""FFmpeg decoder threads for the files the decord reader hands to PyAV:
clip latency in one process, and throughput of several processes decoding
side by side (DataLoader workers), per thread count and thread type.

Each file kind but one is a kind that
:class:`~mmavcl.datasets.media.DecordVideoReader` hands to
:class:`~mmavcl.datasets.media.PyAVVideoReader`
(:func:`~mmavcl.datasets.media.decord_checks.decord_misreads`, checked
here): MPEG-4 Part 2 and H.264 with B-frames in AVI, H.264 in MPEG-TS,
H.264 and HEVC open GOPs in Matroska, MPEG-2 in MPEG-PS. The other is an
H.264 MP4 like the K400 configs' (decord reads it; their
``backend='pyav'`` decodes it with the same threads). They are
Kinetics-like (``bench_utils.bench_frames``: 340x256, 30 fps, 10 s, a
keyframe every ``--keyint`` frames). A sample is what
``k400_ssl_2clip_av.py`` decodes: two clips of 16 frames, every 2nd, at
seeded random starts, read by a fresh reader (open, decode, close), the
same frames for every candidate; every candidate's first sample is checked
to be the same pixels (SHA-1).

A candidate is ``(thread count, thread type)``: count 0 is FFmpeg's auto
(on ``c`` cores ``min(c + 1, 16)`` frame threads); the type is PyAV's
``thread_type`` (``AUTO``: frame threads where the codec has them, else
slice threads). With 1 thread the type does not matter: one candidate,
the reference of every ratio.

* latency (``--rounds`` passes, in this process): the candidates take
  turns sample by sample and each sample's best time counts; the CPU time
  of the same reads (all threads of the process), least per sample, is
  what a sample costs a node whose cores are all busy, and is the number
  the load of other jobs disturbs least.
* throughput: ``--workers`` DataLoader workers (fork) read ``--iters``
  samples; each worker returns the number of frames, not the frames, so
  the ratio is the decoder's and not the transfer's; candidates alternate
  in ABBA order over ``--rounds`` loader passes (0 workers: none).

    python benchmarks/benchmark_decode_threads.py [--kinds ...]
        [--threads 1 2 0] [--types AUTO SLICE FRAME] [--iters 24]
        [--workers 2] [--rounds 2]
"""
import argparse
import hashlib
import os
import tempfile
from typing import Dict, List, Sequence, Tuple

import numpy as np

from bench_utils import (add_video_args, alternating_workers, bench_frames,
                         interleaved_in_process)

#: kind -> (file name, encoder, encoder options); every one but the MP4 is
#: read by PyAV behind the decord reader (the script checks it)
KINDS = {
    'h264-mp4': ('h264.mp4', 'libx264', {}),
    'mpeg4-bframes-avi': ('mpeg4-b.avi', 'mpeg4', {'bf': '1'}),
    'h264-bframes-avi': ('h264-b.avi', 'libx264', {}),
    'h264-mpegts': ('h264.ts', 'libx264', {}),
    'h264-open-gop-mkv': ('h264-open.mkv', 'libx264',
                          {'x264-params': 'open-gop=1'}),
    'hevc-open-gop-mkv': ('hevc-cra.mkv', 'libx265',
                          {'x265-params': 'log-level=error:open-gop=1'}),
    'mpeg2-mpegps': ('mpeg2.mpg', 'mpeg2video', {}),
}
#: MPEG-4 Part 2 and MPEG-2 encoders rate-control by bit rate (x264/x265
#: by quality): about Kinetics' 0.7 Mb/s at 340x256
_BIT_RATE = {'mpeg4': 900_000, 'mpeg2video': 1_200_000}


def make_kind_videos(out_dir: str, kinds: Sequence[str], keyint: int,
                     duration: float, size: Tuple[int, int],
                     fps: float) -> Dict[str, str]:
    """Write (or reuse) one file per kind in ``out_dir``."""
    from mmavcl.datasets.media import write_video
    frames = None
    paths = {}
    for kind in kinds:
        name, encoder, options = KINDS[kind]
        path = os.path.join(
            out_dir, f'g{keyint}_{size[0]}x{size[1]}_{duration:g}s_{name}')
        if not os.path.exists(path):
            if frames is None:
                frames = bench_frames(int(round(duration * fps)), size, 0)
            part = path + '.part' + os.path.splitext(name)[1]
            write_video(part, frames, fps=fps, keyint=keyint, crf=23,
                        video_codec=encoder, video_options=options,
                        bit_rate=_BIT_RATE.get(encoder))
            os.replace(part, path)
        paths[kind] = path
    return paths


def make_plan(num_frames: int, iters: int, seed: int, clip_len: int = 16,
              interval: int = 2, clips: int = 2) -> List[np.ndarray]:
    """``iters`` samples' frame indices: ``clips`` clips of ``clip_len``
    frames every ``interval``, at seeded random starts."""
    rng = np.random.default_rng(seed)
    span = (clip_len - 1) * interval + 1
    if span > num_frames:
        raise ValueError(f'a clip spans {span} frames, the videos have '
                         f'{num_frames}: raise --duration or --fps')
    return [
        np.concatenate([
            s + interval * np.arange(clip_len)
            for s in rng.integers(0, num_frames - span + 1, clips)
        ]) for _ in range(iters)
    ]


class ThreadedDecodes:
    """Sample ``k``: ``plan[k]`` decoded from ``path`` by a fresh
    :class:`PyAVVideoReader` with ``threads`` and ``thread_type``; returns
    the number of frames (what a loader worker sends back here)."""

    def __init__(self, path: str, plan: List[np.ndarray], threads: int,
                 thread_type: str) -> None:
        self.path, self.plan = path, plan
        self.threads, self.thread_type = threads, thread_type

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> int:
        return len(self.decode(k)[0])

    def decode(self, k: int) -> Tuple[np.ndarray, int]:
        """``(frames, decoder threads)``: the latter read back from the
        codec context after decoding (FFmpeg sets 1 where the codec lacks
        the thread type, and its own count for auto)."""
        from mmavcl.datasets.media import PyAVVideoReader
        reader = PyAVVideoReader(self.path, num_threads=self.threads,
                                 thread_type=self.thread_type)
        try:
            return reader.get_batch(self.plan[k]), reader.decoder_threads
        finally:
            reader.close()


def candidates(threads: Sequence[int],
               types: Sequence[str]) -> List[Tuple[int, str]]:
    """``(count, type)`` pairs; count 1 once (its type is moot), first."""
    out = [(1, 'AUTO')] if 1 in threads else []
    return out + [(n, t) for n in threads if n != 1 for t in types]


def label(threads: int, thread_type: str) -> str:
    if threads == 1:
        return '1 thread'
    return f'{"auto" if threads == 0 else threads} {thread_type}'


def main(argv=None) -> List[dict]:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--kinds', nargs='+', default=list(KINDS),
                   choices=list(KINDS))
    p.add_argument('--threads', nargs='+', type=int, default=[1, 2, 0],
                   help='decoder thread counts (0: FFmpeg auto); 1 is '
                   'the reference')
    p.add_argument('--types', nargs='+', default=['AUTO', 'SLICE', 'FRAME'],
                   choices=['AUTO', 'SLICE', 'FRAME'])
    p.add_argument('--iters', type=int, default=24,
                   help='samples per measurement')
    p.add_argument('--workers', type=int, default=2,
                   help='DataLoader workers of the throughput runs (0: '
                   'latency and CPU time only)')
    p.add_argument('--rounds', type=int, default=2)
    p.add_argument('--keyint', type=int, default=30)
    add_video_args(p)
    args = p.parse_args(argv)
    if 1 not in args.threads:
        p.error('--threads must include 1 (the reference)')
    from mmengine.utils.dl_utils import set_multi_processing

    from mmavcl.datasets.media import PyAVVideoReader
    from mmavcl.datasets.media.decord_checks import decord_misreads
    set_multi_processing('fork', opencv_num_threads=0)
    w, h = (int(x) for x in args.size.split('x'))
    cands = candidates(args.threads, args.types)
    rows = []
    print(f'{os.cpu_count()} CPUs; {args.workers} workers; {args.iters} '
          f'samples of 2 x 16 frames (every 2nd) per measurement, '
          f'{args.rounds} rounds; {w}x{h}, {args.fps:g} fps, '
          f'{args.duration:g} s, keyint {args.keyint}')
    with tempfile.TemporaryDirectory() as tmp:
        files = make_kind_videos(args.video_dir or tmp, args.kinds,
                                 args.keyint, args.duration, (w, h),
                                 args.fps)
        for kind, path in files.items():
            why = decord_misreads(path)
            if (why is None) != path.endswith('.mp4'):
                raise RuntimeError(f'{path}: the decord reader '
                                   f'{"keeps" if why is None else "hands"}'
                                   ' it on, unlike the kind it stands for')
            why = why or 'decord reads it; backend=pyav'
            reader = PyAVVideoReader(path)
            num_frames = reader.num_frames
            reader.close()
            plan = make_plan(num_frames, args.iters, args.seed)
            sets = {label(n, t): ThreadedDecodes(path, plan, n, t)
                    for n, t in cands}
            # every candidate decodes the same pixels (FFmpeg's threads
            # are bit-exact), checked on the first sample
            first = {name: s.decode(0) for name, s in sets.items()}
            digests = {name: hashlib.sha1(frames.tobytes()).hexdigest()
                       for name, (frames, _) in first.items()}
            if len(set(digests.values())) != 1:
                raise RuntimeError(f'{kind}: pixels differ by thread '
                                   f'setting: {digests}')
            cpu: Dict[str, float] = {}
            lat = interleaved_in_process(sets, args.iters, args.rounds, cpu)
            thr = alternating_workers(sets, args.workers, args.rounds) \
                if args.workers else {name: float('nan') for name in sets}
            ref = label(1, 'AUTO')
            print(f'{kind} ({why}):')
            for name in sets:
                row = dict(kind=kind, reason=why, candidate=name,
                           decoder_threads=first[name][1],
                           ms_per_sample=1000 * lat[name] / args.iters,
                           cpu_ms_per_sample=1000 * cpu[name] / args.iters,
                           samples_per_s=args.rounds * args.iters /
                           thr[name])
                rows.append(row)
                print(f'  {name} ({row["decoder_threads"]} decoder '
                      f'threads): {row["ms_per_sample"]:.1f} ms/sample, '
                      f'{row["cpu_ms_per_sample"]:.1f} CPU ms/sample '
                      f'(1 process); {row["samples_per_s"]:.1f} samples/s '
                      f'({args.workers} workers)')
            for name in sets:
                if name == ref:
                    continue
                for what, sec in (('latency', lat), ('CPU time', cpu),
                                  (f'{args.workers} workers', thr)
                                  )[:3 if args.workers else 2]:
                    print(f'{kind} {name} vs {ref} ({what}): '
                          f'{sec[ref] / sec[name]:.2f}x')
    return rows


if __name__ == '__main__':
    main()
