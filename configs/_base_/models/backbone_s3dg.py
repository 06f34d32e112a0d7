# S3D-G (Xie et al. 2018), 1024-d features at stride 32 / 8.
s3dg_backbone = dict(type='S3DG', gating=True)
s3dg_feat_dim = 1024
