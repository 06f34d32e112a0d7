# GLCL's encoders (configs/glcl/glcl_r3d-18-2path_*): the two pathways
# (slow 512 + fast 64, pooled and concatenated) and the 1D audio ResNet-18
# on 80-bin log-mel (512), 1 s per segment. GLCL's event-localization head
# and clip length are unverified (docs/evaluation.md).
_base_ = [
    '../_base_/event_localization_ave.py',
    '../../_base_/models/backbone_glcl.py',
]
model = dict(
    backbone={{_base_.glcl_video_backbone}},
    backbone_outputs='concat',
    audio_backbone={{_base_.glcl_audio_backbone}},
    head=dict(in_channels=576 + 512),
    data_preprocessor=dict(
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=160, n_mels=80)))
