# UCF101 split 3, 10 clips x 3 crops at test.
_base_ = [
    './linear.py',
    '../../_base_/datasets/bench_ucf101_split3.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
