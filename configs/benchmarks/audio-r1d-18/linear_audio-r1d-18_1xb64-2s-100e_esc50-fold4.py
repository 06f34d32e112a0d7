_base_ = [
    '../_base_/linear_esc50-fold4.py',
    '../../_base_/models/backbone_glcl.py',
]
model = dict(
    backbone={{_base_.glcl_audio_backbone}},
    # the log-mel of the GLCL pretraining config (80 mel bins: in_channels)
    data_preprocessor=dict(audio_cfg=dict(n_fft=512, n_mels=80)),
    cls_head=dict(in_channels={{_base_.glcl_audio_feat_dim}}))
