# FaceForensics++ c23 deepfake detection (GLCL): the generic fine-tune, 30
# epochs, 2-way head (real 0 / fake 1); accuracy and video-level AUC.
_base_ = [
    './finetune_30e.py',
    '../../_base_/datasets/bench_ffpp_c23.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}))
default_hooks = dict(checkpoint=dict(save_best='binary/auc'))
