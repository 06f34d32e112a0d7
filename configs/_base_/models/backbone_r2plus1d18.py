# R(2+1)D-18 (Tran et al. 2018) with the parameter-matching mid width,
# 33.2 M parameters. Keys match MMAction2's ResNet2Plus1d
# (conv_cfg=dict(type='Conv2plus1d')) built with the same arguments.
r2plus1d18_backbone = dict(
    type='ResNet2Plus1d', depth=18, temporal_strides=(1, 2, 2, 2),
    norm_cfg=dict(type='BN3d', eps=1e-3), zero_init_residual=False)
r2plus1d18_feat_dim = 512
