# AdamW with a linear warm-up and cosine decay, stepped per iteration
# (a common audio-visual SSL recipe; used where the paper's is unknown).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999),
                   weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=95, eta_min=1e-6, by_epoch=True,
         begin=5, end=100, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
auto_scale_lr = dict(enable=False, base_batch_size=256)
