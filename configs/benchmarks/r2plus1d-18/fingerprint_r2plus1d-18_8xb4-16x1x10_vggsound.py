_base_ = [
    '../_base_/fingerprint_vggsound.py',
    '../../_base_/models/backbone_r2plus1d18.py',
]
model = dict(backbone={{_base_.r2plus1d18_backbone}})
