_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_audio_resnet2d18.py',
    '../../_base_/datasets/bench_vggsound.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# VGG-Sound audio classification, linear probe on frozen audio features.
# (Fine-tuning: --cfg-options model.frozen=False.)
model = dict(
    modality='audio',
    backbone={{_base_.audio_r2d18_backbone}},
    cls_head=dict(
        num_classes=309, in_channels={{_base_.audio_r2d18_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='audio_backbone.',
    data_preprocessor=dict(type='AVDataPreprocessor'))
