# The generic fine-tune on a 30-epoch schedule (2 warm-up + 28 cosine
# epochs; mmavcl's choice for the larger GLCL fine-tuning sets, LRW and
# FaceForensics++, where the papers' schedules are unverified).
_base_ = ['./finetune.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=28, eta_min=0, by_epoch=True,
         begin=2, end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2))
