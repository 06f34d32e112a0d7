_base_ = [
    '../_base_/tal_features_thumos14.py',
    '../../_base_/models/backbone_tsn_r50.py',
]
model = dict(backbone={{_base_.tsn_r50_backbone}})
