# MoCo video baseline on the toy audio-visual set
# (tools/data/make_toy_dataset.py), sized for a 2-core CPU: thin R3D-18 (8
# base channels), two 8x2 clips at 32x32, batch 6 per process. Toy-only
# settings, chosen so that the loss falls within a few dozen iterations: BN
# in the projection MLP (without it the embedding std sits near 0.05 and
# InfoNCE stays at chance), mild crops (scale 0.8-1) and no colour jitter
# (with them the loss did not fall in 60 iterations), AdamW at a constant lr
# 1e-2, momentum 0.9, and a 20-long queue that holds only real keys from
# iteration 3 on (before that the loss is lower, against the random rows).
# Measured: docs/toy_runs.md; tested by
# tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/baselines/moco_r3d-18_toy.py 2
_base_ = [
    '../_base_/toy_runtime.py', '../_base_/datasets/toy_av.py',
    '../_base_/models/data_preprocessors.py'
]

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=2,
         mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=32, scale=(0.8, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=6, num_workers=0,
    dataset=dict(audio_source='none', pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

proj = dict(type='MLPNeck', in_channels=64, hid_channels=64,
            out_channels=32, norm_cfg=dict(type='BN1d'), with_last_bn=True,
            init_cfg=None)
model = dict(
    type='MoCoVideo',
    data_preprocessor=_base_.toy_video_preprocessor,
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=proj,
    loss=dict(type='InfoNCELoss', temperature=0.2, in_batch_negatives=False),
    queue_len=20, feat_dim=32, momentum=0.9)

optim_wrapper = dict(optimizer=dict(lr=1e-2))
