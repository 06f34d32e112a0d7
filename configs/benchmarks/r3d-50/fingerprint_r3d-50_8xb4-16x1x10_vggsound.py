_base_ = [
    '../_base_/fingerprint_vggsound.py',
    '../../_base_/models/backbone_slowonly_r50.py',
]
model = dict(backbone={{_base_.slowonly_r50_backbone}})
