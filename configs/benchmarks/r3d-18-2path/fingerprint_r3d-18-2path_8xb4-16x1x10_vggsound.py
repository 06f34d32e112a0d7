_base_ = [
    '../_base_/fingerprint_vggsound.py',
    '../../_base_/models/backbone_glcl.py',
]
model = dict(
    backbone={{_base_.glcl_video_backbone}},
    # slow (512) and fast (64) pathways, pooled and concatenated
    backbone_outputs='concat')
