# VCLR with a SlowOnly-style R3D-50 [OURS, see README.md]: the R3D-18 recipe
# with 2048-d features (heads 2048-2048-128), 8 GPUs x 16 with the lr scaled
# linearly by auto_scale_lr (0.1 x 128 / 256 = 0.05) and 200 epochs.
_base_ = [
    './vclr_r3d-18_8xb32-8x2x10-400e_k400.py',
    '../_base_/models/backbone_slowonly_r50.py'
]

feat_channels, embed_dim = _base_.slowonly_r50_feat_dim, 128
mlp_head = dict(type='MLPNeck', in_channels=feat_channels,
                hid_channels=feat_channels, out_channels=embed_dim,
                num_layers=2, norm_cfg=None, init_cfg=None)
model = dict(
    backbone=dict(_base_.slowonly_r50_backbone, _delete_=True),
    inter_neck=mlp_head, intra_neck=mlp_head, segment_neck=mlp_head,
    order_neck=mlp_head)
train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=0.1))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=1e-6, by_epoch=True,
         begin=5, end=200, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=200)
# lr = 0.1 x global batch / 256, as VCLR's code [CODE train_vclr.py]
auto_scale_lr = dict(enable=True, base_batch_size=256)
