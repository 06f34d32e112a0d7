# Clip-level MoCo-v2 baseline for video: two random 16x2 clips of a video are
# the positive pair (as in CVRL / rhoMoCo); R3D-18 at 112x112, MLP head
# 512-512-128, momentum 0.999 with shuffle-BN, queue 65536, tau 0.2 (MoCo-v2's
# value), SGD 0.1 / 256 with cosine, 200 epochs.
#   bash tools/dist_train.sh \
#       configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/k400_ssl_2clip_av.py',
    '../_base_/models/backbone_r3d18.py',
    '../_base_/models/data_preprocessors.py'
]

clip_len, frame_interval, crop_size = 16, 2, 112
train_pipeline = [  # video only
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=2, mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(audio_source='none', pipeline=train_pipeline))

model = dict(
    type='MoCoVideo',
    data_preprocessor=dict(_base_.video_preprocessor,
                           video_aug=_base_.color_aug + [_base_.blur_112]),
    backbone=_base_.r3d18_backbone,
    neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
              out_channels=128, num_layers=2, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.2, in_batch_negatives=False),
    queue_len=65536, feat_dim=128, momentum=0.999,
    shuffle_bn=True, symmetric=False)

model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         broadcast_buffers=False)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
