# MoCo-style video SSL schedule: SGD, linear warm-up, cosine to ~0.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=195, eta_min=1e-6, by_epoch=True,
         begin=5, end=200, convert_to_iter_based=True),
]
# mmengine's EpochBasedTrainLoop + exact mid-epoch resume (engine/loops.py)
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(enable=False, base_batch_size=256)
