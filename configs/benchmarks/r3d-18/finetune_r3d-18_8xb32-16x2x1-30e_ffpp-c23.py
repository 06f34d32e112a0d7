_base_ = [
    '../_base_/finetune_ffpp-c23.py',
    '../../_base_/models/backbone_r3d18.py',
]
model = dict(
    backbone={{_base_.r3d18_backbone}},
    cls_head=dict(in_channels={{_base_.r3d18_feat_dim}}))
