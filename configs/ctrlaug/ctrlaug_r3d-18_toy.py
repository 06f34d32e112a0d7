# CtrlAug [RECON] on the toy audio-visual set (tools/data/make_toy_dataset.py),
# sized for a 2-core CPU: a thin R3D-18 (8 base channels, stride-1 last stage
# so 32x32 crops give 2x2 cells), a global view of 8 frames and 2 shuffled
# local clips of 4 frames, batch 6 per process; same losses as the paper
# config. Toy-only settings, chosen so that the total loss falls within a
# few dozen iterations: BN in the clip projection MLP (without it the
# embedding std sits near 0.05 and the clip contrast stays at chance), mild
# crops (scale 0.8-1) and no colour jitter, clip contrast at tau 0.2 (at 0.1
# the iteration-to-iteration noise hides the trend), AdamW at a constant lr
# 3e-3, momentum 0.9, and a 20-long queue that holds only real keys from
# iteration 3 on (before that the loss is lower, against the random rows).
# Measured: docs/toy_runs.md; tested by
# tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/ctrlaug/ctrlaug_r3d-18_toy.py 2
_base_ = [
    '../_base_/toy_runtime.py', '../_base_/datasets/toy_av.py',
    '../_base_/models/data_preprocessors.py'
]

num_local, crop_size = 2, 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleGlobalLocal', global_len=8, global_mode='random',
         num_local=num_local, local_len=4, local_interval=(1, 2),
         local_in_global=True, shuffle_local=True, num_bins=4),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.8, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=6, num_workers=0,
    dataset=dict(audio_source='none', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

model = dict(
    type='CtrlAug',
    data_preprocessor=_base_.toy_video_preprocessor,
    backbone=dict(type='ResNet3d', depth=18, base_channels=8,
                  conv1_kernel=(3, 7, 7), spatial_strides=(1, 2, 2, 1),
                  out_indices=(0, 3)),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
              out_channels=32, norm_cfg=dict(type='BN1d'),
              with_last_bn=True, init_cfg=None),
    region_neck=dict(type='ConvMLPNeck', in_channels=64, hid_channels=64,
                     out_channels=32, ndim=3, init_cfg=None),
    order_head=dict(type='PretextClsHead', in_channels=(num_local + 1) * 64,
                    num_classes=2, hid_channels=64),
    mi_discriminator=dict(type='PretextClsHead', in_channels=16,
                          num_classes=2, hid_channels=32),
    num_local=num_local,
    loss_clip=dict(type='InfoNCELoss', temperature=0.2,
                   in_batch_negatives=False),
    loss_mi=dict(type='CrossEntropyLoss', loss_weight=0.1),
    queue_len=20, feat_dim=32, momentum=0.9)
