# Event localization head on frozen segment features: Adam, cosine decay
# over 30 epochs (mmavcl's choice; the papers' head schedules are
# unverified, docs/evaluation.md).
_base_ = ['../default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=30, eta_min=0, by_epoch=True,
         begin=0, end=30, convert_to_iter_based=True),
]
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=30, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=16)
default_hooks = dict(
    checkpoint=dict(interval=5, max_keep_ckpts=1,
                    save_best='event_loc/seg_acc'))
