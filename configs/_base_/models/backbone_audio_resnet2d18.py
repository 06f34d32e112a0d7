# 2D ResNet-18 over a (1, F, T) log-mel spectrogram.
audio_r2d18_backbone = dict(type='AudioResNet2d', depth=18, in_channels=1)
audio_r2d18_feat_dim = 512
