# AVTSS [RECON] on the toy audio-visual set, for CPU: a thin R3D-18 and 2D
# audio ResNet-18 (8 base channels), two 4-frame clips at speeds x1/x2 and
# either direction with their audio (0.5 s, 32-bin log-mel); same losses as
# the paper config.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   bash tools/dist_train.sh configs/avtss/avtss_r3d-18_toy.py 2
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/toy_av.py'
]

speeds, crop_size = (1, 2), 32
train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleTemporalPairs', clip_len=4, num_clips=2, speeds=speeds,
         reverse_prob=0.5, audio=True, audio_transform='same'),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=0.5,
         align='start'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.4, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(batch_size=4, num_workers=0,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = test_cfg = test_evaluator = None

head = dict(type='PretextClsHead', hid_channels=64)
model = dict(
    type='AVTSS',
    data_preprocessor=dict(
        type='AVDataPreprocessor', video_aug=None,
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=160, n_mels=32)),
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
              out_channels=32, init_cfg=None),
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    audio_neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
                    out_channels=32, init_cfg=None),
    speed_head=dict(head, in_channels=64, num_classes=len(speeds)),
    direction_head=dict(head, in_channels=64, num_classes=2),
    audio_speed_head=dict(head, in_channels=64, num_classes=len(speeds)),
    audio_direction_head=dict(head, in_channels=64, num_classes=2),
    order_vv_head=dict(head, in_channels=128, num_classes=3),
    order_aa_head=dict(head, in_channels=128, num_classes=3),
    order_va_head=dict(head, in_channels=128, num_classes=3),
    num_neighbours=2, num_hard_negatives=4, hard_negative_pool=16,
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
