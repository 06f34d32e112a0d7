# GLCL's backbone, as the GLCL paper fine-tunes it for this task.
_base_ = [
    '../_base_/finetune_ffpp-c23.py',
    '../../_base_/models/backbone_glcl.py',
]
model = dict(
    backbone={{_base_.glcl_video_backbone}},
    # slow (512) and fast (64) pathways, pooled and concatenated
    backbone_outputs='concat',
    cls_head=dict(in_channels=576))
