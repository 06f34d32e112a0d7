# ESC-50 (2,000 x 5 s clips, 50 classes, 5 official folds): linear
# evaluation on frozen audio features, leave-one-fold-out; the reported
# number is the mean test accuracy over the 5 folds (METHODS.md s5).
# Layout: data/esc50/audio/<fold>-<id>-<take>-<target>.wav (the ESC-50
# repository's audio/ folder) and the lists
# data/esc50/esc50_{train,test}_fold{1..5}.txt ("1-100032-A-0.wav 0"); the
# train list of fold k holds the four other folds.
# Train: one random 2 s crop; test: 10 crops at linspace over the clip,
# scores averaged (crop length and count are mmavcl's choice, not a paper's).
dataset_type = 'AVAudioDataset'
data_root = 'data/esc50/audio'
fold = 1
ann_file_train = f'data/esc50/esc50_train_fold{fold}.txt'
ann_file_test = f'data/esc50/esc50_test_fold{fold}.txt'
num_classes = 50
clip_duration, sample_rate = 2.0, 16000
train_pipeline = [
    dict(type='AudioInit'),
    dict(type='SampleAudioClips', clip_duration=clip_duration, num_clips=1,
         mode='random'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         fixed_duration=clip_duration),
    dict(type='PackAVInputs'),
]
test_pipeline = [
    dict(type='AudioInit'),
    dict(type='SampleAudioClips', clip_duration=clip_duration, num_clips=10,
         mode='linspace'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         fixed_duration=clip_duration),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=64, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(audio=data_root), with_label=True,
                 num_classes=num_classes, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test,
                 data_prefix=dict(audio=data_root), with_label=True,
                 num_classes=num_classes, pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccuracyMetric', topk=(1, 5), levels=('video', ))
test_evaluator = dict(type='AccuracyMetric', topk=(1, 5),
                      levels=('video', 'clip'))
