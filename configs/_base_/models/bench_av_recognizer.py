# Downstream recognizer: backbone + ClsHead (linear probe or fine-tune).
# The pretrained backbone comes from `pretrained` (an mmavcl pretraining
# checkpoint, tools/convert/to_mmaction2.py output, or bare backbone weights):
#   --cfg-options model.pretrained=work_dirs/<run>/epoch_200.pth
# Leaf configs set `backbone` (usually from a configs/_base_/models/backbone_*
# snippet, the one the pretraining config used) and the head size.
model = dict(
    type='AVRecognizer',
    modality='video',
    backbone=dict(),  # set by the leaf config
    cls_head=dict(type='ClsHead', num_classes=101, in_channels=512,
                  dropout_ratio=0.5, average_clips='prob'),
    frozen=False,
    pretrained=None,
    pretrained_prefix='backbone.',
    data_preprocessor=dict(type='AVDataPreprocessor'),
    # 10 clips x 3 crops are pushed through the backbone 10 at a time
    test_cfg=dict(max_testing_views=10))
