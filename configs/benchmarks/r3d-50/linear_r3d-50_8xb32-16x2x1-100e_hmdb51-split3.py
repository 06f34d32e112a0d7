_base_ = [
    '../_base_/linear_hmdb51-split3.py',
    '../../_base_/models/backbone_slowonly_r50.py',
]
model = dict(
    backbone={{_base_.slowonly_r50_backbone}},
    cls_head=dict(in_channels={{_base_.slowonly_r50_feat_dim}}))
