_base_ = [
    '../_base_/fingerprint_vggsound.py',
    '../../_base_/models/backbone_tsn_r50.py',
]
model = dict(backbone={{_base_.tsn_r50_backbone}})
