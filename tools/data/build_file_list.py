"""Build MMAction2-style annotation lists (``path label`` per line).

Four sources:

``folder``   a folder of class sub-folders (``<src>/<class>/<file>``);
             classes are numbered in sorted order; optional random
             train/val split.
``ucf101``   the official split files (``classInd.txt``,
             ``trainlist0{k}.txt``, ``testlist0{k}.txt``) ->
             ``ucf101_{train,val}_split_{k}_videos.txt`` (0-based labels).
``hmdb51``   the official ``testTrainMulti_7030_splits`` folder
             (``<class>_test_split{k}.txt``: 1 = train, 2 = test) ->
             ``hmdb51_{train,val}_split_{k}_videos.txt`` (classes sorted).
``esc50``    ``meta/esc50.csv`` -> ``esc50_{train,test}_fold{k}.txt`` for the
             5 folds (the train list of fold k holds the other folds).
``lrw``      LRW's ``lipread_mp4/<WORD>/{train,val,test}/<WORD>_<n>.mp4``
             -> ``lrw_{train,val,test}_list.txt`` (the 500 words numbered
             in sorted order, ``lrw_classes.txt``).
``ffpp``     FaceForensics++'s official split JSONs (``train.json``,
             ``val.json``, ``test.json``: lists of ``["071", "054"]``
             target/source pairs, 360/70/70) ->
             ``ffpp_{train,val,test}_<compression>.txt``: per pair both
             originals (label 0, ``original_sequences/youtube/<c>/videos/
             071.mp4``) and both fakes of every manipulation (label 1,
             ``manipulated_sequences/<method>/<c>/videos/071_054.mp4`` and
             ``054_071.mp4``), i.e. 720/140/140 real videos.

Examples::

    python tools/data/build_file_list.py folder --src data/mine/videos \\
        --out-dir data/mine --val-ratio 0.1
    python tools/data/build_file_list.py ucf101 \\
        --src data/ucf101/ucfTrainTestlist --out-dir data/ucf101
    python tools/data/build_file_list.py hmdb51 \\
        --src data/hmdb51/testTrainMulti_7030_splits --out-dir data/hmdb51
    python tools/data/build_file_list.py esc50 \\
        --src data/esc50/meta/esc50.csv --out-dir data/esc50
    python tools/data/build_file_list.py lrw \\
        --src data/lrw/lipread_mp4 --out-dir data/lrw
    python tools/data/build_file_list.py ffpp --src data/ffpp/splits \\
        --out-dir data/ffpp --compression c23

Remote sources: ``--src`` may be a URI (``s3://``, ``gs://``,
``http(s)://``, read through mmengine's fileio with ``--backend-args``):
the split files, FF++'s split JSONs and ``esc50.csv`` are read from it;
``folder``, ``hmdb51`` and ``lrw`` need a folder listing, which the object-store and HTTP backends
do not offer (a clear error says so). The lists are written locally.

Many jobs (``--num-parts N --part I``; a Slurm array runs them with
``tools/data/slurm_array.sh``): ``folder`` walks every N-th class folder
from the I-th on (the walk is what takes long on a million files; labels
stay the indices among all classes, and the val split of a class does not
depend on N); the other sources keep every N-th line of each list. Each
part writes ``NAME.part-I-of-N.txt`` (``classes.txt`` whole);
``cat NAME.part-*-of-N.txt`` gives the list of one run, up to line order.
"""
import argparse
import csv
import glob
import io
import os
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence, Tuple

from mmavcl.utils.data_lists import (add_backend_args, add_part_args,
                                     check_part_args, is_remote, join_path,
                                     list_files, part_path, read_bytes,
                                     select_part)

MEDIA_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov', '.m4v', '.flv',
              '.wav', '.flac', '.mp3', '.ogg', '.m4a')


def _write(path: str, lines: Sequence[str]) -> str:
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + ('\n' if lines else ''))
    print(f'{path}: {len(lines)} lines')
    return path


def _need(path: str, backend_args: Optional[dict] = None) -> str:
    # a URI is not probed: reading it fails with an error naming it
    if not is_remote(path, backend_args) and not osp.exists(path):
        raise SystemExit(f'error: {path} does not exist')
    return path


def _text(path: str, backend_args: Optional[dict] = None) -> io.StringIO:
    """A local file or a URI as text (utf-8)."""
    return io.StringIO(read_bytes(_need(path, backend_args), backend_args,
                                  'annotation').decode('utf-8-sig'))


def from_folder(src: str,
                exts: Sequence[str] = MEDIA_EXTS,
                num_parts: int = 1,
                part: int = 0,
                backend_args: Optional[dict] = None
                ) -> Tuple[List[str], List[str]]:
    """``(lines, classes)`` for ``src/<class>/<file>`` (recursive): the
    files of this part's classes (every ``num_parts``-th), labelled by
    their index among all classes."""
    if is_remote(src, backend_args):
        # one listing of the whole tree (object stores list keys, not
        # folders): the classes are the first path components
        files = list_files(src, exts, backend_args)
        classes = sorted({f.split('/')[0] for f in files if '/' in f})
    else:
        classes = sorted(d for d in os.listdir(_need(src))
                         if osp.isdir(osp.join(src, d)))
    if not classes:
        raise SystemExit(f'error: {src} holds no class sub-folders')
    lines = []
    for cls in select_part(classes, num_parts, part):
        label = classes.index(cls)
        if is_remote(src, backend_args):
            rels = [f for f in files if f.startswith(cls + '/')]
        else:
            rels = [osp.relpath(p, src).replace(os.sep, '/')
                    for p in sorted(glob.glob(osp.join(src, cls, '**', '*'),
                                              recursive=True))
                    if osp.splitext(p)[1].lower() in exts]
        for rel in rels:
            if ' ' in rel:
                raise SystemExit(f'error: {rel!r} has a space; text '
                                 'lists split on whitespace')
            lines.append(f'{rel} {label}')
    return lines, classes


def ucf101_split(src: str, split: int,
                 backend_args: Optional[dict] = None) -> Dict[str, List[str]]:
    """Train/val lines of UCF101 split ``split`` (1-3)."""
    class_ind = {}
    with _text(join_path(src, 'classInd.txt'), backend_args) as f:
        for line in f:
            if line.strip():
                idx, name = line.split()
                class_ind[name] = int(idx) - 1
    out = {}
    for part, fname in (('train', f'trainlist0{split}.txt'),
                        ('val', f'testlist0{split}.txt')):
        lines = []
        with _text(join_path(src, fname), backend_args) as f:
            for line in f:
                if not line.strip():
                    continue
                rel = line.split()[0]
                lines.append(f'{rel} {class_ind[rel.split("/")[0]]}')
        out[part] = lines
    return out


def hmdb51_split(src: str, split: int,
                 backend_args: Optional[dict] = None) -> Dict[str, List[str]]:
    """Train/val lines of HMDB51 split ``split`` (1-3)."""
    suffix = f'_test_split{split}.txt'
    files = [f for f in list_files(_need(src, backend_args), ('.txt', ),
                                   backend_args)
             if '/' not in f and f.endswith(suffix)]
    if not files:
        raise SystemExit(f'error: no *_test_split{split}.txt in {src}')
    classes = sorted(f[:-len(suffix)] for f in files)
    out = {'train': [], 'val': []}
    for label, cls in enumerate(classes):
        with _text(join_path(src, cls + suffix), backend_args) as f:
            for line in f:
                parts = line.split()
                if len(parts) != 2:
                    continue
                name, tag = parts
                if tag == '1':
                    out['train'].append(f'{cls}/{name} {label}')
                elif tag == '2':
                    out['val'].append(f'{cls}/{name} {label}')
    return out


def esc50_folds(csv_path: str, backend_args: Optional[dict] = None
                ) -> Dict[int, Dict[str, List[str]]]:
    """Per fold k: ``{'train': other folds, 'test': fold k}``."""
    rows = []
    with _text(csv_path, backend_args) as f:
        for row in csv.DictReader(f):
            rows.append((row['filename'], int(row['fold']),
                         int(row['target'])))
    folds = sorted({r[1] for r in rows})
    return {
        k: {
            'train': [f'{n} {t}' for n, fold, t in rows if fold != k],
            'test': [f'{n} {t}' for n, fold, t in rows if fold == k],
        }
        for k in folds
    }


LRW_SPLITS = ('train', 'val', 'test')
FFPP_METHODS = ('Deepfakes', 'Face2Face', 'FaceSwap', 'NeuralTextures')


def lrw_lists(src: str, backend_args: Optional[dict] = None
              ) -> Tuple[Dict[str, List[str]], List[str]]:
    """``({split: lines}, words)`` of LRW's ``<WORD>/<split>/*.mp4`` tree
    (labels: the words in sorted order)."""
    files = [f.split('/') for f in list_files(_need(src, backend_args),
                                              ('.mp4', ), backend_args)]
    files = [f for f in files if len(f) == 3 and f[1] in LRW_SPLITS]
    words = sorted({word for word, _, _ in files})
    if not words:
        raise SystemExit(f'error: {src} holds no <WORD>/<split>/*.mp4')
    label = {word: i for i, word in enumerate(words)}
    out = {split: [] for split in LRW_SPLITS}
    for word, split, name in files:  # sorted by list_files
        out[split].append(f'{word}/{split}/{name} {label[word]}')
    return out, words


def ffpp_lists(split_dir: str, compression: str = 'c23',
               methods: Sequence[str] = FFPP_METHODS,
               backend_args: Optional[dict] = None
               ) -> Dict[str, List[str]]:
    """``{split: lines}`` of FaceForensics++ from its split JSONs: 0 real,
    1 fake (paths as its download script lays them out)."""
    import json
    real = f'original_sequences/youtube/{compression}/videos'
    out = {}
    for split in LRW_SPLITS:
        pairs = json.load(_text(f'{split_dir.rstrip("/")}/{split}.json',
                                backend_args))
        lines = []
        for pair in pairs:
            if len(pair) != 2:
                raise SystemExit(f'error: {split}.json: {pair!r} is not a '
                                 'pair of video ids')
            a, b = pair
            lines += [f'{real}/{a}.mp4 0', f'{real}/{b}.mp4 0']
            for method in methods:
                fake = f'manipulated_sequences/{method}/{compression}/videos'
                lines += [f'{fake}/{a}_{b}.mp4 1', f'{fake}/{b}_{a}.mp4 1']
        out[split] = lines
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Build annotation lists.',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n', 1)[1])
    p.add_argument('source', choices=['folder', 'ucf101', 'hmdb51', 'esc50',
                                      'lrw', 'ffpp'])
    p.add_argument('--src', required=True,
                   help='class folder, split-file folder or esc50.csv')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--prefix', default='', help='list name prefix (folder)')
    p.add_argument('--val-ratio', type=float, default=0.0,
                   help='folder: fraction per class held out for val')
    p.add_argument('--splits', type=int, nargs='+', default=[1, 2, 3])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--compression', default='c23',
                   choices=['raw', 'c23', 'c40'], help='ffpp')
    p.add_argument('--methods', nargs='+', default=list(FFPP_METHODS),
                   help='ffpp: manipulations counted as fake')
    add_part_args(p)
    add_backend_args(p)
    args = p.parse_args(argv)
    check_part_args(p, args)
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    out, bargs = args.out_dir, args.backend_args

    def write(name: str, lines: Sequence[str]) -> str:
        """This part's list (all of it with one part)."""
        return _write(part_path(osp.join(out, name), args.num_parts,
                                args.part), lines)

    def this_part(lines: Sequence[str]) -> List[str]:
        return select_part(lines, args.num_parts, args.part)

    if args.source == 'folder':
        lines, classes = from_folder(args.src, MEDIA_EXTS, args.num_parts,
                                     args.part, bargs)
        prefix = args.prefix + ('_' if args.prefix else '')
        _write(osp.join(out, f'{prefix}classes.txt'), classes)
        if args.val_ratio > 0:
            by_class: Dict[str, List[str]] = {}
            for line in lines:
                by_class.setdefault(line.rsplit(' ', 1)[1], []).append(line)
            train, val = [], []
            for label, items in by_class.items():
                # seeded per class: the split of a class is the same
                # whichever part (of any --num-parts) walks it
                rng = random.Random(f'{args.seed}/{label}')
                rng.shuffle(items)
                k = max(1, int(round(len(items) * args.val_ratio)))
                val += sorted(items[:k])
                train += sorted(items[k:])
            write(f'{prefix}train.txt', train)
            write(f'{prefix}val.txt', val)
        else:
            write(f'{prefix}all.txt', lines)
    elif args.source in ('ucf101', 'hmdb51'):
        fn = ucf101_split if args.source == 'ucf101' else hmdb51_split
        for k in args.splits:
            for split, lines in fn(args.src, k, bargs).items():
                write(f'{args.source}_{split}_split_{k}_videos.txt',
                      this_part(lines))
    elif args.source == 'lrw':
        splits, words = lrw_lists(args.src, bargs)
        _write(osp.join(out, 'lrw_classes.txt'), words)
        for split, lines in splits.items():
            write(f'lrw_{split}_list.txt', this_part(lines))
    elif args.source == 'ffpp':
        for split, lines in ffpp_lists(args.src, args.compression,
                                       args.methods, bargs).items():
            write(f'ffpp_{split}_{args.compression}.txt', this_part(lines))
    else:
        for k, splits in esc50_folds(args.src, bargs).items():
            for split, lines in splits.items():
                write(f'esc50_{split}_fold{k}.txt', this_part(lines))


if __name__ == '__main__':
    main()
