"""Mean (and std) of a test metric over cross-validation folds (ESC-50).

    python tools/analysis/mean_over_folds.py WORK_DIR_FOLD1 ... \
        [--key acc/top1]

Each argument is a work dir of ``tools/test.py`` (the newest record with
``--key`` in its ``<timestamp>/<timestamp>.json`` logs is used) or such a JSON
file.
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
from typing import List


def last_value(path: str, key: str) -> float:
    """The newest logged value of ``key`` under ``path``."""
    if osp.isdir(path):
        files = glob.glob(osp.join(path, '**', '*.json'), recursive=True)
        files.sort(key=os.path.getmtime)
    else:
        files = [path]
    for f in reversed(files):
        with open(f) as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        for rec in reversed(records):
            if key in rec:
                return float(rec[key])
    raise KeyError(f'{path}: no logged `{key}` (looked in {len(files)} '
                   'json file(s)); run tools/test.py with this work dir')


def mean_over_folds(paths: List[str], key: str = 'acc/top1') -> dict:
    values = [last_value(p, key) for p in paths]
    return dict(values=values, mean=statistics.fmean(values),
                std=statistics.pstdev(values))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('paths', nargs='+', help='work dirs or json logs')
    p.add_argument('--key', default='acc/top1')
    args = p.parse_args(argv)
    res = mean_over_folds(args.paths, args.key)
    for path, v in zip(args.paths, res['values']):
        print(f'{path}: {v:.2f}')
    print(f'mean {args.key} over {len(res["values"])} folds: '
          f'{res["mean"]:.2f} (std {res["std"]:.2f})')
    return res


if __name__ == '__main__':
    main()
