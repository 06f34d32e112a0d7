# Kinetics-400: train on train, test on val.
_base_ = [
    './linear.py',
    '../../_base_/datasets/bench_k400_linear.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
