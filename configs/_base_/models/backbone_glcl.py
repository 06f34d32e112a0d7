# GLCL encoders as released (yunyikristy/global_local @75c3c89; METHODS.md
# section 2, configs/glcl/README.md): two ResNet-18 pathways of the code's
# block (one 3x3x3 + one 1x1x1 conv), no lateral connections (slow/global:
# every 8th frame, 64-512 channels, 15.26M params; fast/local: all frames,
# 8-64 channels, 0.24M), and a 1D ResNet-18 over time with 80 mel bins as
# channels (LeakyReLU, no temporal downsampling, conv biases, a 1x1 shortcut
# in layer1; 3.89M). zero_init_residual is off in both, as in the code.
# The GLCL pretraining config builds the same encoders, so its weights load.
glcl_video_backbone = dict(type='TwoPathwayResNet3d', depth=18, alpha=8,
                           beta=1 / 8, block_layout='glcl',
                           zero_init_residual=False)
glcl_video_feat_dims = (512, 64)
glcl_audio_backbone = dict(type='AudioResNet1d', depth=18, in_channels=80,
                           conv_bias=True, layer1_projection_shortcut=True,
                           conv_init='xavier_normal', zero_init_residual=False)
glcl_audio_feat_dim = 512
