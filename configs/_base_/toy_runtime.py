# What the toy runs share (docs/toy_runs.md): the default runtime, AdamW at
# a constant lr for 10 epochs of the toy set, a log line every 5 iterations,
# the last 2 epoch checkpoints kept. A toy config sets only its lr.
_base_ = ['default_runtime.py']

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
param_scheduler = []
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=5)
