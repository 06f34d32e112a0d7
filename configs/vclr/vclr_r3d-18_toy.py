# VCLR on the toy audio-visual set (tools/data/make_toy_dataset.py), sized for
# a 2-core CPU: a thin R3D-18 (8 base channels), 4x1 "frames" at 32x32,
# batch 6 per process. Same algorithm, four losses and view layout (a, p2,
# p3 taken from the query tuple) as the paper configs; native frame indices
# (the 16 fps, 3 s toy videos are shorter than VCLR's 10 s grid).
# Toy-only settings, chosen so that the total loss falls within a few dozen
# iterations: BN in the projection MLPs (without it the embedding std sits
# near 0.05 and the contrasts stay at chance), mild crops (scale 0.8-1) and
# no colour jitter/grayscale (with the paper's augmentation the loss did not
# fall in 60 iterations), tau 0.2 for the two queue contrasts (at 0.1 the
# iteration-to-iteration noise hides the trend), AdamW at a constant lr 1e-2,
# momentum 0.9 (0.99 leaves the key encoder near its random init for that
# long), and 20-long queues that hold only real keys from iteration 3 on
# (before that the loss is lower, against the random initial rows).
# Measured: docs/toy_runs.md; tested by
# tests/models/algorithms/test_alg_dist_toy.py.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   python tools/train.py configs/vclr/vclr_r3d-18_toy.py
#   bash tools/dist_train.sh configs/vclr/vclr_r3d-18_toy.py 2
_base_ = [
    '../_base_/toy_runtime.py', '../_base_/datasets/toy_av.py',
    '../_base_/models/backbone_r3d18.py',
    '../_base_/models/data_preprocessors.py'
]

num_segments, clip_len, crop_size = 3, 4, 32
feat_channels, embed_dim = 64, 32

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleSegments', num_segments=num_segments,
         clip_len=clip_len, frame_interval=1, shuffle_prob=0.5,
         anchor_views=True, reuse_query=True),
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

mlp_head = dict(type='MLPNeck', in_channels=feat_channels,
                hid_channels=feat_channels, out_channels=embed_dim,
                num_layers=2, norm_cfg=dict(type='BN1d'), with_last_bn=True,
                init_cfg=None)
model = dict(
    type='VCLR',
    data_preprocessor=_base_.toy_video_preprocessor,
    backbone=dict(_base_.r3d18_backbone, base_channels=8),
    inter_neck=mlp_head, intra_neck=mlp_head, segment_neck=mlp_head,
    order_neck=mlp_head,
    order_head=dict(type='PretextClsHead',
                    in_channels=2 * num_segments * embed_dim, num_classes=4,
                    init_cfg=None),
    num_segments=num_segments, feat_dim=embed_dim,
    loss_inter=dict(type='InfoNCELoss', temperature=0.2,
                    in_batch_negatives=False, normalize=False),
    loss_segment=dict(type='InfoNCELoss', temperature=0.2,
                      in_batch_negatives=False, normalize=False),
    intra_temperature=0.1, queue_len=20, queue_init='uniform',
    momentum=0.9, shuffle_bn=True, order_normalize='segments',
    reuse_query_views=True)

optim_wrapper = dict(optimizer=dict(lr=1e-2))
