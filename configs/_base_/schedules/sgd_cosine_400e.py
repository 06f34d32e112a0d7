# VCLR's schedule [CODE shell/main_train.sh, utils/lr_scheduler.py]: SGD
# (momentum 0.9, wd 1e-4), lr 0.1 for a global batch of 256, a 5-epoch linear
# warm-up from lr/100, then cosine to 1e-6, stepped every iteration.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=395, eta_min=1e-6, by_epoch=True,
         begin=5, end=400, convert_to_iter_based=True),
]
# mmengine's EpochBasedTrainLoop + exact mid-epoch resume (engine/loops.py)
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=400)
auto_scale_lr = dict(enable=False, base_batch_size=256)
