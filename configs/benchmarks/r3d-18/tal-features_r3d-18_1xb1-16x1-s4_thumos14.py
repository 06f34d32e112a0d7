_base_ = [
    '../_base_/tal_features_thumos14.py',
    '../../_base_/models/backbone_r3d18.py',
]
model = dict(backbone={{_base_.r3d18_backbone}})
