# UCF101 split 1, downstream classification (linear probe / fine-tune);
# splits 2 and 3: bench_ucf101_split{2,3}.py.
# Layout (MMAction2's): data/ucf101/videos/<Class>/<name>.avi and the lists
# data/ucf101/ucf101_{train,val}_split_{1,2,3}_videos.txt ("Class/x.avi 12").
# Train: one random 16x2 clip, RandomResizedCrop 112, flip.
# Test: 10 clips uniformly spaced x 3 crops (METHODS.md s5), views averaged.
dataset_type = 'AVVideoDataset'
data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_test = 'data/ucf101/ucf101_val_split_1_videos.txt'
num_classes = 101
clip_len, frame_interval, crop_size = 16, 2, 112

train_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
val_pipeline = [  # one centre clip: cheap monitoring during training
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=10, mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='ThreeCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
# the three loaders differ in batch, shuffling, pipeline and test_mode only
_loader = dict(num_workers=8, persistent_workers=True)
_dataset = dict(type=dataset_type, data_prefix=dict(video=data_root),
                audio_source='none', with_label=True,
                num_classes=num_classes)
train_dataloader = dict(
    **_loader, batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file=ann_file_train,
                 pipeline=train_pipeline))
val_dataloader = dict(
    **_loader, batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_test, pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = dict(
    **_loader, batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_test,
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccuracyMetric', topk=(1, 5), levels=('video', ))
test_evaluator = dict(type='AccuracyMetric', topk=(1, 5),
                      levels=('video', 'clip'))
