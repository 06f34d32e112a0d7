# LRW word recognition (GLCL's lip reading): the generic fine-tune with a
# 30-epoch schedule (2 warm-up + 28 cosine; mmavcl's choice, the paper's is
# unverified), 500-way head.
_base_ = [
    './finetune.py',
    '../../_base_/datasets/bench_lrw.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}),
             test_cfg=dict(max_testing_views=None))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=28, eta_min=0, by_epoch=True,
         begin=2, end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2))
