_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_audio_resnet2d18.py',
    '../../_base_/datasets/bench_esc50.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# ESC-50 linear probe on frozen audio features, test fold 1 (train on
# folds 2-5). Report the mean over the 5 folds: run fold1..fold5 and
#   python tools/analysis/mean_over_folds.py work_dirs/*esc50-fold*
model = dict(
    modality='audio',
    backbone={{_base_.audio_r2d18_backbone}},
    cls_head=dict(
        num_classes=50, in_channels={{_base_.audio_r2d18_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='audio_backbone.',
    data_preprocessor=dict(type='AVDataPreprocessor'))
