"""Scan every entry of an annotation list before a long run; write a report
and a cleaned list.

    python tools/data/check_dataset.py ANN_FILE --data-prefix DIR
        [--workers N] [--timeout S] --out clean.txt
        [--report report.json|report.csv]
        [--audio-source container|sidecar|none] [--audio-prefix DIR]
        [--require-audio] [--min-frames N] [--max-pixels N]
        [--backend decord|pyav] [--audio-only] [--multi-label]
        [--reject-unusual-rate] [--num-parts N --part I]
        [--backend-args JSON] [--decode ends|all]

Each entry is checked in a worker process (a progress bar counts them):
the header is read (streams, codec, duration, fps, resolution, rotation
and mirroring),
the video is opened with the training reader (``VideoInit``: same backend,
fallback, ``min_frames`` and ``max_pixels``) and its first and last frames
decoded; the audio (container or sidecar) is probed and its first and last
half second decoded, counted from where the audio stream starts (audio may
start after the video) and checked for NaN/Inf samples. An entry is bad
when any of that fails, when it has no audio (no audio stream, or no
sidecar file: a ``MissingAudioError`` in training too) and
``--require-audio`` is set, or when its annotation line is malformed (bad
label, conflicting duplicate, not UTF-8).

``--decode all`` (default ``--decode ends``, the checks above) decodes
the whole file as well, for damage between the ends: a corrupt packet
mid-file, a download cut short whose header still promises every frame,
NaN/Inf samples mid-file, audio that stops before its header says. Every
video frame is decoded by the PyAV reader training uses
(``PyAVVideoReader.iter_frames``, whatever ``--backend`` says: decord
returns the neighbouring frame for a packet its decoder drops, and no
cheap check tells), so each index gets the frame a view would: a not-coded
VOP the picture before it, a packet the decoder returns no picture for
the error ``frame 33: the decoder returned no picture for its packet
(corrupt or undecodable data)``, a stream that ends before the header's
frame count ``stream ended before frame 44 of 72`` (the last picture
stands for one index after it, as in training). All the audio is decoded
as a view's (``decode_audio_spans``; a 16-bit WAV with ``wave``) in 10 s
spans; reasons ``non-finite audio samples (7 NaN/Inf) from 1.200 s on``
and ``audio ends at 1.700 s, 1.300 s before the 3.000 s its header
gives`` (more than 0.15 s short: codec padding moves the end by a frame).
One frame and one span are held at a time; the ``--timeout`` applies to
the whole entry (a 10 s 340x256 clip took about half a second, 3-5x the
default mode: ``docs/data_preparation.md``; raise it for long videos).
The video is decoded before the ends check, so a cut file names its first
missing frame. Report fields of the mode (``None`` with ``--decode ends``):
``frames_decoded`` (frame indices delivered), ``audio_decoded`` (s from
the audio's first sample decoded clean), and where it failed
``error_frame`` (the first index not delivered) and ``error_time`` (s:
the video's from its first frame, ``error_frame / fps``; the audio's from
its first sample). The summary has ``decode``.

Files that kill the decoder are found too. Each worker process checks one
entry at a time for a supervising parent, which never decodes anything
itself (also with ``--workers 1``). A worker that dies (a native crash in
FFmpeg or decord: SIGSEGV, abort) marks its entry ``crashed (signal 11:
SIGSEGV) while decoding video``; one that takes longer than ``--timeout``
seconds (default 60; a stalled network file) is killed and its entry
marked ``timed out after 60 s while ...``. Either way the worker is
replaced and the scan goes on. A FIFO, directory, socket or device where a
video or sidecar is expected never gets that far: it is a bad entry
``not a regular file: <path> is a FIFO (named pipe)`` (found by ``stat``,
never opened: opening a FIFO blocks), as in training.

A raw video stream without a container (``.h264``/``.264``,
``.hevc``/``.265`` Annex B, a raw MPEG-4 Part 2 ``.m4v``, ``.m2v``) is
read as training reads it, its frames counted from the top at the rate
its headers state; a warning names it (``raw H.264 stream, no
container: ...``) and its ``duration`` is its frames' (FFmpeg's header
gives 0). One that states no rate is a bad entry (``video: raw HEVC
stream without a frame rate in its headers ...``): nothing gives its
frames a time.

An audio sample rate outside the common ones (8, 11.025, 12, 16, 22.05, 24,
32, 44.1, 48, 88.2, 96 kHz) is decodable, so it is a warning, counted in
the summary; ``--reject-unusual-rate`` makes it a bad entry.

Outputs:

* ``--out``: the good entries in the input's own format (the original text
  lines, or the JSON records), so the file drops into ``ann_file``;
  a repeated path is kept once. Lines are numbered by the dataset's own
  line reader (``mmavcl.datasets.video_dataset.iter_list_lines``), so a
  name holding U+2028, NEL or a form feed keeps every later line in place.
* ``--report``: one record per entry (``line``, ``filename``, ``ok``,
  ``reason``, ``warning``, ``duration``, ``fps``, ``num_frames``,
  ``width``, ``height`` (as decoded, after any rotation the reader
  applies), ``video_codec``, ``vfr``, ``rotation`` and ``flip`` (the
  container's display matrix as ``probe_media`` reads it and the readers
  apply it: the picture is turned ``rotation`` degrees counter-clockwise,
  0/90/180/270, then mirrored left-right when ``flip``; a front camera's
  mirror is ``0``, ``True``, an upside-down flip ``180``, ``True``; ``0``,
  ``False`` without a matrix),
  ``has_audio``, ``audio_codec``, ``audio_duration``, ``audio_start`` (s
  after the video container's zero, also for a sidecar: where its first
  sample plays, from its alignment record), ``audio_rate`` (Hz),
  ``unusual_rate``, ``audio_filename``, ``alignment_record`` (a video's
  sidecar: whether it carries the ``MMAVCL_AUDIO_START`` record that
  ``tools/data/extract_audio.py`` writes; ``None`` for other audio),
  ``frames_decoded``, ``audio_decoded``, ``error_frame``, ``error_time``
  (``--decode all``, above)) plus
  a summary (counts by reason, the reasons grouped with the entry's own
  path as ``<file>`` and every number as ``<n>``: ``video: stream ended
  before frame <n> of <n>``; ``crashed``, ``timed_out``,
  ``unusual_rate``, ``without_alignment_record``, warnings); JSON, or CSV
  (entries only) when the name ends in ``.csv``.

``--audio-source sidecar`` looks for each video's sidecar under
``--audio-prefix`` as the dataset does: every format ``extract_audio.py``
writes, lossless first (``.wav``, ``.flac``, ``.m4a``, ``.opus``,
``.mp3``; :data:`mmavcl.datasets.media.SIDECAR_EXTS`).

Sidecars without the record (older ``extract_audio.py``, other tools) are
decodable, so their entries stay good, but training reads them from their
first sample, off by the real gap when the video's audio starts late or
early: they are counted in the summary and the printed line says to
re-extract them with ``extract_audio.py --overwrite``.

Remote data: ``ANN_FILE``, ``--data-prefix`` and ``--audio-prefix`` may be
URIs (``s3://``, ``gs://``, ``http(s)://``); each file is fetched into
memory in its worker (through mmengine's fileio with ``--backend-args``;
S3 credentials and endpoint also from the ``AWS_*`` environment), so a
stalled server is a timed-out entry. The outputs are local files.

Many jobs: ``--num-parts N --part I`` checks every N-th entry of the list
from the I-th on (duplicates are still found across the whole list) and
writes ``OUT.part-I-of-N.txt`` (and the report likewise, e.g.
``report.part-001-of-004.json``); the parts' cleaned lists together hold
the good entries (``cat clean.part-*-of-004.txt > clean.txt``). A Slurm
array runs the parts (``tools/data/slurm_array.sh``)::

    sbatch --array=0-99 tools/data/slurm_array.sh tools/data/check_dataset.py \
        s3://bucket/k400/train.txt --data-prefix s3://bucket/k400/videos \
        --out data/k400/train_clean.txt --report data/k400/check.json

The exit status is 0 when the scan ran (bad entries included); the summary
line gives the counts.

Fault injection (tests only): ``MMAVCL_CHECK_FAULT=NAME:segv`` (or
``NAME:abort``; several separated by commas) makes the worker checking a
file whose base name is ``NAME`` kill itself with that signal as it starts
decoding it. No real file is known that crashes this FFmpeg/decord build
(decord 0.6 turns the corrupt-packet aborts of older versions into Python
errors), so the tests of the crash handling use it; a real hang (an HTTP
sidecar whose server never answers) needs no hook.
"""
import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import os.path as osp
import re
import signal
import sys
import time
from collections import Counter, deque
from multiprocessing.connection import wait as wait_ready
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part_args, join_path, needs_spawn,
                                     part_path, read_bytes, select_part)

FIELDS = ('line', 'filename', 'ok', 'reason', 'warning', 'duration', 'fps',
          'num_frames', 'width', 'height', 'video_codec', 'vfr', 'rotation',
          'flip', 'has_audio', 'audio_codec', 'audio_duration', 'audio_start',
          'audio_rate', 'unusual_rate', 'audio_filename',
          'alignment_record', 'frames_decoded', 'audio_decoded',
          'error_frame', 'error_time')

#: used when the readers do not export their own set
_FALLBACK_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000,
                             44100, 48000, 88200, 96000})
FAULT_ENV = 'MMAVCL_CHECK_FAULT'
#: what a worker is doing, for the reason of a crash or timeout
STAGES = {'video': 'decoding video', 'audio': 'decoding audio'}
#: ``--decode``: the first and last frames and half seconds, or everything
DECODE_MODES = ('ends', 'all')
#: seconds of audio decoded at once by ``--decode all`` (the memory held)
AUDIO_CHUNK = 10.0
#: audio may end this much before its header says (one AAC frame at
#: 8 kHz is 0.128 s; priming and padding move the end by a frame)
AUDIO_END_SLACK = 0.15


#: a number standing alone in a reason (a frame index, a time, a count, an
#: errno, an address), not the digits of a word (``h264``, ``mpeg4``)
_NUMBER = re.compile(
    r'(?<![\w.])(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w])')
#: characters that continue a path: a name is replaced only where it stands
#: whole, never inside a longer path or word
_PATH_EDGE = r'\w./\\-'


def reason_group(entry: Dict) -> str:
    """The summary's key for a bad entry: its reason with the entry's own
    paths (``filename``, ``audio_filename``) replaced by ``<file>`` and
    every number by ``<n>``, cut to 100 characters, so that files failing
    the same way at different frames or times count as one reason
    (``video: stream ended before frame <n> of <n>``). The report and the
    printed lines keep the exact reason."""
    text = entry['reason']
    for path in {str(entry[k]) for k in ('filename', 'audio_filename')
                 if entry.get(k)}:
        text = re.sub(rf'(?<![{_PATH_EDGE}]){re.escape(path)}'
                      rf'(?![{_PATH_EDGE}])', '<file>', text)
    return _NUMBER.sub('<n>', text)[:100]


def _common_rates() -> frozenset:
    try:
        from mmavcl.datasets.media import COMMON_SAMPLE_RATES
    except ImportError:
        return _FALLBACK_RATES
    return frozenset(COMMON_SAMPLE_RATES)


def _blank(line: int, filename: Optional[str]) -> Dict:
    out = dict.fromkeys(FIELDS)
    out.update(line=line, filename=filename, ok=False, has_audio=False)
    return out


def _warn(out: Dict, msg: str) -> None:
    """Add ``msg`` to the entry's ``warning`` (``; `` between several)."""
    out['warning'] = '; '.join(filter(None, (out.get('warning'), msg)))


def _audio_extent(filename: str) -> Tuple[float, float, int]:
    """``(start, end, rate)`` of the first audio stream: seconds on the
    container's clock, and Hz
    (:func:`~mmavcl.datasets.media.probe_audio_stream`, as training
    probes it). The start matters: an audio stream that begins 0.5 s after
    the video holds nothing in ``[0, 0.5)``, and a duration counted from 0
    ends 0.5 s before the audio does.

    Raises:
        MissingAudioError: no file (a missing sidecar), no audio stream.
        MediaDecodeError: the file cannot be opened.
    """
    from mmavcl.datasets import MissingAudioError
    from mmavcl.datasets.media import probe_audio_stream
    from mmavcl.datasets.media.remote import source_size
    # a FIFO, directory or device is refused here, before anything opens
    # it (a FIFO would block the open)
    if source_size(filename, 'audio') < 0:
        raise MissingAudioError(filename, 'file does not exist')
    duration, start, rate = probe_audio_stream(filename)
    return float(start), float(start + duration), rate


def decode_all_video(filename: str, out: Dict) -> None:
    """Decode every frame of ``filename`` with the PyAV reader training
    uses (:meth:`~mmavcl.datasets.media.PyAVVideoReader.iter_frames`: the
    same frame for each index, a not-coded VOP as the picture before it),
    one frame held at a time. Sets ``out['frames_decoded']``; on failure
    also ``error_frame`` (the first index not delivered) and
    ``error_time`` (its nominal time, s from the first frame), then
    re-raises.

    Raises:
        MediaDecodeError: a packet the decoder returned no picture for
            (decord would return a neighbouring frame), a stream ending
            before the header's frame count, a decoder error.
    """
    from mmavcl.datasets import MediaDecodeError
    from mmavcl.datasets.media import PyAVVideoReader
    reader = PyAVVideoReader(filename)
    done = 0
    try:
        for index, _, _ in reader.iter_frames():
            done = index + 1
    except MediaDecodeError:
        out.update(error_frame=done,
                   error_time=round(done / reader.fps, 4))
        raise
    finally:
        out['frames_decoded'] = done
        reader.close()


def decode_all_audio(filename: str, start: float, end: float,
                     out: Dict) -> None:
    """Decode all the audio of ``filename`` (``[start, end)`` s on its
    clock, from :func:`_audio_extent`) as training decodes a view's
    (:func:`~mmavcl.datasets.media.decode_audio_spans`), in spans of
    :data:`AUDIO_CHUNK` s (bounded memory). Sets ``out['audio_decoded']``
    (s decoded from the first sample on); on failure also ``error_time``
    (s from the first sample: the first NaN/Inf, or where the samples
    stop), then re-raises.

    Raises:
        MediaDecodeError: NaN/Inf samples, samples ending more than
            :data:`AUDIO_END_SLACK` s before the header's end (a 16-bit
            WAV: its header's sample count), a decoder error.
    """
    import contextlib

    import av
    import numpy as np

    from mmavcl.datasets import MediaDecodeError
    from mmavcl.datasets.media import decode_audio_spans, open_pcm_wav
    from mmavcl.datasets.media.probe import open_audio_file
    from mmavcl.datasets.media.reason import short_reason
    wav = open_pcm_wav(filename)
    if wav is not None:  # the training reads it with `wave`: no container
        with contextlib.closing(wav):
            end = max(end, start + wav.getnframes() / wav.getframerate())
    reached = start

    def fail(at: float, reason: str) -> MediaDecodeError:
        out['error_time'] = round(at - start, 4)
        return MediaDecodeError(filename, reason, 'audio')

    try:
        with (contextlib.nullcontext() if wav is not None else
              open_audio_file(av, filename)) as c:
            t = start
            while t < end:
                (wave, t0, rate), = decode_audio_spans(
                    filename, [(t, min(t + AUDIO_CHUNK, end))],
                    container=c, check_finite=False)
                if not len(wave):
                    break
                bad = ~np.isfinite(wave)
                if bad.any():
                    at = reached = t0 + int(np.argmax(bad)) / rate
                    raise fail(at, f'non-finite audio samples '
                               f'({int(bad.sum())} NaN/Inf) from '
                               f'{at:.3f} s on')
                reached = max(reached, t0 + len(wave) / rate)
                t += AUDIO_CHUNK
    except MediaDecodeError:
        if out.get('error_time') is None:  # a decoder error
            out['error_time'] = round(reached - start, 4)
        raise
    except Exception as err:  # the open
        raise fail(reached, short_reason(err)) from err
    finally:
        out['audio_decoded'] = round(reached - start, 4)
    if reached < end - AUDIO_END_SLACK:
        raise fail(reached, f'audio ends at {reached:.3f} s, '
                   f'{end - reached:.3f} s before the {end:.3f} s its '
                   'header gives')

def check_entry(task: Tuple[int, str, Optional[str], Dict],
                on_stage: Optional[Callable[[str], None]] = None) -> Dict:
    """Check one entry; never raises (the reason goes into the record).
    ``on_stage('video' | 'audio')`` is called as each part starts."""
    import numpy as np
    line, filename, audio_filename, opts = task
    out = _blank(line, filename)
    out['audio_filename'] = audio_filename
    # a video's sidecar counts from its own first sample, placed on the
    # video's clock by its record
    sidecar = bool(audio_filename) and audio_filename != filename and \
        not opts['audio_only']
    video_start = 0.0
    stage = on_stage or (lambda name: None)
    from mmavcl.datasets import MediaDecodeError, MissingAudioError
    from mmavcl.datasets.transforms import VideoInit
    from mmavcl.datasets.media import (decode_with_fallback,
                                       find_audio_start, probe_media,
                                       read_audio_spans)
    from mmavcl.datasets.media.remote import fetch_media
    backend_args = opts.get('backend_args')
    try:
        if not opts['audio_only']:
            stage('video')
            # a URI is fetched once into memory (a local path stays a
            # path); the readers below decode it from the bytes
            filename = fetch_media(filename, backend_args)
            head = probe_media(filename)
            out.update(duration=head['duration'],
                       video_codec=head['video_codec'])
            if opts.get('decode') == 'all':  # first: it names the frame
                decode_all_video(filename, out)
            res = VideoInit(
                backend=opts['backend'],
                min_frames=opts['min_frames'],
                max_pixels=opts['max_pixels'])(dict(filename=filename))
            reader = res['video_reader']
            n = reader.num_frames
            if reader.raw_stream:
                _warn(out, f'raw {reader.raw_stream} stream, no container: '
                      'no timestamps, frames counted at the rate its '
                      'headers state (fps), each sample decoded from the '
                      'top, no audio of its own')
            try:
                frames, reader = decode_with_fallback(reader, [0, n - 1])
                if sidecar:  # its first frame: the record's zero
                    video_start = float(reader.start_time)
            finally:
                reader.close()
            # the header's display matrix, as the readers apply it: a
            # decoded frame's own rotation reads a mirror as a half turn
            out.update(num_frames=int(n), fps=round(float(reader.fps), 4),
                       height=int(frames.shape[1]),
                       width=int(frames.shape[2]), vfr=bool(res['vfr']),
                       rotation=head['rotation'], flip=head['flip'])
            if reader.raw_stream:  # no header duration: the frames'
                out['duration'] = round(n / float(reader.fps), 4)
        if audio_filename:
            stage('audio')
            try:
                # the container's audio: the video fetched above
                audio_filename = filename if audio_filename == filename \
                    else fetch_media(audio_filename, backend_args, 'audio')
                # the file's own clock: where its samples are read
                start, end, rate = _audio_extent(audio_filename)
                own_clock = (start, end)
                dur = end - start
                if not dur > 0:
                    raise MissingAudioError(audio_filename,
                                            'audio stream has no samples')
                half = min(0.5, dur)
                got = read_audio_spans(audio_filename,
                                       [(start, start + half),
                                        (end - half, end)])
                if not all(len(w) for w, _ in got):
                    raise MediaDecodeError(audio_filename,
                                           'no audio samples decoded',
                                           'audio')
                # the readers may let NaN/Inf through: they would reach
                # the log-mel and the loss, so check here regardless
                if not all(np.isfinite(w).all() for w, _ in got):
                    raise MediaDecodeError(
                        audio_filename, 'non-finite audio samples (NaN or '
                        'Inf) in the first or last half second', 'audio')
                head = probe_media(audio_filename)
                unusual = rate not in _common_rates()
                if sidecar:  # to the video's clock (0 without a record)
                    record = find_audio_start(audio_filename)
                    out['alignment_record'] = record is not None
                    # the record places the first sample, wherever the
                    # sidecar's clock puts it (an MP3's: the encoder delay)
                    start = video_start + (record or 0.0)
                out.update(has_audio=True, audio_duration=round(dur, 4),
                           audio_start=round(start, 4), audio_rate=rate,
                           unusual_rate=unusual,
                           audio_codec=head['audio_codec'])
                if unusual:
                    msg = f'unusual audio sample rate {rate} Hz'
                    if opts.get('reject_unusual_rate'):
                        raise MediaDecodeError(audio_filename, msg, 'audio')
                    _warn(out, msg)
                if opts.get('decode') == 'all':
                    decode_all_audio(audio_filename, *own_clock, out)
                if opts['audio_only']:
                    out['duration'] = round(dur, 4)
            except MissingAudioError as err:
                if opts['require_audio'] or opts['audio_only']:
                    raise
                out['audio_missing'] = err.reason
        elif opts['require_audio']:
            raise MissingAudioError(filename, 'no audio (audio_source=none)')
        out['ok'] = True
    except MediaDecodeError as err:
        out['reason'] = f'{err.stream}: {err.reason}'
    except Exception as err:  # a scan never dies on one file
        out['reason'] = f'{type(err).__name__}: {err}'
    out.pop('audio_missing', None)
    return out


def _entries(args) -> Tuple[object, List[Dict], List[Tuple]]:
    """Parse the list with the dataset's own parser: ``(dataset, problem
    records, tasks)`` of this run's part (``--num-parts/--part``) of the
    list's entries (good or not), in line order."""
    from mmavcl.datasets import AVAudioDataset, AVVideoDataset
    if args.audio_only:
        ds = AVAudioDataset(
            args.ann_file, data_prefix=dict(audio=args.data_prefix),
            multi_label=args.multi_label, lazy_init=True,
            check_data_prefix=True, backend_args=args.backend_args)
    else:
        prefix = dict(video=args.data_prefix)
        if args.audio_prefix:
            prefix['audio'] = args.audio_prefix
        ds = AVVideoDataset(
            args.ann_file, data_prefix=prefix,
            audio_source=args.audio_source, multi_label=args.multi_label,
            lazy_init=True, check_data_prefix=True,
            backend_args=args.backend_args)
    opts = dict(backend=args.backend, min_frames=args.min_frames,
                max_pixels=args.max_pixels, require_audio=args.require_audio,
                audio_only=args.audio_only,
                reject_unusual_rate=args.reject_unusual_rate,
                backend_args=args.backend_args, decode=args.decode)
    # every entry, good or bad, in line order: the parts split this list
    # (a duplicate is found whichever part its first line falls in)
    entries: List[Tuple[Optional[Dict], Optional[Tuple[int, Dict]]]] = []
    first: Dict[str, Tuple[int, object]] = {}
    for line, rec, msg in ds._iter_numbered():
        if rec is None:
            out = _blank(line, None)
            out['reason'] = f'annotation: {msg}'
            entries.append((out, None))
            continue
        rel = rec['filename']
        if rel in first:
            seen_line, seen_label = first[rel]
            out = _blank(line, rel)
            out['reason'] = (
                f'annotation: duplicate of line {seen_line}'
                if seen_label == rec.get('label') else
                f'annotation: listed again with label {rec.get("label")} '
                f'(line {seen_line} says {seen_label})')
            entries.append((out, None))
            continue
        first[rel] = (line, rec.get('label'))
        entries.append((None, (line, rec)))
    problems, tasks = [], []
    for problem, good in select_part(entries, args.num_parts, args.part):
        if problem is not None:
            problems.append(problem)
            continue
        line, rec = good
        rel = rec['filename']
        path = join_path(ds.data_prefix.get(ds.prefix_key, ''), rel)
        # only this part's sidecars are looked up (a request each remotely)
        audio = ds._resolve_audio(rel, rec)
        tasks.append((line, path, audio, opts))
    return ds, problems, tasks


class _Bar:
    """mmengine's progress bar behind tqdm's ``update(n)``/``close()``."""

    def __init__(self, total: int) -> None:
        from mmengine.utils import ProgressBar
        self.bar = ProgressBar(total, file=sys.stdout)

    def update(self, n: int = 1) -> None:
        for _ in range(n):
            self.bar.update()

    def close(self) -> None:
        pass


def _progress(total: int):
    try:
        import tqdm
    except ImportError:
        return _Bar(total)
    # no monitor thread: a thread in the parent would be copied half-way
    # into every forked worker
    tqdm.tqdm.monitor_interval = 0
    return tqdm.tqdm(total=total, unit='file', file=sys.stderr)


def _inject_fault(task: Tuple) -> None:
    """The test hook of the module doc: die like a decoder crashing on
    this entry (called as each stage starts, so the reason names one)."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    names = {osp.basename(p) for p in task[1:3] if p}
    for item in spec.split(','):
        name, _, action = item.rpartition(':')
        if name in names:
            import resource
            # no core file from a deliberate crash
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if action == 'abort':
                os.abort()
            os.kill(os.getpid(), signal.SIGSEGV)


def _worker_main(conn) -> None:
    """A worker process: check the entries the parent sends, one at a time,
    and send back ``('stage', name)`` notes and ``('done', record)``."""
    # Ctrl-C reaches the whole process group: the parent cleans up
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a forked child must not use the OpenMP pool its parent started (GNU
    # OpenMP is not fork-safe: resampling an odd rate through torch hung
    # until the timeout once the parent had run multi-threaded torch ops);
    # one thread runs torch's ops inline, as DataLoader workers do
    import torch
    torch.set_num_threads(1)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return

        def on_stage(name: str, task=task) -> None:
            conn.send(('stage', name))
            _inject_fault(task)

        conn.send(('done', check_entry(task, on_stage=on_stage)))


class _Worker:
    """One supervised worker process and the entry it is checking."""

    def __init__(self, ctx) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, ),
                                daemon=True)
        self.proc.start()
        child.close()  # the parent holds one end: EOF when the child dies
        self.slot: Optional[int] = None
        self.stage = ''
        self.deadline = 0.0
        self.gone = False  # its end of the pipe closed: it has died

    def give(self, slot: int, task: Tuple, timeout: float) -> None:
        self.slot, self.stage = slot, ''
        self.deadline = time.monotonic() + timeout
        self.conn.send(task)

    def poll_messages(self) -> Optional[Dict]:
        """Read what the worker sent; its record once it is done."""
        while self.conn.poll():
            try:
                kind, value = self.conn.recv()
            except (EOFError, OSError):  # died (a crash): no more messages
                self.gone = True
                return None
            if kind == 'stage':
                self.stage = value
            else:
                return value
        return None

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
        self.proc.join(timeout=None if kill else 5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def _death_reason(exitcode: Optional[int], stage: str) -> str:
    where = f' while {STAGES[stage]}' if stage in STAGES else ''
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = 'unknown signal'
        return f'crashed (signal {-exitcode}: {name}){where}'
    if exitcode is None:  # closed its pipe but did not exit
        return f'crashed (the checking process stopped answering){where}'
    return f'crashed (the checking process exited with status {exitcode})' \
        + where


def scan(tasks: Sequence[Tuple], workers: int,
         timeout: float = 60.0, spawn: bool = False) -> List[Dict]:
    """Check ``tasks`` in ``workers`` supervised processes.

    The parent hands each worker one entry at a time, so a worker that
    dies is blamed on exactly the entry it held, and no other entry is
    lost (``multiprocessing.Pool`` hangs forever on a task whose worker
    died; ``ProcessPoolExecutor`` fails every task in flight). A worker
    that overruns ``timeout`` seconds on one entry is killed. Dead and
    killed workers are replaced. ``spawn``: start workers fresh instead
    of forking (object-store URIs: obstore hangs in a forked child, see
    :func:`mmavcl.utils.data_lists.needs_spawn`).
    """
    results: List[Optional[Dict]] = [None] * len(tasks)
    if not tasks:
        return []
    bar = _progress(len(tasks))
    # fork: workers start in milliseconds with mmavcl already imported
    # (the parent runs no decoder and no thread of its own: tqdm's monitor
    # thread is off), where spawn re-imports torch for every replacement
    methods = mp.get_all_start_methods()
    ctx = mp.get_context('fork' if 'fork' in methods and not spawn
                         else 'spawn')
    pending = deque(range(len(tasks)))
    pool: List[_Worker] = []

    def finish(w: _Worker, record: Dict) -> None:
        results[w.slot] = record
        w.slot = None
        bar.update(1)

    def fail(w: _Worker, reason: str) -> None:
        line, filename, audio, _ = tasks[w.slot]
        record = _blank(line, filename)
        record.update(audio_filename=audio, reason=reason)
        finish(w, record)

    try:
        size = max(1, min(workers, len(tasks)))
        pool = [_Worker(ctx) for _ in range(size)]
        while True:
            for i, w in enumerate(pool):
                if w.slot is None and pending:
                    slot = pending.popleft()
                    try:
                        w.give(slot, tasks[slot], timeout)
                    except (OSError, ValueError):  # died while idle
                        w.stop(kill=True)
                        pool[i] = w = _Worker(ctx)
                        w.give(slot, tasks[slot], timeout)
            busy = [w for w in pool if w.slot is not None]
            if not busy:
                break
            left = min(w.deadline for w in busy) - time.monotonic()
            wait_ready([w.conn for w in busy] + [w.proc.sentinel
                                                 for w in busy],
                       timeout=max(left, 0.0))
            for i, w in enumerate(pool):
                if w.slot is None:
                    continue
                record = w.poll_messages()
                if record is not None:
                    finish(w, record)
                elif w.gone or not w.proc.is_alive():
                    # a closed pipe can come a moment before the exit
                    # status: wait for it rather than call it a timeout
                    w.proc.join(timeout=10)
                    fail(w, _death_reason(w.proc.exitcode, w.stage))
                    w.stop(kill=True)
                    pool[i] = _Worker(ctx)
                elif time.monotonic() >= w.deadline:
                    where = (f' while {STAGES[w.stage]}'
                             if w.stage in STAGES else '')
                    w.stop(kill=True)
                    fail(w, f'timed out after {timeout:g} s{where} '
                         '(the worker was killed; --timeout sets the limit)')
                    pool[i] = _Worker(ctx)
    finally:
        for w in pool:
            w.stop(kill=any(r is None for r in results))
        bar.close()
    return results


def write_clean(ann_file: str, out: str, good_lines: List[int],
                backend_args: Optional[Dict] = None) -> None:
    """Write the good entries in the input's format. Text lines are read
    with the dataset's own line reader, so line numbers agree with the
    parser's whatever characters the names hold. ``ann_file`` may be a
    URI (read into memory)."""
    from mmavcl.datasets.video_dataset import LIST_SPACE, iter_list_lines
    keep = set(good_lines)
    raw = read_bytes(ann_file, backend_args, 'annotation')
    if ann_file.endswith('.json'):
        data = json.loads(raw.decode('utf-8-sig'))
        records = data['data_list'] if isinstance(data, dict) else data
        kept = [r for i, r in enumerate(records, 1) if i in keep]
        if isinstance(data, dict):
            data = dict(data, data_list=kept)
        else:
            data = kept
        with open(out, 'w', encoding='utf-8') as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
        return
    with open(out, 'w', encoding='utf-8', newline='\n') as f:
        for i, text, _ in iter_list_lines(io.BytesIO(raw)):
            if i in keep:
                f.write(text.strip(LIST_SPACE) + '\n')


def write_report(path: str, entries: List[Dict], summary: Dict) -> None:
    if path.endswith('.csv'):
        with open(path, 'w', newline='') as f:
            w = csv.DictWriter(f, fieldnames=FIELDS)
            w.writeheader()
            w.writerows(entries)
        return
    with open(path, 'w') as f:
        json.dump(dict(summary=summary, entries=entries), f, indent=1)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Check every entry of an annotation list; write a '
        'report and a cleaned list.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('ann_file')
    p.add_argument('--data-prefix', required=True,
                   help='folder the list paths are relative to')
    p.add_argument('--out', required=True, help='cleaned list to write')
    p.add_argument('--report', help='report .json or .csv')
    p.add_argument('--workers', type=_positive(int), default=4,
                   help='worker processes (at least 1: files are never '
                   'decoded in the main process)')
    p.add_argument('--timeout', type=_positive(float), default=60.0,
                   help='seconds one entry may take before its worker is '
                   'killed and the entry reported as timed out')
    p.add_argument('--audio-source', default='container',
                   choices=['container', 'sidecar', 'none'])
    p.add_argument('--audio-prefix', help='sidecar audio folder (default: '
                   'the videos\')')
    p.add_argument('--require-audio', action='store_true',
                   help='entries without audio are bad')
    p.add_argument('--audio-only', action='store_true',
                   help='an audio list (AVAudioDataset)')
    p.add_argument('--min-frames', type=int, default=1)
    p.add_argument('--max-pixels', type=int, default=None)
    p.add_argument('--backend', default=None, choices=['decord', 'pyav'],
                   help="VideoInit's reader (default: decord when it is "
                   'installed, else PyAV, as in the configs)')
    p.add_argument('--multi-label', action='store_true')
    p.add_argument('--reject-unusual-rate', action='store_true',
                   help='an audio sample rate outside the common ones is a '
                   'bad entry, not a warning')
    p.add_argument('--decode', default='ends', choices=DECODE_MODES,
                   help="'ends': the first and last frames and half "
                   "seconds of audio; 'all': every frame (PyAV, as "
                   'training reads them) and every audio sample too, '
                   'which finds damage mid-file (see below)')
    add_part_args(p)
    add_backend_args(p)
    args = p.parse_args(argv)
    check_part_args(p, args)
    # each part writes its own outputs (parts run at once)
    args.out = part_path(args.out, args.num_parts, args.part)
    if args.report:
        args.report = part_path(args.report, args.num_parts, args.part)
    return args


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f'must be > 0, got {text}')
        return value
    parse.__name__ = kind.__name__
    return parse


def main(argv=None) -> Dict:
    args = parse_args(argv)
    ds, problems, tasks = _entries(args)
    spawn = needs_spawn(args.ann_file, args.data_prefix, args.audio_prefix,
                        backend_args=args.backend_args)
    entries = sorted(problems + scan(tasks, args.workers, args.timeout,
                                     spawn),
                     key=lambda e: e['line'])
    good = [e['line'] for e in entries if e['ok']]
    write_clean(ds.ann_file, args.out, good, args.backend_args)
    reasons = Counter(reason_group(e) for e in entries if not e['ok'])
    summary = dict(ann_file=ds.ann_file, data_prefix=args.data_prefix,
                   decode=args.decode, part=args.part,
                   num_parts=args.num_parts,
                   total=len(entries), ok=len(good),
                   bad=len(entries) - len(good),
                   without_audio=sum(1 for e in entries
                                     if e['ok'] and not e['has_audio']),
                   crashed=sum(1 for e in entries if not e['ok'] and
                               e['reason'].startswith('crashed (')),
                   timed_out=sum(1 for e in entries if not e['ok'] and
                                 e['reason'].startswith('timed out after')),
                   unusual_rate=sum(1 for e in entries
                                    if e.get('unusual_rate')),
                   without_alignment_record=sum(
                       1 for e in entries
                       if e.get('alignment_record') is False),
                   reasons=dict(reasons.most_common()),
                   warnings=dict(Counter(
                       e['warning'] for e in entries
                       if e.get('warning')).most_common()))
    if args.report:
        write_report(args.report, entries, summary)
    print(f'checked {summary["total"]} entries: {summary["ok"]} good, '
          f'{summary["bad"]} bad ({summary["without_audio"]} good without '
          f'audio) -> {args.out}' +
          (f', report {args.report}' if args.report else ''))
    extra = [f'{summary[k]} {what}' for k, what in (
        ('crashed', 'crashed the decoder'), ('timed_out', 'timed out'),
        ('unusual_rate', 'with an unusual audio sample rate')) if summary[k]]
    if extra:
        print('  of which ' + ', '.join(extra))
    if summary['without_alignment_record']:
        print(f'  {summary["without_alignment_record"]} sidecars carry no '
              'alignment record (their views count from their first '
              'sample): re-extract with python tools/data/extract_audio.py '
              '--src VIDEO_ROOT --out AUDIO_ROOT --overwrite')
    bad = [e for e in entries if not e['ok']]
    for e in bad[:50]:
        print(f'  {ds.ann_file}:{e["line"]}: {e["filename"]}: {e["reason"]}')
    if len(bad) > 50:
        print(f'  ... and {len(bad) - 50} more (see the report)')
    warned = [e for e in entries if e['ok'] and e.get('warning')]
    for e in warned[:20]:
        print(f'  warning: {ds.ann_file}:{e["line"]}: {e["filename"]}: '
              f'{e["warning"]}')
    if len(warned) > 20:
        print(f'  ... and {len(warned) - 20} more warnings (see the report)')
    return summary


if __name__ == '__main__':
    main()
