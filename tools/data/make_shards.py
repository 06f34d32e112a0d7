"""Write WebDataset tar shards (and their index) from an annotation list.

    python tools/data/make_shards.py ANN_FILE MEDIA_ROOT OUT \\
        [--samples-per-shard N] [--max-shard-mb M] \\
        [--num-parts P --part I] [--audio-exts .wav .flac]

``ANN_FILE`` is a list that :class:`mmavcl.datasets.AVVideoDataset` reads
(``path/to/video.mp4 [label]`` lines, or JSON); ``MEDIA_ROOT`` the folder or
URI its paths are relative to. Each sample becomes the members
``{key}.mp4`` (the video as is, no re-encode; its own extension),
``{key}.json`` (``{"label", "path"}``), ``{key}.txt`` (the label, as
video2dataset writes it) and ``{key}.wav`` (an audio sidecar next to the
video, if any). A shard closes after N samples or M MB.

Shards are named ``OUT/shard-{part:03d}-{i:06d}.tar`` and the index
``OUT/index-{part:03d}.json`` lists each shard's sample count; with one
part the index is ``OUT/index.json`` (what
:class:`~mmavcl.datasets.AVShardDataset` reads). After a run of several
parts, ``--merge-index`` joins ``index-*.json`` into ``index.json``.

``--num-parts P --part I`` write the I-th of P disjoint slices of the list
(a Slurm array: ``--part $SLURM_ARRAY_TASK_ID``). Resumable: a shard is
written to ``NAME.tar.tmp`` and renamed when complete, and a complete
shard of an earlier run is not written again (the shard boundaries are a
function of the list and the options, so a rerun makes the same ones).
"""
import argparse
import glob
import io
import json
import os
import os.path as osp
import re
import sys
import tarfile
from typing import Dict, Iterator, List, Optional, Tuple

from mmengine.dataset import BaseDataset
from mmengine.utils import ProgressBar

from mmavcl.datasets import AVVideoDataset
from mmavcl.datasets.media.remote import fetch, needs_fetch


def _read(path: str, backend_args: Optional[dict] = None) -> bytes:
    if needs_fetch(path, backend_args):
        return fetch(path, backend_args)
    with open(path, 'rb') as f:
        return f.read()


def _sidecar(video: str, exts: List[str]) -> Optional[str]:
    if needs_fetch(video):
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


def _members(rec: dict, root: str, exts: List[str]
             ) -> Iterator[Tuple[str, bytes]]:
    rel = rec['filename']
    video = osp.join(root, rel) if root else rel
    key = _key(rel)
    yield f'{key}{osp.splitext(rel)[1].lower() or ".mp4"}', _read(video)
    label = rec.get('label')
    yield f'{key}.json', json.dumps(dict(label=label, path=rel)).encode()
    if label is not None:
        yield f'{key}.txt', (' '.join(map(str, label)) if isinstance(
            label, list) else str(label)).encode()
    audio = rec.get('audio_filename')
    audio = osp.join(root, audio) if audio else _sidecar(video, exts)
    if audio:
        yield f'{key}{osp.splitext(audio)[1].lower()}', _read(audio)


def write_shard(path: str, records: List[dict], root: str,
                exts: List[str]) -> None:
    tmp = path + '.tmp'
    with tarfile.open(tmp, 'w') as tar:
        for rec in records:
            for name, data in _members(rec, root, exts):
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 0
                tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)  # complete shards only ever carry the name


def make_shards(ann_file: str, media_root: str, out: str,
                samples_per_shard: int = 1000, max_shard_mb: float = 1024,
                num_parts: int = 1, part: int = 0,
                audio_exts: Tuple[str, ...] = ('.wav', '.flac')
                ) -> Dict[str, int]:
    """Write this part's shards; returns (and writes) its index."""
    if not 0 <= part < num_parts:
        raise ValueError(f'--part {part} outside [0, {num_parts})')
    ds = AVVideoDataset(ann_file, lazy_init=False, serialize_data=False)
    # the records as written in the list (no prefixes; a JSON record's
    # own audio_filename kept)
    records = [BaseDataset.get_data_info(ds, i)
               for i in range(part, len(ds), num_parts)]
    sizes = []
    for rec in records:
        path = osp.join(media_root, rec['filename'])
        sizes.append(0 if needs_fetch(path) else osp.getsize(path))
    ranges = plan(records, samples_per_shard, max_shard_mb * 2**20, sizes)
    os.makedirs(out, exist_ok=True)
    index, bar = {}, ProgressBar(len(ranges), file=sys.stdout)
    for i, (a, b) in enumerate(ranges):
        name = f'shard-{part:03d}-{i:06d}.tar'
        path = osp.join(out, name)
        if not osp.isfile(path):  # resumable: complete shards are kept
            write_shard(path, records[a:b], media_root, list(audio_exts))
        index[name] = b - a
        bar.update()
    idx_name = 'index.json' if num_parts == 1 else f'index-{part:03d}.json'
    with open(osp.join(out, idx_name), 'w') as f:
        json.dump(dict(shards=index, num_samples=sum(index.values())), f,
                  indent=1)
    return index


def merge_index(out: str) -> Dict[str, int]:
    shards: Dict[str, int] = {}
    for path in sorted(glob.glob(osp.join(out, 'index-*.json'))):
        with open(path) as f:
            shards.update(json.load(f)['shards'])
    with open(osp.join(out, 'index.json'), 'w') as f:
        json.dump(dict(shards=shards, num_samples=sum(shards.values())), f,
                  indent=1)
    return shards


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('ann_file')
    p.add_argument('media_root')
    p.add_argument('out')
    p.add_argument('--samples-per-shard', type=int, default=1000)
    p.add_argument('--max-shard-mb', type=float, default=1024)
    p.add_argument('--num-parts', type=int, default=1)
    p.add_argument('--part', type=int, default=0)
    p.add_argument('--audio-exts', nargs='*', default=['.wav', '.flac'])
    p.add_argument('--merge-index', action='store_true',
                   help='only join OUT/index-*.json into OUT/index.json')
    args = p.parse_args(argv)
    if args.merge_index:
        shards = merge_index(args.out)
    else:
        shards = make_shards(args.ann_file, args.media_root, args.out,
                             args.samples_per_shard, args.max_shard_mb,
                             args.num_parts, args.part,
                             tuple(args.audio_exts))
    print(f'\n{len(shards)} shard(s), {sum(shards.values())} sample(s) in '
          f'{args.out}')


if __name__ == '__main__':
    main()
