_base_ = [
    '../_base_/linear.py',
    '../../_base_/datasets/toy_av.py',
    '../../_base_/models/backbone_r3d18.py',
]
# Linear probe of configs/vclr/vclr_r3d-18_toy.py on the toy set (CPU):
#   CFG=configs/benchmarks/r3d-18/linear_r3d-18_1xb8-8x2x1-5e_toy.py
#   python tools/train.py $CFG \
#       --cfg-options model.pretrained=work_dirs/vclr_toy_backbone.pth
#   python tools/test.py $CFG \
#       work_dirs/linear_r3d-18_1xb8-8x2x1-5e_toy/epoch_5.pth
model = dict(
    # the toy pretraining backbone: R3D-18 with 8 base channels (the
    # snippet read directly, `_base_.x`, as {{}} cannot add a key to it)
    backbone=dict(_base_.r3d18_backbone, base_channels=8),
    cls_head=dict(num_classes=4, in_channels=64),
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
