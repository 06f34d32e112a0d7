# GLCL encoders (METHODS.md section 2): two R3D-18 pathways without lateral
# connections (slow/global: every 8th frame, 64-512 channels; fast/local: all
# frames, 8-64 channels) and a 1D ResNet-18 over time with 80 mel bins as
# channels (LeakyReLU, no temporal downsampling).
glcl_video_backbone = dict(type='TwoPathwayResNet3d', depth=18, alpha=8,
                           beta=1 / 8)
glcl_video_feat_dims = (512, 64)
glcl_audio_backbone = dict(type='AudioResNet1d', depth=18, in_channels=80)
glcl_audio_feat_dim = 512
