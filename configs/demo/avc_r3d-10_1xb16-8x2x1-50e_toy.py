# The demo's pretraining (make demo / tools/demo.py): audio-visual
# correspondence on the toy set, sized for a 2-core CPU.
#   python tools/train.py configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py
# Video: R3D-10 (ResNet3d with one block per stage, 16 base channels) on one
# 8x2 clip at 32x32. Audio: the clip's 1 s as a 32-bin log-mel through a 2D
# ResNet-10. No flip: the soundtrack encodes the camera's x position, so a
# flipped clip would no longer match its audio.
_base_ = [
    '../_base_/default_runtime.py', '../_base_/datasets/toy_av.py',
    '../_base_/models/data_preprocessors.py'
]

crop_size = 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=1,
         mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.5, 1.0),
         ratio=(0.9, 1.1)),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    dataset=dict(audio_source='container', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

# BN in the projections keeps the embeddings spread from the first step
# (without it the collapse indicator starts near 0.02 and learning stalls).
proj = dict(type='MLPNeck', hid_channels=128, out_channels=64,
            norm_cfg=dict(type='BN1d'), with_last_bn=True, init_cfg=None)
model = dict(
    type='AVCorrespondence',
    data_preprocessor=_base_.toy_av_preprocessor,
    backbone=dict(type='ResNet3d', depth=18, base_channels=16,
                  stage_blocks=(1, 1, 1, 1)),
    neck=dict(in_channels=128, **proj),
    audio_backbone=dict(type='AudioResNet2d', depth=10, base_channels=16),
    audio_neck=dict(in_channels=128, **proj),
    loss=dict(type='InfoNCELoss', temperature=0.1, symmetric=True,
              in_batch_negatives=True))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=50, eta_min=3e-4, by_epoch=True,
         begin=0, end=50, convert_to_iter_based=True)
]
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=50)
default_hooks = dict(logger=dict(interval=9),
                     checkpoint=dict(interval=10, max_keep_ckpts=1))
log_processor = dict(window_size=9)
