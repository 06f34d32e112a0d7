# UCF101 split 2, 10 clips x 3 crops at test.
_base_ = [
    './linear.py',
    '../../_base_/datasets/bench_ucf101_split2.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
