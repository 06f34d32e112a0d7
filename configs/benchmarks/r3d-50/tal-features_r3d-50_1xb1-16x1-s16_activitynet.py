_base_ = [
    '../_base_/tal_features_activitynet.py',
    '../../_base_/models/backbone_slowonly_r50.py',
]
model = dict(backbone={{_base_.slowonly_r50_backbone}})
