_base_ = [
    './tal_features.py',
    '../../_base_/datasets/bench_activitynet_snippets.py',
]
