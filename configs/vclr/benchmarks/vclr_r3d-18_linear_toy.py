_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/datasets/toy_av.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# Linear probe of configs/vclr/vclr_r3d-18_toy.py on the toy set (CPU):
#   python tools/train.py configs/vclr/benchmarks/vclr_r3d-18_linear_toy.py \
#       --cfg-options model.pretrained=work_dirs/vclr_toy_backbone.pth
#   python tools/test.py configs/vclr/benchmarks/vclr_r3d-18_linear_toy.py \
#       work_dirs/vclr_r3d-18_linear_toy/epoch_5.pth
model = dict(
    # the toy pretraining backbone: a thin R3D-18 with 8 base channels
    backbone=dict(type='ResNet3d', depth=18, base_channels=8,
                  conv1_kernel=(3, 7, 7), with_pool1=False, with_pool2=False,
                  temporal_strides=(1, 2, 2, 2)),
    cls_head=dict(num_classes=4, in_channels=64, dropout_ratio=0.0),
    frozen=True,
    data_preprocessor=dict(type='AVDataPreprocessor', audio_cfg=None),
    test_cfg=dict(max_testing_views=None))
train_dataloader = {{_base_.probe_train_dataloader}}
val_evaluator = dict(type='AccuracyMetric', topk=(1, ), levels=('video', ))
test_evaluator = dict(type='AccuracyMetric', topk=(1, ),
                      levels=('video', 'clip'))
optim_wrapper = dict(optimizer=dict(lr=0.5))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=5, eta_min=0, by_epoch=True,
         begin=0, end=5, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=5, val_interval=1)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
log_processor = dict(window_size=5)
