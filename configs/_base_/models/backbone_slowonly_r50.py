# SlowOnly-style R3D-50 (Feichtenhofer et al. 2019): 1x7x7 stem, temporal
# kernels in stages 3-4 only. Keys match MMAction2's ResNet3d(SlowOnly).
slowonly_r50_backbone = dict(
    type='ResNet3d', depth=50, conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1),
    with_pool2=False)
slowonly_r50_feat_dim = 2048
