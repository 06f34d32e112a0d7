# VGG-Sound audio classification (309 classes, ~10 s clips from YouTube).
# Layout: data/vggsound/audio/<id>.wav (or .flac) and the lists
# data/vggsound/vggsound_{train,test}.txt ("<id>.wav 17").
# Train: one random 3 s crop; test: 10 crops at linspace, scores averaged
# (mmavcl's choice; AVTSS's exact VGG-Sound protocol is unverified).
_base_ = ['./bench_esc50.py']
data_root = 'data/vggsound/audio'
num_classes = 309
clip_duration = 3.0
_train_p = [
    dict(type='AudioInit'),
    dict(type='SampleAudioClips', clip_duration=clip_duration, num_clips=1,
         mode='random'),
    dict(type='DecodeAudioViews', sample_rate=16000,
         fixed_duration=clip_duration),
    dict(type='PackAVInputs'),
]
_test_p = [
    dict(type='AudioInit'),
    dict(type='SampleAudioClips', clip_duration=clip_duration, num_clips=10,
         mode='linspace'),
    dict(type='DecodeAudioViews', sample_rate=16000,
         fixed_duration=clip_duration),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(dataset=dict(
    ann_file='data/vggsound/vggsound_train.txt',
    data_prefix=dict(audio=data_root), num_classes=num_classes,
    pipeline=_train_p))
val_dataloader = dict(dataset=dict(
    ann_file='data/vggsound/vggsound_test.txt',
    data_prefix=dict(audio=data_root), num_classes=num_classes,
    pipeline=_test_p))
test_dataloader = val_dataloader
