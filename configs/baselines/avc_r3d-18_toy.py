# Audio-visual correspondence baseline on the toy set
# (tools/data/make_toy_dataset.py), sized for a 2-core CPU: thin R3D-18 and
# 2D audio ResNet-18 (8 base channels), one 8x2 clip at 32x32 + its 1 s of
# audio as a 32-bin log-mel, batch 6 per process, in-batch negatives over
# both processes. As in the demo (configs/demo/): BN in the projection MLPs
# (without it the embedding std starts near 0.02 and InfoNCE does not move)
# and no flip (the soundtrack encodes the camera's x position); mild crops
# (scale 0.8-1) and AdamW at a constant lr 3e-3.
# Measured: docs/toy_runs.md; tested by
# tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/baselines/avc_r3d-18_toy.py 2
_base_ = ['./moco_r3d-18_toy.py']

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=1,
         mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0),
    dict(type='RandomResizedCropViews', size=32, scale=(0.8, 1.0)),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(audio_source='container', pipeline=train_pipeline))

proj = dict(type='MLPNeck', in_channels=64, hid_channels=64,
            out_channels=32, norm_cfg=dict(type='BN1d'), with_last_bn=True,
            init_cfg=None)
model = dict(
    _delete_=True,
    type='AVCorrespondence',
    data_preprocessor=_base_.toy_av_preprocessor,
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=proj,
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    audio_neck=proj,
    loss=dict(type='InfoNCELoss', temperature=0.1, symmetric=True,
              in_batch_negatives=True))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=3e-3, weight_decay=1e-4))
