_base_ = [
    '../_base_/tal_features_thumos14.py',
    '../../_base_/models/backbone_r2plus1d18.py',
]
model = dict(backbone={{_base_.r2plus1d18_backbone}})
