# VCLR's R3D-50 encoder (configs/vclr/vclr_r3d-50_*) is video-only: the
# segments' video features alone (2048), no audio encoder.
_base_ = [
    '../_base_/event_localization_ave.py',
    '../../_base_/models/backbone_slowonly_r50.py',
]
model = dict(
    backbone={{_base_.slowonly_r50_backbone}},
    head=dict(in_channels={{_base_.slowonly_r50_feat_dim}}),
    data_preprocessor=dict(audio_cfg=None))
