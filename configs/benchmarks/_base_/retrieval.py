# Retrieval / kNN on frozen features: no head, no training. A benchmark
# config adds a *_retrieval dataset (gallery and query loaders, metrics)
# and the backbone. Features once per split, then any number of protocols:
#   python tools/extract_features.py $CFG PRETRAINED.pth \
#       --split gallery --out train.npz
#   python tools/extract_features.py $CFG PRETRAINED.pth \
#       --split test --out test.npz
#   python tools/analysis/eval_features.py train.npz test.npz
_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/default_runtime.py',
]
model = dict(cls_head=None, frozen=True)
