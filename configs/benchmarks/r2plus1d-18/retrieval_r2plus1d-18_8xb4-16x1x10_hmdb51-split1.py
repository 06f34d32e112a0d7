_base_ = [
    '../_base_/retrieval_hmdb51-split1.py',
    '../../_base_/models/backbone_r2plus1d18.py',
]
model = dict(backbone={{_base_.r2plus1d18_backbone}})
