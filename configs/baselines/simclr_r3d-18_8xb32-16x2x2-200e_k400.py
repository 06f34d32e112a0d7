# Clip-level SimCLR baseline: the MoCo baseline without momentum encoder and
# queue; symmetric InfoNCE with in-batch negatives over the global batch
# (gathered with gradient), tau 0.1, SyncBN across GPUs (no shuffle-BN here).
# Data, schedule, preprocessor and projection are the MoCo config's.
_base_ = ['./moco_r3d-18_8xb32-16x2x2-200e_k400.py']

model = dict(
    _delete_=True,
    type='SimCLRVideo',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=dict(_base_.r3d18_backbone, norm_cfg=dict(type='SyncBN')),
    neck=dict(_base_.model.neck, norm_cfg=dict(type='SyncBN'),
              with_last_bn=False),
    loss=dict(type='InfoNCELoss', temperature=0.1, symmetric=True,
              in_batch_negatives=True))
