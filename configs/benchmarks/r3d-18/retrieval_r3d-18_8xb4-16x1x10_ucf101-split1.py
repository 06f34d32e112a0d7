_base_ = [
    '../_base_/retrieval_ucf101-split1.py',
    '../../_base_/models/backbone_r3d18.py',
]
model = dict(backbone={{_base_.r3d18_backbone}})
