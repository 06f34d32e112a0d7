"""Scan every entry of an annotation list before a long run; write a report
and a cleaned list.

    python tools/data/check_dataset.py ANN_FILE --data-prefix DIR
        [--workers N] --out clean.txt [--report report.json|report.csv]
        [--audio-source container|sidecar|none] [--audio-prefix DIR]
        [--require-audio] [--min-frames N] [--max-pixels N]
        [--backend decord|pyav] [--audio-only] [--multi-label]

Each entry is checked in a worker process (a progress bar counts them):
the header is read (streams, codec, duration, fps, resolution), the video
is opened with the training reader (``VideoInit``: same backend, fallback,
``min_frames`` and ``max_pixels``) and its first and last frames decoded;
the audio (container or sidecar) is probed and its first and last half
second decoded. An entry is bad when any of that fails, when it has no
audio and ``--require-audio`` is set, or when its annotation line is
malformed (bad label, conflicting duplicate).

Outputs:

* ``--out``: the good entries in the input's own format (the original text
  lines, or the JSON records), so the file drops into ``ann_file``;
  a repeated path is kept once.
* ``--report``: one record per entry (``line``, ``filename``, ``ok``,
  ``reason``, ``duration``, ``fps``, ``num_frames``, ``width``, ``height``,
  ``video_codec``, ``vfr``, ``has_audio``, ``audio_codec``,
  ``audio_duration``) plus a summary (counts by reason); JSON, or CSV
  (entries only) when the name ends in ``.csv``.

The exit status is 0 when the scan ran (bad entries included); the summary
line gives the counts.
"""
import argparse
import csv
import json
import os.path as osp
import sys
from collections import Counter
from multiprocessing import Pool
from typing import Dict, List, Optional, Sequence, Tuple

FIELDS = ('line', 'filename', 'ok', 'reason', 'duration', 'fps',
          'num_frames', 'width', 'height', 'video_codec', 'vfr', 'has_audio',
          'audio_codec', 'audio_duration', 'audio_filename')


def _blank(line: int, filename: Optional[str]) -> Dict:
    out = dict.fromkeys(FIELDS)
    out.update(line=line, filename=filename, ok=False, has_audio=False)
    return out


def check_entry(task: Tuple[int, str, Optional[str], Dict]) -> Dict:
    """Check one entry; never raises (the reason goes into the record)."""
    line, filename, audio_filename, opts = task
    out = _blank(line, filename)
    out['audio_filename'] = audio_filename
    from mmavcl.datasets import MediaDecodeError, MissingAudioError
    from mmavcl.datasets.transforms import VideoInit
    from mmavcl.datasets.transforms.readers import (decode_with_fallback,
                                                    probe_audio_duration,
                                                    probe_media,
                                                    read_audio_spans)
    try:
        if not opts['audio_only']:
            head = probe_media(filename)
            out.update(duration=head['duration'],
                       video_codec=head['video_codec'])
            res = VideoInit(
                backend=opts['backend'],
                min_frames=opts['min_frames'],
                max_pixels=opts['max_pixels'])(dict(filename=filename))
            reader = res['video_reader']
            n = reader.num_frames
            try:
                frames, reader = decode_with_fallback(reader, [0, n - 1])
            finally:
                reader.close()
            out.update(num_frames=int(n), fps=round(float(reader.fps), 4),
                       height=int(frames.shape[1]),
                       width=int(frames.shape[2]), vfr=bool(res['vfr']))
        if audio_filename:
            try:
                dur = probe_audio_duration(audio_filename)
                if not dur > 0:
                    raise MissingAudioError(audio_filename,
                                            'audio stream has no samples')
                half = min(0.5, dur)
                got = read_audio_spans(audio_filename,
                                       [(0.0, half), (dur - half, dur)])
                if not all(len(w) for w, _ in got):
                    raise MediaDecodeError(audio_filename,
                                           'no audio samples decoded',
                                           'audio')
                head = probe_media(audio_filename)
                out.update(has_audio=True, audio_duration=round(dur, 4),
                           audio_codec=head['audio_codec'])
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
    records, tasks)``."""
    from mmavcl.datasets import AVAudioDataset, AVVideoDataset
    if args.audio_only:
        ds = AVAudioDataset(
            args.ann_file, data_prefix=dict(audio=args.data_prefix),
            multi_label=args.multi_label, lazy_init=True,
            check_data_prefix=True)
    else:
        prefix = dict(video=args.data_prefix)
        if args.audio_prefix:
            prefix['audio'] = args.audio_prefix
        ds = AVVideoDataset(
            args.ann_file, data_prefix=prefix,
            audio_source=args.audio_source, multi_label=args.multi_label,
            lazy_init=True, check_data_prefix=True)
    opts = dict(backend=args.backend, min_frames=args.min_frames,
                max_pixels=args.max_pixels, require_audio=args.require_audio,
                audio_only=args.audio_only)
    problems, tasks = [], []
    first: Dict[str, Tuple[int, object]] = {}
    for line, rec, msg in ds._iter_numbered():
        if rec is None:
            out = _blank(line, None)
            out['reason'] = f'annotation: {msg}'
            problems.append(out)
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
            problems.append(out)
            continue
        first[rel] = (line, rec.get('label'))
        key = ds.prefix_key
        path = osp.join(ds.data_prefix.get(key, ''), rel)
        audio = ds._resolve_audio(rel, rec)
        tasks.append((line, path, audio, opts))
    return ds, problems, tasks


def _progress(total: int):
    try:
        from tqdm import tqdm
        return tqdm(total=total, unit='file', file=sys.stderr)
    except ImportError:
        from mmengine.utils import ProgressBar
        return ProgressBar(total, file=sys.stdout)


def scan(tasks: Sequence[Tuple], workers: int) -> List[Dict]:
    bar = _progress(len(tasks))
    results = []
    if workers > 1 and len(tasks) > 1:
        with Pool(workers) as pool:
            for res in pool.imap(check_entry, tasks, chunksize=4):
                results.append(res)
                bar.update(1) if hasattr(bar, 'n') else bar.update()
    else:
        for task in tasks:
            results.append(check_entry(task))
            bar.update(1) if hasattr(bar, 'n') else bar.update()
    if hasattr(bar, 'close'):
        bar.close()
    return results


def write_clean(ann_file: str, out: str, good_lines: List[int]) -> None:
    """Write the good entries in the input's format."""
    keep = set(good_lines)
    if ann_file.endswith('.json'):
        with open(ann_file) as f:
            data = json.load(f)
        records = data['data_list'] if isinstance(data, dict) else data
        kept = [r for i, r in enumerate(records, 1) if i in keep]
        if isinstance(data, dict):
            data = dict(data, data_list=kept)
        else:
            data = kept
        with open(out, 'w') as f:
            json.dump(data, f, indent=1)
        return
    with open(ann_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    with open(out, 'w', encoding='utf-8') as f:
        for i, text in enumerate(lines, 1):
            if i in keep:
                f.write(text.strip() + '\n')


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
        'report and a cleaned list.')
    p.add_argument('ann_file')
    p.add_argument('--data-prefix', required=True,
                   help='folder the list paths are relative to')
    p.add_argument('--out', required=True, help='cleaned list to write')
    p.add_argument('--report', help='report .json or .csv')
    p.add_argument('--workers', type=int, default=4)
    p.add_argument('--audio-source', default='container',
                   choices=['container', 'sidecar', 'none'])
    p.add_argument('--audio-prefix', help='sidecar audio folder')
    p.add_argument('--require-audio', action='store_true',
                   help='entries without audio are bad')
    p.add_argument('--audio-only', action='store_true',
                   help='an audio list (AVAudioDataset)')
    p.add_argument('--min-frames', type=int, default=1)
    p.add_argument('--max-pixels', type=int, default=None)
    p.add_argument('--backend', default='decord', choices=['decord', 'pyav'])
    p.add_argument('--multi-label', action='store_true')
    return p.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    ds, problems, tasks = _entries(args)
    entries = sorted(problems + scan(tasks, args.workers),
                     key=lambda e: e['line'])
    good = [e['line'] for e in entries if e['ok']]
    write_clean(ds.ann_file, args.out, good)
    reasons = Counter(e['reason'][:100] for e in entries if not e['ok'])
    summary = dict(ann_file=ds.ann_file, data_prefix=args.data_prefix,
                   total=len(entries), ok=len(good),
                   bad=len(entries) - len(good),
                   without_audio=sum(1 for e in entries
                                     if e['ok'] and not e['has_audio']),
                   reasons=dict(reasons.most_common()))
    if args.report:
        write_report(args.report, entries, summary)
    print(f'checked {summary["total"]} entries: {summary["ok"]} good, '
          f'{summary["bad"]} bad ({summary["without_audio"]} good without '
          f'audio) -> {args.out}' +
          (f', report {args.report}' if args.report else ''))
    bad = [e for e in entries if not e['ok']]
    for e in bad[:50]:
        print(f'  {ds.ann_file}:{e["line"]}: {e["filename"]}: {e["reason"]}')
    if len(bad) > 50:
        print(f'  ... and {len(bad) - 50} more (see the report)')
    return summary


if __name__ == '__main__':
    main()
