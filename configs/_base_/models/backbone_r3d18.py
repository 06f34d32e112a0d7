# R3D-18 (Hara et al. 2018; torchvision r3d_18 layout), 33.2 M parameters.
# Keys match MMAction2's ResNet3d built with the same arguments.
r3d18_backbone = dict(
    type='ResNet3d', depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
    with_pool2=False, temporal_strides=(1, 2, 2, 2))
r3d18_feat_dim = 512
