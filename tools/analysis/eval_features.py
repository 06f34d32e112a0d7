"""Retrieval recall@k and weighted kNN from two features files.

    python tools/analysis/eval_features.py TRAIN.npz TEST.npz \
        [--mode video_mean|clip] [--topk 1 5 10 20 50] \
        [--knn-k 20 200] [--knn-t 0.07] [--out metrics.json]

TRAIN.npz is the gallery, TEST.npz the queries (both written by
``tools/extract_features.py``).
"""
import argparse
import json

from mmavcl.apis.features import evaluate_feature_files


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('gallery', help='features of the gallery (train split)')
    p.add_argument('query', help='features of the queries (test split)')
    p.add_argument('--mode', choices=['video_mean', 'clip'],
                   default='video_mean')
    p.add_argument('--topk', type=int, nargs='+', default=[1, 5, 10, 20, 50])
    p.add_argument('--knn-k', type=int, nargs='+', default=[20, 200])
    p.add_argument('--knn-t', type=float, default=0.07)
    p.add_argument('--chunk-size', type=int, default=None,
                   help='queries per similarity block (default: auto)')
    p.add_argument('--out', help='also write the metrics as JSON')
    args = p.parse_args(argv)
    res = evaluate_feature_files(args.query, args.gallery, mode=args.mode,
                                 topk=args.topk, knn_k=args.knn_k,
                                 knn_temperature=args.knn_t,
                                 chunk_size=args.chunk_size)
    for k, v in res.items():
        print(f'{k}: {v:.2f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(res, mode=args.mode), f, indent=2)
    return res


if __name__ == '__main__':
    main()
