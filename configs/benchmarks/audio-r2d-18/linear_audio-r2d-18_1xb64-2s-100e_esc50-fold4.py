_base_ = [
    '../_base_/linear_esc50-fold4.py',
    '../../_base_/models/backbone_audio_resnet2d18.py',
]
model = dict(
    backbone={{_base_.audio_r2d18_backbone}},
    cls_head=dict(in_channels={{_base_.audio_r2d18_feat_dim}}))
