"""Write WebDataset tar shards (and their index) from an annotation list.

    python tools/data/make_shards.py ANN_FILE MEDIA_ROOT OUT \\
        [--samples-per-shard N] [--max-shard-mb M] [--workers W] \\
        [--num-parts P --part I] [--audio-exts .wav .flac ...] \\
        [--backend-args JSON]
    python tools/data/make_shards.py --merge-index OUT
    python tools/data/make_shards.py --from-shards SHARDS [OUT] [--workers W]

``ANN_FILE`` is a list that :class:`mmavcl.datasets.AVVideoDataset` reads
(``path/to/video.mp4 [label]`` lines, or JSON); ``MEDIA_ROOT`` the folder or
URI its paths are relative to. Each sample becomes the members
``{key}.mp4`` (the video as is, no re-encode; its own extension),
``{key}.json`` (``{"label", "path"}``), ``{key}.txt`` (the label, as
video2dataset writes it) and ``{key}.wav`` (an audio sidecar next to the
video, if any: the first of ``--audio-exts`` found, by default those
``extract_audio.py`` writes in the dataset's order,
:data:`~mmavcl.datasets.media.SIDECAR_EXTS`). A shard closes after N
samples or M MB.

Shards are named ``OUT/shard-{part:03d}-{i:06d}.tar`` and the index
``OUT/index-{part:03d}.json`` lists each shard's sample count; with one
part the index is ``OUT/index.json`` (what
:class:`~mmavcl.datasets.AVShardDataset` reads). After a run of several
parts, ``--merge-index`` joins ``index-*.json`` into ``index.json``.

``--num-parts P --part I`` write the I-th of P disjoint slices of the list
(every P-th record from the I-th on, :mod:`mmavcl.utils.data_lists`; a
Slurm array: ``tools/data/slurm_array.sh``, which passes
``--part $SLURM_ARRAY_TASK_ID``). Resumable: a shard is written to
``NAME.tar.tmp`` and renamed when complete, and a complete shard of an
earlier run is not written again (the shard boundaries are a function of
the list and the options, so a rerun makes the same ones).

``--workers W`` writes W shards at a time in worker processes, with a
progress bar. The parent plans every shard's records before any is
written, and members are written in record order with fixed tar headers
(mtime 0), so the shards (their keys, and their bytes) and the index do
not depend on ``W``. ``ANN_FILE`` and ``MEDIA_ROOT`` may be URIs
(``--backend-args``, ``AWS_*``); then the media are fetched in the
workers, ``--max-shard-mb`` is not applied (sizes are not probed), and no
sidecar is looked for unless the list names it (JSON ``audio_filename``).

``--from-shards SHARDS [OUT]`` reads shards made elsewhere as they are,
e.g. video2dataset's (``{key}.mp4``, ``{key}.json``, ``{key}.txt`` per
sample): ``SHARDS`` is a folder of ``*.tar``, a brace pattern
(``.../{00000..00099}.tar``) or a URI pattern. Each shard is read once to
count its samples and check that every sample has a video member. The
index goes to ``OUT/index.json``, keyed by shard name (the file name for
shards of one folder, the path below the folders' common one otherwise,
as :class:`~mmavcl.datasets.AVShardDataset` names them; pass it as
``index_file=``, e.g. for shards on a server), or without ``OUT`` to an
``index.json`` in each shards' folder (what AVShardDataset reads by
default); nothing is rewritten, so AVShardDataset reads the original
shards with it. Shards with the same file name in different folders
(``{a,b}/{00000..00009}.tar``) are different shards; the same shard listed
twice is refused. Labels: AVShardDataset takes the
``"label"`` key of ``{key}.json`` (an int, or a list for multi-label),
else a ``{key}.txt`` that is an integer, else a ``{key}.cls``;
video2dataset's ``.txt`` is a caption, so its samples have no label (what
pretraining needs); the index counts the labelled samples
(``num_labelled``).
"""
import argparse
import glob
import io
import json
import os
import os.path as osp
import re
import tarfile
from typing import Dict, Iterator, List, Optional, Tuple

from mmavcl.datasets.media import SIDECAR_EXTS
from mmavcl.datasets.shard_dataset import VIDEO_EXTS
from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part, check_part_args, is_remote,
                                     join_path, needs_spawn, read_bytes,
                                     read_list, run_parallel, select_part)


def _sidecar(video: str, exts: List[str],
             backend_args: Optional[dict] = None) -> Optional[str]:
    if is_remote(video, backend_args):
        return None  # not probed remotely: one request per extension
    stem = osp.splitext(video)[0]
    return next((stem + e for e in exts if osp.isfile(stem + e)), None)


def _key(rel: str) -> str:
    """A tar member stem without dots or slashes (webdataset splits the
    key at the first dot of the base name)."""
    return re.sub(r'[^A-Za-z0-9_-]', '_', osp.splitext(rel)[0])


def plan(records: List[dict], samples_per_shard: int, max_bytes: float,
         sizes: List[int]) -> List[Tuple[int, int]]:
    """``[(start, end)]`` record ranges, one per shard."""
    out, start, size = [], 0, 0
    for i, n in enumerate(sizes):
        if i > start and (i - start >= samples_per_shard
                          or size + n > max_bytes):
            out.append((start, i))
            start, size = i, 0
        size += n
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def _members(rec: dict, root: str, exts: List[str],
             backend_args: Optional[dict] = None
             ) -> Iterator[Tuple[str, bytes]]:
    rel = rec['filename']
    video = join_path(root, rel)
    key = _key(rel)
    yield (f'{key}{osp.splitext(rel)[1].lower() or ".mp4"}',
           read_bytes(video, backend_args, 'video'))
    label = rec.get('label')
    yield f'{key}.json', json.dumps(dict(label=label, path=rel)).encode()
    if label is not None:
        yield f'{key}.txt', (' '.join(map(str, label)) if isinstance(
            label, list) else str(label)).encode()
    audio = rec.get('audio_filename')
    audio = join_path(root, audio) if audio else _sidecar(
        video, exts, backend_args)
    if audio:
        yield (f'{key}{osp.splitext(audio)[1].lower()}',
               read_bytes(audio, backend_args, 'audio'))


def write_shard(path: str, records: List[dict], root: str,
                exts: List[str], backend_args: Optional[dict] = None
                ) -> str:
    """Write one shard (atomically); returns ``path``."""
    tmp = path + '.tmp'
    with tarfile.open(tmp, 'w') as tar:
        for rec in records:
            for name, data in _members(rec, root, exts, backend_args):
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)  # complete shards only ever carry the name
    return path


def _write_index(path: str, shards: Dict[str, int], **extra) -> None:
    with open(path, 'w') as f:
        json.dump(dict(shards=shards, num_samples=sum(shards.values()),
                       **extra), f, indent=1)


def make_shards(ann_file: str, media_root: str, out: str,
                samples_per_shard: int = 1000, max_shard_mb: float = 1024,
                num_parts: int = 1, part: int = 0,
                audio_exts: Tuple[str, ...] = SIDECAR_EXTS,
                workers: int = 1,
                backend_args: Optional[dict] = None) -> Dict[str, int]:
    """Write this part's shards (``workers`` at a time); returns (and
    writes) its index ``{shard name: samples}``."""
    check_part(num_parts, part)
    # the records as written in the list (no prefixes; a JSON record's
    # own audio_filename kept)
    records = select_part(read_list(ann_file, backend_args), num_parts, part)
    for rec in records:
        ext = osp.splitext(rec['filename'])[1].lower()
        # a member AVShardDataset would not take as the sample's video
        if ext and ext[1:] not in VIDEO_EXTS:
            raise ValueError(
                f'{ann_file}: {rec["filename"]} is not a video file '
                f'AVShardDataset reads (one of {", ".join(VIDEO_EXTS)})')
    sizes = []
    for rec in records:
        path = join_path(media_root, rec['filename'])
        sizes.append(0 if is_remote(path, backend_args) else
                     osp.getsize(path))
    ranges = plan(records, samples_per_shard, max_shard_mb * 2**20, sizes)
    os.makedirs(out, exist_ok=True)
    index, jobs = {}, []
    for i, (a, b) in enumerate(ranges):
        name = f'shard-{part:03d}-{i:06d}.tar'
        path = osp.join(out, name)
        if not osp.isfile(path):  # resumable: complete shards are kept
            jobs.append((path, records[a:b], media_root, list(audio_exts),
                         backend_args))
        index[name] = b - a
    print(f'{len(ranges)} shard(s) of part {part}/{num_parts}, '
          f'{len(ranges) - len(jobs)} already complete')
    run_parallel(write_shard, jobs, workers, 'writing shards', 'shard',
                 needs_spawn(ann_file, media_root, backend_args=backend_args))
    idx_name = 'index.json' if num_parts == 1 else f'index-{part:03d}.json'
    _write_index(osp.join(out, idx_name), index)
    return index


def merge_index(out: str) -> Dict[str, int]:
    shards: Dict[str, int] = {}
    for path in sorted(glob.glob(osp.join(out, 'index-*.json'))):
        with open(path) as f:
            shards.update(json.load(f)['shards'])
    _write_index(osp.join(out, 'index.json'), shards)
    return shards


def _label(sample: Dict[str, bytes]) -> bool:
    """Whether AVShardDataset finds a label in ``sample`` (the rule of the
    module doc)."""
    if 'json' in sample:
        try:
            meta = json.loads(sample['json'])
        except ValueError:
            meta = None
        if isinstance(meta, dict) and meta.get('label') is not None:
            return True
    if 'txt' in sample:
        text = sample['txt'].decode('utf-8', 'replace').strip()
        if text.lstrip('-').isdigit():
            return True
    return 'cls' in sample


def count_shard(url: str, backend_args: Optional[dict] = None
                ) -> Tuple[int, int]:
    """``(samples, labelled samples)`` of one shard, streamed and grouped
    into samples by AVShardDataset's own reader (webdataset's tar
    iterators), so the counts are what training reads.

    Raises:
        ValueError: A sample without a video member, or an unreadable
            shard, naming the shard (and key).
    """
    from mmavcl.datasets import AVShardDataset, MediaDecodeError
    samples = labelled = 0
    try:
        for sample in AVShardDataset([url], backend_args=backend_args
                                     )._samples(url):
            if not any(e in sample for e in VIDEO_EXTS):
                members = sorted(k for k in sample if not k.startswith('__'))
                raise ValueError(
                    f'{url}: sample {sample["__key__"]!r} has no video '
                    f'member (one of {", ".join(VIDEO_EXTS)}; it has '
                    f'{", ".join(members)})')
            samples += 1
            labelled += _label(sample)
    except MediaDecodeError as err:  # unreadable, missing: names the URL
        raise ValueError(str(err)) from err
    return samples, labelled


def index_shards(shards: str, out: Optional[str] = None, workers: int = 1,
                 backend_args: Optional[dict] = None
                 ) -> Tuple[Dict[str, int], str]:
    """Write the index of existing shards (``--from-shards``): with
    ``out``, ``OUT/index.json`` keyed by shard name
    (:func:`~mmavcl.datasets.shard_dataset.shard_names`: the file name for
    shards of one folder, the path below their common folder otherwise;
    AVShardDataset's ``index_file``); without it, each shards' folder's
    own ``index.json`` keyed by file name (AVShardDataset's default).
    Returns ``({shard name: samples}, OUT or the shards' common folder)``.

    Raises:
        ValueError: No shards, a shard listed twice (the same path:
            its samples would be read twice per epoch; shards with the
            same file name in different folders are distinct), remote
            shards without ``out``, or a shard :func:`count_shard` refuses.
    """
    from webdataset.shardlists import expand_urls

    from mmavcl.datasets.shard_dataset import shard_names
    if not is_remote(shards, backend_args) and osp.isdir(shards):
        urls = sorted(glob.glob(osp.join(shards, '*.tar')))
    else:
        urls = list(expand_urls(shards))
    if not urls:
        raise ValueError(f'no shards in {shards!r}')
    try:
        names = shard_names(urls)
    except ValueError as err:
        raise ValueError(f'{shards!r}: {err}') from None
    if out is None and is_remote(urls[0], backend_args):
        raise ValueError('remote shards: give OUT, the local folder for '
                         'index.json')
    counts = run_parallel(count_shard, [(u, backend_args) for u in urls],
                          workers, 'indexing shards', 'shard',
                          needs_spawn(*urls, backend_args=backend_args))
    index = {n: c[0] for n, c in zip(names, counts)}
    if out is not None:
        os.makedirs(out, exist_ok=True)
        _write_index(osp.join(out, 'index.json'), index,
                     num_labelled=sum(c[1] for c in counts))
        return index, out
    folders: Dict[str, List[Tuple[str, Tuple[int, int]]]] = {}
    for url, count in zip(urls, counts):
        folders.setdefault(osp.dirname(url), []).append(
            (osp.basename(url), count))
    for folder, files in folders.items():
        _write_index(osp.join(folder, 'index.json'),
                     {name: c[0] for name, c in files},
                     num_labelled=sum(c[1] for _, c in files))
    return index, urls[0][:len(urls[0]) - len(names[0])].rstrip('/') or '.'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('paths', nargs='*', metavar='ANN_FILE MEDIA_ROOT OUT',
                   help='the list, the media root and the output folder '
                   '(only OUT with --merge-index or --from-shards)')
    p.add_argument('--samples-per-shard', type=int, default=1000)
    p.add_argument('--max-shard-mb', type=float, default=1024)
    p.add_argument('--workers', type=int, default=1,
                   help='shards written (or indexed) at a time')
    p.add_argument('--audio-exts', nargs='*', default=list(SIDECAR_EXTS),
                   help='sidecar extensions looked for, first found first')
    p.add_argument('--merge-index', action='store_true',
                   help='only join OUT/index-*.json into OUT/index.json')
    p.add_argument('--from-shards', metavar='SHARDS',
                   help='only write the index of existing shards (a folder, '
                   'a brace pattern or URIs), e.g. video2dataset output')
    add_part_args(p)
    add_backend_args(p)
    args = p.parse_args(argv)
    check_part_args(p, args)
    if args.from_shards:
        if len(args.paths) > 1:
            p.error('--from-shards takes at most OUT')
        out = args.paths[0] if args.paths else None
        shards, out = index_shards(args.from_shards, out, args.workers,
                                   args.backend_args)
    elif args.merge_index:
        if not args.paths:
            p.error('--merge-index needs OUT')
        out = args.paths[-1]
        shards = merge_index(out)
    else:
        if len(args.paths) != 3:
            p.error('expected ANN_FILE MEDIA_ROOT OUT')
        ann_file, media_root, out = args.paths
        shards = make_shards(ann_file, media_root, out,
                             args.samples_per_shard, args.max_shard_mb,
                             args.num_parts, args.part,
                             tuple(args.audio_exts), args.workers,
                             args.backend_args)
    print(f'\n{len(shards)} shard(s), {sum(shards.values())} sample(s) in '
          f'{out}')


if __name__ == '__main__':
    main()
