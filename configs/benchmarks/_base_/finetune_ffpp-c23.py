# FaceForensics++ c23 deepfake detection (GLCL): the generic fine-tune,
# 2-way head (real 0 / fake 1), 30 epochs (2 warm-up + 28 cosine; mmavcl's
# choice, the paper's is unverified); accuracy and video-level AUC.
_base_ = [
    './finetune.py',
    '../../_base_/datasets/bench_ffpp_c23.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=28, eta_min=0, by_epoch=True,
         begin=2, end=30, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=30, val_interval=2)
default_hooks = dict(checkpoint=dict(interval=2, save_best='binary/auc'))
