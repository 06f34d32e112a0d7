_base_ = [
    '../_base_/tal_features_thumos14.py',
    '../../_base_/models/backbone_glcl.py',
]
model = dict(backbone={{_base_.glcl_video_backbone}}, backbone_outputs='concat')
