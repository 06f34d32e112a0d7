# VCLR with R3D-18 [OURS: the paper/code is 2D-only, see README.md]. Every
# "frame" of a segment becomes an 8x2 clip at 112x112, counted on the same
# 30 fps grid of the first 10 s as the 2D setting (a clip spans 16 slots =
# 0.53 s at any source rate); a, p2, p3 are the query tuple's clips, as
# there. The losses, queues, momentum, shuffle-BN, optimiser, schedule and
# lr scaling are the paper setting's; the backbone starts from scratch.
#   bash tools/dist_train.sh \
#       configs/vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py 8
_base_ = [
    './vclr_tsn-r50_8xb32-1x1x10-400e_k400.py',
    '../_base_/models/backbone_r3d18.py'
]

feat_channels, embed_dim = _base_.r3d18_feat_dim, 128
clip_len, frame_interval, crop_size = 8, 2, 112

train_pipeline = [
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleSegments', num_segments=3, clip_len=clip_len,
         frame_interval=frame_interval, num_frames=300, grid_fps=30,
         shuffle_prob=0.5, anchor_views=True, reuse_query=True),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

mlp_head = dict(type='MLPNeck', in_channels=feat_channels,
                hid_channels=feat_channels, out_channels=embed_dim,
                num_layers=2, norm_cfg=None, init_cfg=None)
model = dict(
    # from scratch: no MoCo-v2 2D weights for a 3D backbone
    init_cfg=None,
    # blur kernel scaled with the crop (23 px at 224)
    data_preprocessor=dict(video_aug=_base_.color_aug + [_base_.blur_112]),
    # R3D-18 from scratch
    backbone=dict(_base_.r3d18_backbone, _delete_=True),
    inter_neck=mlp_head, intra_neck=mlp_head, segment_neck=mlp_head,
    order_neck=mlp_head)
