_base_ = [
    './tal_features.py',
    '../../_base_/datasets/bench_thumos14_snippets.py',
]
