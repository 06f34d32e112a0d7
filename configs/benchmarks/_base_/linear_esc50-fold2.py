# ESC-50, test fold 2 (train on the other four).
_base_ = [
    './linear_audio.py',
    '../../_base_/datasets/bench_esc50_fold2.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
