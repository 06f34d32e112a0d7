# AVTSS's encoders (configs/avtss/avtss_r2plus1d-18_*): R(2+1)D-18 and the
# 2D audio ResNet-18 on 128-bin log-mel, 1 s per segment.
_base_ = [
    '../_base_/event_localization_ave.py',
    '../../_base_/models/backbone_r2plus1d18.py',
    '../../_base_/models/backbone_audio_resnet2d18.py',
]
model = dict(
    backbone={{_base_.r2plus1d18_backbone}},
    audio_backbone={{_base_.audio_r2d18_backbone}},
    head=dict(in_channels=1024),
    data_preprocessor=dict(audio_cfg={{_base_.log_mel_128}}))
