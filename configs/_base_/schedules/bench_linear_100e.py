# Linear probe: SGD on the head only (the backbone is frozen), cosine decay.
# (A common choice for video SSL linear evaluation; not from one paper.)
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=100, eta_min=0, by_epoch=True,
         begin=0, end=100, convert_to_iter_based=True),
]
# mmengine's EpochBasedTrainLoop + exact mid-epoch resume (engine/loops.py)
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=100, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)
default_hooks = dict(
    checkpoint=dict(interval=5, max_keep_ckpts=1, save_best='acc/top1'))
