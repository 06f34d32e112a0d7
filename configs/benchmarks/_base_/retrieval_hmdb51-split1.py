# HMDB51 split 1: test videos query the train videos.
_base_ = [
    './retrieval.py',
    '../../_base_/datasets/bench_hmdb51_retrieval.py',
]
