# The toy audio-visual dataset written by tools/data/make_toy_dataset.py:
# 4 motion classes (horizontal / vertical / clockwise / counter-clockwise
# disk), 64x64 H.264 at 16 fps, 3 s, AAC 16 kHz whose pitch follows the
# disk's height and loudness its x position.
#   python tools/data/make_toy_dataset.py --out data/toy_av
# Layout: data/toy_av/videos/<class>/<class>_<i>.mp4, train.txt, val.txt.
#
# Pipelines:
#   pretrain_pipeline    2 random clips of 8 frames x 2 (1 s) + their audio
#   probe_train_pipeline 1 random clip (linear probe / fine-tune)
#   val_pipeline         1 centre clip
#   test_pipeline        5 clips uniformly spaced, centre crop (averaged)
dataset_type = 'AVVideoDataset'
data_root = 'data/toy_av'
ann_file_train = 'train.txt'
ann_file_val = 'val.txt'
num_classes = 4
clip_len, frame_interval, crop_size = 8, 2, 56
sample_rate = 16000

pretrain_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=2, mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.4, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
probe_train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.6, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
val_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
test_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=5, mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]

_dataset = dict(type=dataset_type, data_root=data_root,
                data_prefix=dict(video=''), num_classes=num_classes)
train_dataloader = dict(  # self-supervised pretraining (labels unused)
    batch_size=8, num_workers=2, persistent_workers=False, drop_last=True,
    collate_fn=dict(type='mmavcl.av_collate'),  # views stacked in the workers
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file=ann_file_train,
                 audio_source='container', pipeline=pretrain_pipeline))
probe_train_dataloader = dict(  # linear probe: video only, labelled
    batch_size=8, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file=ann_file_train, audio_source='none',
                 with_label=True, pipeline=probe_train_pipeline))
val_dataloader = dict(
    batch_size=8, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_val, audio_source='none',
                 with_label=True, pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_val, audio_source='none',
                 with_label=True, pipeline=test_pipeline, test_mode=True))
