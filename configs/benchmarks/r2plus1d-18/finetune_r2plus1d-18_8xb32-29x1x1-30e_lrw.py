_base_ = [
    '../_base_/finetune_lrw.py',
    '../../_base_/models/backbone_r2plus1d18.py',
]
model = dict(
    backbone={{_base_.r2plus1d18_backbone}},
    cls_head=dict(in_channels={{_base_.r2plus1d18_feat_dim}}))
