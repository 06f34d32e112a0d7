# Full fine-tuning: SGD, 5-epoch warm-up, cosine decay over 150 epochs.
# (A common choice for UCF101/HMDB51 fine-tuning of SSL R3D/R(2+1)D
# backbones; not from one paper.)
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=145, eta_min=0, by_epoch=True,
         begin=5, end=150, convert_to_iter_based=True),
]
# mmengine's EpochBasedTrainLoop + exact mid-epoch resume (engine/loops.py)
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=150, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)
default_hooks = dict(
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best='acc/top1'))
