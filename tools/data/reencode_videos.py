"""Re-encode a video dataset to a chosen short side and keyframe interval.

Decoding a clip starts at the keyframe before its first frame, so a long
keyframe interval (x264's default is 250 frames) makes every random clip pay
for up to 250 frames it throws away. Re-encoding with a short interval
(e.g. 16–32) and a working-resolution short side (e.g. 128 for 112² training)
cuts decoding work several-fold; `docs/benchmarks.md` has the measured gain.

    python tools/data/reencode_videos.py SRC_ROOT DST_ROOT [--ann-file LIST]
        [--short-side 128] [--keyint 16] [--workers 8] [--crf 23]
        [--num-parts N --part I] [--backend-args JSON]

Audio is re-encoded as AAC at its original rate, starting where it
started against the first frame (late audio stays late, an MPEG-TS's
AAC priming before the first frame is dropped by the MP4's edit list).
Paths below SRC_ROOT are kept, names included: the output is MP4 also
where the name says ``.ts`` or ``.mkv`` (FFmpeg and decord read a file
by its content). Without ``--ann-file``, the files with one of
:data:`mmavcl.datasets.media.VIDEO_EXTS` below SRC_ROOT are converted.

``SRC_ROOT`` and ``--ann-file`` may be URIs (``s3://``, ``gs://``,
``http(s)://``, read into memory through mmengine's fileio; a URI root
needs ``--ann-file``, object stores and HTTP cannot list folders);
``DST_ROOT`` is a local folder (upload it afterwards). ``--num-parts N
--part I`` converts every N-th video from the I-th on; a Slurm array runs
the N parts (``tools/data/slurm_array.sh``)::

    sbatch --array=0-99 tools/data/slurm_array.sh \
        tools/data/reencode_videos.py s3://bucket/k400/videos data/k400_128 \
        --ann-file s3://bucket/k400/train.txt --workers 8
"""
import argparse
import os
import os.path as osp
from fractions import Fraction
from typing import BinaryIO, Optional, Tuple, Union

from mmavcl.datasets.media import VIDEO_EXTS, video_start_time
from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part_args, input_paths, join_path,
                                     needs_spawn, open_input, run_parallel,
                                     select_part)


def target_size(width: int, height: int, short_side: int) -> Tuple[int, int]:
    """Keep the aspect ratio; even sizes for yuv420p."""
    if short_side <= 0:
        w, h = width, height
    elif width < height:
        w, h = short_side, round(height * short_side / width)
    else:
        w, h = round(width * short_side / height), short_side
    return w - w % 2, h - h % 2


def _video_start(source: Union[str, BinaryIO]) -> float:
    """The first displayed frame's time (s) of ``source`` (a path or a file
    object, left where it was)."""
    import av
    head = None if isinstance(source, str) else source.tell()
    with av.open(source) as probe:
        start = video_start_time(probe)
    if head is not None:
        source.seek(head)
    return start


def _audio_pts(frame, video_start: float, first: Optional[float]
               ) -> Tuple[Optional[int], float]:
    """``(pts, first)`` for a decoded audio ``frame`` to encode: the first
    one keeps its offset from the first video frame (in samples; negative
    when the audio starts earlier, which the MP4's edit list then skips),
    later ones follow on (``None``), as the encoder counts its samples.
    Without it the audio started with the video: a TS's AAC priming (64 ms
    at 16 kHz) and a 0.5 s late start were lost."""
    if first is not None or frame.time is None:
        return None, 0.0 if first is None else first
    start = frame.time
    frame.time_base = Fraction(1, frame.sample_rate)
    return int(round((start - video_start) * frame.sample_rate)), start


def reencode(src: str, dst: str, short_side: int, keyint: int, crf: int,
             backend_args: Optional[dict] = None
             ) -> Tuple[str, Optional[str]]:
    """Re-encode one file (a path or a URI) to the local ``dst``; returns
    ``(src, error or None)``."""
    import av
    os.makedirs(osp.dirname(dst) or '.', exist_ok=True)
    tmp = dst + '.part'
    try:
        source = open_input(src, backend_args)
        video_start = _video_start(source)
        with av.open(source) as inp, \
                av.open(tmp, 'w', format='mp4') as out:
            vin = inp.streams.video[0]
            vin.thread_type = 'AUTO'
            ain = inp.streams.audio[0] if inp.streams.audio else None
            rate = vin.average_rate or Fraction(25)
            vout = out.add_stream('libx264', rate=rate)
            vout.width, vout.height = target_size(
                vin.codec_context.width, vin.codec_context.height, short_side)
            vout.pix_fmt = 'yuv420p'
            vout.options = {'g': str(keyint), 'crf': str(crf),
                            'preset': 'veryfast'}
            aout = None
            if ain is not None:
                aout = out.add_stream('aac', rate=ain.rate or 44100)
                aout.layout = ain.layout.name if ain.layout else 'stereo'
            streams = [vin] + ([ain] if ain is not None else [])
            num_video, audio_start = 0, None
            for packet in inp.demux(*streams):
                for frame in packet.decode():
                    if packet.stream is vin:
                        frame = frame.reformat(width=vout.width,
                                               height=vout.height,
                                               format='yuv420p')
                        # explicit constant-rate timestamps: with pts=None
                        # the mp4 muxer rejects a packet after ~270 frames
                        # (EINVAL) on 30 fps sources
                        frame.pts = num_video
                        frame.time_base = 1 / Fraction(rate)
                        num_video += 1
                        out.mux(vout.encode(frame))
                    else:
                        frame.pts, audio_start = _audio_pts(
                            frame, video_start, audio_start)
                        out.mux(aout.encode(frame))
            out.mux(vout.encode())
            if aout is not None:
                out.mux(aout.encode())
        os.replace(tmp, dst)
        return src, None
    except Exception as err:  # report and keep going: one bad file of many
        if osp.exists(tmp):
            os.remove(tmp)
        return src, f'{type(err).__name__}: {err}'


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    parser.add_argument('src_root')
    parser.add_argument('dst_root')
    parser.add_argument('--ann-file', help='only the videos in this list')
    parser.add_argument('--short-side', type=int, default=128,
                        help='0 keeps the resolution')
    parser.add_argument('--keyint', type=int, default=16,
                        help='keyframe interval in frames')
    parser.add_argument('--crf', type=int, default=23)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    add_part_args(parser)
    add_backend_args(parser)
    args = parser.parse_args(argv)
    check_part_args(parser, args)
    videos = select_part(
        input_paths(args.src_root, args.ann_file, VIDEO_EXTS,
                    args.backend_args), args.num_parts, args.part)
    if not videos:
        raise SystemExit(f'no videos found under {args.src_root}' + (
            f' for --part {args.part} of {args.num_parts}'
            if args.num_parts > 1 else ''))
    jobs = [(join_path(args.src_root, v), osp.join(args.dst_root, v),
             args.short_side, args.keyint, args.crf, args.backend_args)
            for v in videos]
    results = run_parallel(
        reencode, jobs, args.workers, 're-encoding', 'video',
        needs_spawn(args.src_root, args.ann_file,
                    backend_args=args.backend_args))
    failed = [(src, err) for src, err in results if err]
    for src, err in failed:
        print(f'FAILED {src}: {err}')
    print(f'{len(jobs) - len(failed)}/{len(jobs)} videos written to '
          f'{args.dst_root}')
    if failed:
        raise SystemExit(1)


if __name__ == '__main__':
    main()
