"""Seconds per file of ``tools/data/check_dataset.py``'s two modes,
``--decode ends`` (the default) and ``--decode all``, against decoding the
same file with PyAV alone.

The files are Kinetics-like (``bench_utils.make_videos``: H.264 + AAC
44.1 kHz stereo, 340x256, 30 fps, 10 s). Each entry is checked as a worker
of the tool checks it (``check_entry``, the container's audio), in this
process, so the numbers hold no process start or pipe. The floor is a
plain ``av.open`` decode of every video frame (frame threading on, as the
reader has it) and of every audio frame, nothing converted; ``+ rgb`` adds
the conversion of each frame to an RGB array (``to_ndarray``), which the
training reader does too. Each file is timed ``--rounds`` times per
candidate in turn (after one untimed pass) and its best time counts; the
lines give the mean over the files.

    python benchmarks/benchmark_check_dataset.py [--num-files 3]
        [--rounds 3] [--duration 10] [--size 340x256] [--fps 30]
"""
import argparse
import tempfile
import time
from typing import Callable, Dict, List

from bench_utils import add_video_args, import_script, make_videos


def pyav_decode(path: str, rgb: bool = False) -> int:
    """Decode every video and audio frame of ``path`` with PyAV; returns
    the number of video frames."""
    import av
    frames = 0
    with av.open(path) as c:
        c.streams.video[0].thread_type = 'AUTO'
        for frame in c.decode(*c.streams.video[:1], *c.streams.audio[:1]):
            if isinstance(frame, av.VideoFrame):
                frames += 1
                if rgb:
                    frame.to_ndarray(format='rgb24')
    return frames


def candidates(check_entry: Callable) -> Dict[str, Callable[[str], None]]:
    opts = dict(backend=None, min_frames=1, max_pixels=None,
                require_audio=True, audio_only=False,
                reject_unusual_rate=False, backend_args=None)

    def check(mode: str) -> Callable[[str], None]:
        def run(path: str) -> None:
            out = check_entry((1, path, path, dict(opts, decode=mode)))
            assert out['ok'], out['reason']
        return run

    return {'--decode ends': check('ends'), '--decode all': check('all'),
            'pyav decode': pyav_decode,
            'pyav decode + rgb': lambda p: pyav_decode(p, rgb=True)}


def main(argv=None) -> Dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--num-files', type=int, default=3)
    p.add_argument('--rounds', type=int, default=3)
    add_video_args(p)
    args = p.parse_args(argv)
    w, h = (int(x) for x in args.size.split('x'))
    check_entry = import_script('data', 'check_dataset').check_entry
    with tempfile.TemporaryDirectory() as tmp:
        files = make_videos(args.video_dir or tmp, args.num_files, 250,
                            args.duration, (w, h), args.fps)
        frames = pyav_decode(files[0])
        runs = candidates(check_entry)
        for run in runs.values():  # imports and first-call setup, untimed
            run(files[0])
        best: Dict[str, List[float]] = {name: [] for name in runs}
        for path in files:
            times = {name: float('inf') for name in runs}
            for _ in range(args.rounds):
                for name, run in runs.items():
                    t = time.perf_counter()
                    run(path)
                    times[name] = min(times[name],
                                      time.perf_counter() - t)
            for name in runs:
                best[name].append(times[name])
    sec = {name: sum(v) / len(v) for name, v in best.items()}
    print(f'files: {args.num_files} x {args.duration:g} s, {w}x{h}, '
          f'{args.fps:g} fps ({frames} frames each)')
    for name, s in sec.items():
        # the ends mode decodes two frames: a frame rate would mislead
        rate = '' if name == '--decode ends' else \
            f', {frames / s:.0f} frames/s'
        print(f'{name}: {1000 * s:.1f} ms/file{rate}')
    print(f'--decode all vs --decode ends: '
          f'{sec["--decode all"] / sec["--decode ends"]:.2f}x')
    print(f'--decode all vs pyav decode: '
          f'{sec["--decode all"] / sec["pyav decode"]:.2f}x')
    return sec


if __name__ == '__main__':
    main()
