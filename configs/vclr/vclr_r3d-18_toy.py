# VCLR on the toy audio-visual set, for CPU: a thin R3D-18 (8 base
# channels), 4x1 "frames" at 32x32, batch 4, short queues. Same algorithm
# and losses as the paper configs; only sizes differ.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   python tools/train.py configs/vclr/vclr_r3d-18_toy.py
#   bash tools/dist_train.sh configs/vclr/vclr_r3d-18_toy.py 2
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/toy_av.py'
]

num_segments, clip_len, crop_size = 3, 4, 32
feat_channels, embed_dim = 64, 32

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleSegments', num_segments=num_segments,
         clip_len=clip_len, frame_interval=1, shuffle_prob=0.5,
         anchor_views=True),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.4, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(audio_source='none', pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None

mlp_head = dict(type='MLPNeck', in_channels=feat_channels,
                hid_channels=feat_channels, out_channels=embed_dim,
                num_layers=2, norm_cfg=None, init_cfg=None)
model = dict(
    type='VCLR',
    data_preprocessor=dict(
        type='AVDataPreprocessor',
        video_aug=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                        saturation=0.4, hue=0.1, p=0.8),
                   dict(type='RandomGrayscale', p=0.2)],
        audio_cfg=None),
    backbone=dict(type='ResNet3d', depth=18, base_channels=8,
                  conv1_kernel=(3, 7, 7), with_pool1=False, with_pool2=False,
                  temporal_strides=(1, 2, 2, 2)),
    inter_neck=mlp_head, intra_neck=mlp_head, segment_neck=mlp_head,
    order_neck=mlp_head,
    order_head=dict(type='PretextClsHead',
                    in_channels=2 * num_segments * embed_dim, num_classes=4,
                    init_cfg=None),
    num_segments=num_segments, feat_dim=embed_dim,
    loss_inter=dict(type='InfoNCELoss', temperature=0.1,
                    in_batch_negatives=False, normalize=False),
    loss_segment=dict(type='InfoNCELoss', temperature=0.1,
                      in_batch_negatives=False, normalize=False),
    intra_temperature=0.1, queue_len=64, queue_init='uniform',
    momentum=0.99, shuffle_bn=True, order_normalize='segments')

optim_wrapper = dict(optimizer=dict(lr=0.02))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=10, eta_min=1e-4, by_epoch=True,
         begin=0, end=10, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
log_processor = dict(window_size=5)
