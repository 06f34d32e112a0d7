# AVTSS [RECON] on the toy audio-visual set (tools/data/make_toy_dataset.py),
# sized for a 2-core CPU: a thin R3D-18 and 2D audio ResNet-18 (8 base
# channels), two 8-frame clips at speeds x1/x2 and either direction with
# their audio (0.5 s, 32-bin log-mel), batch 6 per process; same losses as
# the paper config. Toy-only settings, chosen so that the total loss falls
# within a few dozen iterations: BN in the projection MLPs (without it the
# embedding std sits near 0.03 and the contrasts stay at chance), mild crops
# (scale 0.8-1), contrast at tau 0.2 (at 0.1 the iteration-to-iteration
# noise hides the trend), AdamW at a constant lr 3e-3, momentum 0.9, and
# 20-long queues that hold only real keys from iteration 3 on (before that
# the loss is lower, against the random rows). No synthesised hard
# negatives (num_hard_negatives=0): on a few dozen videos the queue rows
# nearest to a query are mostly keys of the same video from the previous
# epoch, so mixing them makes false negatives (with 4 per query the total
# did not reliably fall). No flip: the soundtrack encodes the camera's x
# position. The seven speed/direction/order terms sit near chance (about
# 6.4 of the total) for the first few dozen iterations. 8-frame clips: a
# 4-frame clip (0.25-0.5 s) sees only part of the camera's pan, so the two
# views of a video differ in mean colour about as much as two videos do; in
# 100 iterations (one process, seed 0) loss_vv went 2.23 -> 2.05 with 4
# frames and 1.63 -> 1.22 with 8 (quarter means). Measured: docs/toy_runs.md.
# Tested by tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/avtss/avtss_r3d-18_toy.py 2
_base_ = [
    '../_base_/toy_runtime.py', '../_base_/datasets/toy_av.py',
    '../_base_/models/data_preprocessors.py'
]

speeds, crop_size = (1, 2), 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleTemporalPairs', clip_len=8, num_clips=2, speeds=speeds,
         reverse_prob=0.5, audio=True, audio_transform='same'),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=0.5,
         align='start'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.8, 1.0)),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(batch_size=6, num_workers=0,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

head = dict(type='PretextClsHead', hid_channels=64)
nce = dict(type='InfoNCELoss', temperature=0.2, in_batch_negatives=False)
proj = dict(type='MLPNeck', in_channels=64, hid_channels=64,
            out_channels=32, norm_cfg=dict(type='BN1d'), with_last_bn=True,
            init_cfg=None)
model = dict(
    type='AVTSS',
    data_preprocessor=_base_.toy_av_preprocessor,
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=proj,
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    audio_neck=proj,
    speed_head=dict(head, in_channels=64, num_classes=len(speeds)),
    direction_head=dict(head, in_channels=64, num_classes=2),
    audio_speed_head=dict(head, in_channels=64, num_classes=len(speeds)),
    audio_direction_head=dict(head, in_channels=64, num_classes=2),
    order_vv_head=dict(head, in_channels=128, num_classes=3),
    order_aa_head=dict(head, in_channels=128, num_classes=3),
    order_va_head=dict(head, in_channels=128, num_classes=3),
    loss_vv=nce, loss_va=nce,
    num_neighbours=2, num_hard_negatives=0, hard_negative_pool=16,
    queue_len=20, feat_dim=32, momentum=0.9)
