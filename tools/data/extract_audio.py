"""Extract container audio into sidecar files (``<stem>.wav`` / ``.flac`` /
``.m4a`` / ``.opus`` / ``.mp3``).

The output mirrors the input's relative paths, so a dataset with
``audio_source='sidecar'`` and ``data_prefix=dict(video=SRC, audio=OUT)``
finds each file. Audio is decoded with PyAV, downmixed to mono (unless
``--keep-channels``) and resampled to ``--sample-rate`` (0 keeps the
source rate). Runs in parallel with a progress bar; files without an audio
stream, or that fail to decode, are listed at the end (and in
``OUT/extract_audio_failures.txt``) instead of stopping the run.

Each sidecar holds the stream from its first decoded sample on and records
where that sample sits on the video's clock (s after the first displayed
frame; negative when the audio starts first): ``MMAVCL_AUDIO_START=0.5``
as the WAV's or M4A's comment, a FLAC or Opus Vorbis comment or an MP3's
ID3 ``TXXX`` frame (:mod:`mmavcl.datasets.media.sidecar`). M4A (AAC), Opus
and MP3 are lossy: on a test chirp their views matched the container's AAC
to 6e-5 (M4A), 1.2e-2 (Opus, at FFmpeg's default bitrate) and 2e-4 (MP3,
after LAME's fixed 0.95 gain) of full scale, up to 0.08 within 0.2 s of
the audio's abrupt start or end; WAV to 1e-4 (16 bits), everywhere.
libopus encodes 48, 24, 16, 12 and 8 kHz only, so ``--ext .opus`` needs
one of them as ``--sample-rate`` (not 0: a 44.1 kHz source would fail
file by file); every Opus stream decodes at 48 kHz, which the audio
transforms resample to their rate. Training from sidecars then pads, flags
and aligns views exactly as from the container's audio; a video dataset
finds each of these formats without setting ``audio_exts`` (lossless
first when a video has several:
:data:`~mmavcl.datasets.media.SIDECAR_EXTS`). Sidecars written before the
record existed count from their first sample: extract again
(``--overwrite``) for files whose audio does not start with the video.
Each sidecar ends where the container's audio, as mmavcl decodes it, ends:
at the last real sample where the container says where that is (an MP4's
edit list, without the padding of the encoder's last frame), otherwise up
to one codec frame after it, as the container's own audio (AAC in
Matroska: 1024 samples; docs/data_preparation.md has the table).

Examples::

    python tools/data/extract_audio.py --src data/kinetics400/videos_train \\
        --out data/kinetics400/audio_train --workers 16
    python tools/data/extract_audio.py --src data/vggsound/videos \\
        --list data/vggsound/vggsound_train.txt --out data/vggsound/audio \\
        --ext .flac

``--src`` and ``--list`` may be URIs (``s3://``, ``gs://``, ``http(s)://``:
each video is read into memory through mmengine's fileio; a URI ``--src``
needs ``--list``, object stores and HTTP cannot list folders); ``--out`` is
a local folder. ``--num-parts N --part I`` extracts every N-th file from
the I-th on, so N jobs (a Slurm array: ``tools/data/slurm_array.sh``)
split the work::

    sbatch --array=0-99 tools/data/slurm_array.sh tools/data/extract_audio.py \
        --src s3://bucket/vggsound/videos \
        --list s3://bucket/vggsound/train.txt \
        --out data/vggsound/audio --workers 8
"""
import argparse
import os
import os.path as osp
from typing import BinaryIO, Optional, Tuple, Union

import numpy as np

from mmavcl.datasets.media import (VIDEO_EXTS, audio_start_metadata,
                                   stated_audio_end, video_start_time,
                                   write_audio)
from mmavcl.datasets.media.sidecar import OPUS_RATES, SIDECAR_EXTS
from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part_args, input_paths, join_path,
                                     needs_spawn, open_input, part_path,
                                     run_parallel, select_part)


def decode_audio(path: Union[str, BinaryIO], sample_rate: int = 16000,
                 mono: bool = True
                 ) -> Tuple[np.ndarray, int, Optional[float]]:
    """All audio of ``path`` (a path or a file object).

    Returns:
        ``(wave, rate, start)``: float32 ``(C, L)``, its rate, and the time
        (s) of ``wave[:, 0]`` after the first displayed video frame: the
        first decoded audio frame's timestamp minus
        :func:`~mmavcl.datasets.media.video_start_time`, the two numbers
        ``DecodeAudioViews`` subtracts for the container's audio (``None``
        without a video stream).
    """
    import av
    start = None
    if not isinstance(path, str):
        head = path.tell()
    with av.open(path) as c:
        if c.streams.video:  # demuxes the first video packets
            start = -video_start_time(c)
    if not isinstance(path, str):
        path.seek(head)
    # a second open: the audio decodes from the top as in the container
    # path, not from wherever the video scan left the demuxer
    with av.open(path) as c:
        if not c.streams.audio:
            raise ValueError('no audio stream')
        stream = c.streams.audio[0]
        rate = sample_rate or stream.rate
        layout = 'mono' if mono else (
            'stereo' if stream.channels >= 2 else 'mono')
        rs = av.AudioResampler(format='fltp', layout=layout, rate=rate)
        chunks, first = [], None
        for frame in c.decode(stream):
            if first is None and frame.time is not None:
                first = frame.time
            frame.pts = None
            chunks += [o.to_ndarray() for o in rs.resample(frame)]
        chunks += [o.to_ndarray() for o in rs.resample(None)]
        end = stated_audio_end(c, stream)
    wave = np.concatenate(chunks, axis=1).astype(np.float32) if chunks \
        else np.zeros((1, 0), np.float32)
    if end is not None and first is not None:
        # the encoder's padding past the last real sample (an MP4's), which
        # the container's own audio does not present either
        wave = wave[:, :max(int(round((end - first) * rate)), 0)]
    if not wave.shape[1]:
        raise ValueError('audio stream holds no samples')
    if start is not None:
        start += first or 0.0
    return wave, rate, start


def _job(task: tuple) -> Optional[str]:
    src, dst, rate, mono, overwrite, backend_args = task
    if osp.exists(dst) and not overwrite:
        return None
    try:
        wave, sr, start = decode_audio(open_input(src, backend_args), rate,
                                       mono)
        tmp = dst + '.part' + osp.splitext(dst)[1]
        write_audio(tmp, wave, sr, None if start is None else
                    audio_start_metadata(dst, start))
        os.replace(tmp, dst)  # never leave a half-written sidecar
    except Exception as err:  # report, keep going
        return f'{src}: {type(err).__name__}: {err}'
    return None


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Extract sidecar audio files.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('--src', required=True, help='video root')
    p.add_argument('--out', required=True, help='audio root')
    p.add_argument('--list', help='annotation list (paths relative to src)')
    p.add_argument('--ext', default='.wav', choices=list(SIDECAR_EXTS),
                   help='.m4a, .opus and .mp3 are lossy (smaller)')
    p.add_argument('--sample-rate', type=int, default=16000,
                   help='0 keeps the source rate')
    p.add_argument('--keep-channels', action='store_true',
                   help='keep stereo instead of downmixing to mono')
    p.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    p.add_argument('--overwrite', action='store_true')
    add_part_args(p)
    add_backend_args(p)
    args = p.parse_args(argv)
    check_part_args(p, args)
    if args.ext == '.opus' and args.sample_rate not in OPUS_RATES:
        rate = ('0 (the source rate, e.g. 44100)' if args.sample_rate == 0
                else str(args.sample_rate))
        p.error(f'--ext .opus: libopus cannot encode --sample-rate {rate}; '
                f'use one of {", ".join(map(str, OPUS_RATES))}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    rels = select_part(input_paths(args.src, args.list, VIDEO_EXTS,
                                   args.backend_args),
                       args.num_parts, args.part)
    tasks = []
    for rel in rels:
        dst = osp.join(args.out, osp.splitext(rel)[0] + args.ext)
        os.makedirs(osp.dirname(dst), exist_ok=True)
        tasks.append((join_path(args.src, rel), dst, args.sample_rate,
                      not args.keep_channels, args.overwrite,
                      args.backend_args))
    results = run_parallel(_job, [(t, ) for t in tasks], args.workers,
                           'extracting audio', 'file',
                           needs_spawn(args.src, args.list,
                                       backend_args=args.backend_args))
    failures = [r for r in results if r]
    print(f'\n{len(tasks) - len(failures)} / {len(tasks)} files done')
    if failures:
        # one report per part: parts run at once must not overwrite it
        report = part_path(osp.join(args.out, 'extract_audio_failures.txt'),
                           args.num_parts, args.part)
        with open(report, 'w') as f:
            f.write('\n'.join(failures) + '\n')
        print(f'{len(failures)} failed (listed in {report}):')
        for line in failures[:20]:
            print('  ' + line)
    return 1 if failures else 0


if __name__ == '__main__':
    raise SystemExit(main())
