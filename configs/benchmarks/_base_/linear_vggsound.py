# VGG-Sound.
_base_ = [
    './linear_audio.py',
    '../../_base_/datasets/bench_vggsound.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
