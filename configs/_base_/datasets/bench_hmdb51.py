# HMDB51 split 1, downstream classification (linear probe / fine-tune).
# Layout (MMAction2's): data/hmdb51/videos/<Class>/<name>.avi and the lists
# data/hmdb51/hmdb51_{train,val}_split_{1,2,3}_videos.txt ("class/x.avi 12").
# Train: one random 16x2 clip, RandomResizedCrop 112, flip.
# Test: 10 clips uniformly spaced x 3 crops (METHODS.md s5), views averaged.
dataset_type = 'AVVideoDataset'
data_root = 'data/hmdb51/videos'
ann_file_train = 'data/hmdb51/hmdb51_train_split_1_videos.txt'
ann_file_test = 'data/hmdb51/hmdb51_val_split_1_videos.txt'
num_classes = 51
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
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root), audio_source='none',
                 with_label=True, num_classes=num_classes,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test,
                 data_prefix=dict(video=data_root), audio_source='none',
                 with_label=True, num_classes=num_classes,
                 pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test,
                 data_prefix=dict(video=data_root), audio_source='none',
                 with_label=True, num_classes=num_classes,
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccuracyMetric', topk=(1, 5), levels=('video', ))
test_evaluator = dict(type='AccuracyMetric', topk=(1, 5),
                      levels=('video', 'clip'))
