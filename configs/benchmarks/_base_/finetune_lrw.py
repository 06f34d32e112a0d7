# LRW word recognition (GLCL's lip reading): the generic fine-tune, 30
# epochs, 500-way head.
_base_ = [
    './finetune_30e.py',
    '../../_base_/datasets/bench_lrw.py',
]
model = dict(cls_head=dict(num_classes={{_base_.num_classes}}),
             test_cfg=dict(max_testing_views=None))
