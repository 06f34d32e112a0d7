# MoCo video baseline on the toy audio-visual set, for CPU (thin R3D-18,
# two 8x2 clips at 32x32, queue 256).
#   bash tools/dist_train.sh configs/baselines/moco_r3d-18_toy.py 2
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/toy_av.py'
]

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=2,
         mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=32, scale=(0.4, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(audio_source='none', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

model = dict(
    type='MoCoVideo',
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        video_aug=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                        saturation=0.4, hue=0.1, p=0.8)],
        audio_cfg=None),
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
              out_channels=32, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.2, in_batch_negatives=False),
    use_momentum=True, queue_len=32, feat_dim=32, momentum=0.99)

optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, eta_min=1e-4, by_epoch=True,
         begin=0, end=10, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=5)
