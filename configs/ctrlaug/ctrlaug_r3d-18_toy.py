# CtrlAug [RECON] on the toy audio-visual set, for CPU: a thin R3D-18 (8 base
# channels, stride-1 last stage so 32x32 crops give 2x2 cells), a global view
# of 8 frames and 2 shuffled local clips of 4 frames; same losses as the
# paper config.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/ctrlaug/ctrlaug_r3d-18_toy.py 2
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/toy_av.py'
]

num_local, crop_size = 2, 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleGlobalLocal', global_len=8, global_mode='random',
         num_local=num_local, local_len=4, local_interval=(1, 2),
         local_in_global=True, shuffle_local=True, num_bins=4),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.3, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(audio_source='none', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

model = dict(
    type='CtrlAug',
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        video_aug=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                        saturation=0.4, hue=0.1, p=0.8)],
        audio_cfg=None),
    backbone=dict(type='ResNet3d', depth=18, base_channels=8,
                  conv1_kernel=(3, 7, 7), spatial_strides=(1, 2, 2, 1),
                  out_indices=(0, 3)),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
              out_channels=32, init_cfg=None),
    region_neck=dict(type='ConvMLPNeck', in_channels=64, hid_channels=64,
                     out_channels=32, ndim=3, init_cfg=None),
    order_head=dict(type='PretextClsHead', in_channels=(num_local + 1) * 64,
                    num_classes=2, hid_channels=64),
    mi_discriminator=dict(type='PretextClsHead', in_channels=16,
                          num_classes=2, hid_channels=32),
    num_local=num_local,
    loss_mi=dict(type='CrossEntropyLoss', loss_weight=0.1),
    queue_len=32, feat_dim=32, momentum=0.99)

optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, eta_min=1e-4, by_epoch=True,
         begin=0, end=10, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=5)
