# Event localization on the toy events set with the toy AVTSS encoders
# (configs/avtss/avtss_r3d-18_toy.py): every one-second segment is one clip
# of 8 frames x 2 (the whole second at 16 fps, short side 32 as the
# pretraining crops) and its second of audio (32-bin log-mel as
# pretrained); frozen, 64 + 64 features per segment, a BiLSTM head trained
# 20 epochs (Adam). Prints event_loc/seg_acc (and bg_baseline, the score
# of "background everywhere").
#   python tools/data/make_toy_dataset.py --out data/toy_ave --events
#   python tools/train.py configs/avtss/avtss_r3d-18_toy.py
#   CFG=configs/benchmarks/r3d-18/event-localization_r3d-18_1xb4-8x2x10-20e_toy.py
#   python tools/train.py $CFG \
#       --cfg-options model.pretrained=work_dirs/avtss_r3d-18_toy/epoch_N.pth
#   python tools/test.py $CFG \
#       work_dirs/event-localization_r3d-18_1xb4-8x2x10-20e_toy/epoch_20.pth
_base_ = [
    '../_base_/event_localization.py',
    '../../_base_/models/data_preprocessors.py',
]
data_root = 'data/toy_ave'
toy_classes = ['horizontal', 'vertical', 'circle_cw', 'circle_ccw']
segment_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleEventSegments', clip_len=8, frame_interval=2,
         num_segments=10, segment_duration=1.0, audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0,
         align='center'),
    dict(type='ResizeViews', scale=(-1, 32)),
    dict(type='CenterCropViews', size=32),
    dict(type='PackAVInputs', meta_keys=('segment_labels', )),
]
_dataset = dict(type='AVEDataset', data_root=data_root,
                data_prefix=dict(video='AVE'), classes=toy_classes,
                audio_source='container', pipeline=segment_pipeline)
train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=False,
    collate_fn=dict(type='mmavcl.av_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file='trainSet.txt'))
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=False,
    collate_fn=dict(type='mmavcl.av_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file='testSet.txt', test_mode=True))
test_evaluator = dict(type='SegmentAccuracyMetric',
                      background=len(toy_classes))
model = dict(
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    head=dict(num_classes=len(toy_classes) + 1, in_channels=64 + 64,
              hidden_channels=32),
    data_preprocessor=_base_.toy_av_preprocessor)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=20, eta_min=0, by_epoch=True,
         begin=0, end=20, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=20, val_interval=100)
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=20, max_keep_ckpts=1,
                                     save_best=None))
log_processor = dict(window_size=5)
