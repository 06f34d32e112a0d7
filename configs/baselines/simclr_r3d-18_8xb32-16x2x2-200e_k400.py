# Clip-level SimCLR baseline: the MoCo baseline without momentum encoder and
# queue; symmetric InfoNCE with in-batch negatives over the global batch
# (gathered with gradient), tau 0.1, SyncBN across GPUs (no shuffle-BN here).
_base_ = ['./moco_r3d-18_8xb32-16x2x2-200e_k400.py']

model = dict(
    backbone=dict(norm_cfg=dict(type='SyncBN')),
    neck=dict(norm_cfg=dict(type='SyncBN'), with_last_bn=False),
    loss=dict(type='InfoNCELoss', temperature=0.1, symmetric=True,
              in_batch_negatives=True),
    use_momentum=False)
