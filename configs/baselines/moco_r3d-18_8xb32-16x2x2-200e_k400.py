# Clip-level MoCo-v2 baseline for video: two random 16x2 clips of a video are
# the positive pair (as in CVRL / rhoMoCo); R3D-18 at 112x112, MLP head
# 512-512-128, momentum 0.999 with shuffle-BN, queue 65536, tau 0.2 (MoCo-v2's
# value), SGD 0.1 / 256 with cosine, 200 epochs.
#   bash tools/dist_train.sh \
#       configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/k400_ssl_2clip_av.py'
]

clip_len, frame_interval, crop_size = 16, 2, 112
train_pipeline = [  # video only
    dict(type='VideoInit', backend='pyav', num_threads=1,
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
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        video_aug=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                 saturation=0.4, hue=0.1, p=0.8),
            dict(type='RandomGrayscale', p=0.2),
            dict(type='RandomGaussianBlur', kernel_size=(11, 11),
                 sigma=(0.1, 2.0), p=0.5),
        ],
        audio_cfg=None),
    backbone=dict(type='ResNet3d', depth=18, conv1_kernel=(3, 7, 7),
                  with_pool1=False, with_pool2=False,
                  temporal_strides=(1, 2, 2, 2)),
    neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
              out_channels=128, num_layers=2, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.2, in_batch_negatives=False),
    use_momentum=True, queue_len=65536, feat_dim=128, momentum=0.999,
    shuffle_bn=True, symmetric=False)

model_wrapper_cfg = dict(type='MMDistributedDataParallel',
                         broadcast_buffers=False)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
