# ESC-50, test fold 1 (train on the other four).
_base_ = [
    './linear_audio.py',
    '../../_base_/datasets/bench_esc50.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
