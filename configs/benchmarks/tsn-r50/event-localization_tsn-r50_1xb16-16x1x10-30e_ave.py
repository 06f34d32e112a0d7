# VCLR's paper encoder (TSN ResNet-50) is video-only: the segments' video
# features alone (2048), no audio encoder.
_base_ = [
    '../_base_/event_localization_ave.py',
    '../../_base_/models/backbone_tsn_r50.py',
]
model = dict(
    backbone={{_base_.tsn_r50_backbone}},
    head=dict(in_channels={{_base_.tsn_r50_feat_dim}}),
    data_preprocessor=dict(audio_cfg=None))
