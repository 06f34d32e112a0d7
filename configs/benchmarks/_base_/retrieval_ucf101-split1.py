# UCF101 split 1: test videos query the train videos.
_base_ = [
    './retrieval.py',
    '../../_base_/datasets/bench_ucf101_retrieval.py',
]
