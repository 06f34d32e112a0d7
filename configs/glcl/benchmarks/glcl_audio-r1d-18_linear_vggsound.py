_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_glcl.py',
    '../../_base_/datasets/bench_vggsound.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# VGG-Sound audio classification, linear probe on frozen audio features.
# (Fine-tuning: --cfg-options model.frozen=False.)
model = dict(
    modality='audio',
    backbone={{_base_.glcl_audio_backbone}},
    cls_head=dict(
        num_classes=309, in_channels={{_base_.glcl_audio_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='audio_backbone.',
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        # the log-mel of the GLCL pretraining config
        audio_cfg=dict(n_fft=512, n_mels=80)))
