# AVE (Tian et al., ECCV 2018): 4143 videos of 10 s, 28 event categories;
# each one-second segment is an event of the video's category or
# background (label 28). Official splits trainSet/valSet/testSet.txt
# (3339 / 402 / 402 videos), all in the Annotations.txt format
# "Category&VideoID&Quality&StartTime&EndTime" (AVEDataset).
# Layout (as the AVE_Dataset archive unpacks):
#   data/ave/AVE/<VideoID>.mp4
#   data/ave/{Annotations,trainSet,valSet,testSet}.txt
# Every segment: one clip centred in its second (SampleEventSegments) and
# that second's audio (1 s centred on the clip), short side 128, centre
# crop 112 (no augmentation: the encoders are frozen).
# The category order below (background last, 28) is the one public AVE
# codebases list (several agree, names spelled as in Annotations.txt);
# not checked against the file itself here: AVEDataset names any category
# of the file missing from this list, with its line.
dataset_type = 'AVEDataset'
data_root = 'data/ave'
ave_classes = [
    'Church bell', 'Male speech, man speaking', 'Bark',
    'Fixed-wing aircraft, airplane', 'Race car, auto racing',
    'Female speech, woman speaking', 'Helicopter', 'Violin, fiddle', 'Flute',
    'Ukulele', 'Frying (food)', 'Truck', 'Shofar', 'Motorcycle',
    'Acoustic guitar', 'Train horn', 'Clock', 'Banjo', 'Goat',
    'Baby cry, infant cry', 'Bus', 'Chainsaw', 'Cat', 'Horse',
    'Toilet flush', 'Rodents, rats, mice', 'Accordion', 'Mandolin'
]
num_classes = len(ave_classes) + 1  # + background
num_segments, clip_len, frame_interval, crop_size = 10, 16, 1, 112
sample_rate = 16000

segment_pipeline = [
    dict(type='VideoInit', backend='pyav', decode_short_side=128),
    dict(type='SampleEventSegments', clip_len=clip_len,
         frame_interval=frame_interval, num_segments=num_segments,
         segment_duration=1.0, audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         fixed_duration=1.0, align='center', on_missing_audio='silence'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs', meta_keys=('segment_labels', )),
]
_loader = dict(num_workers=8, persistent_workers=True,
               collate_fn=dict(type='mmavcl.av_collate'))
_dataset = dict(type=dataset_type, data_root=data_root,
                data_prefix=dict(video='AVE'), classes=ave_classes,
                num_segments=num_segments, audio_source='container',
                pipeline=segment_pipeline)
train_dataloader = dict(
    **_loader, batch_size=16,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file='trainSet.txt'))
val_dataloader = dict(
    **_loader, batch_size=16,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file='valSet.txt', test_mode=True))
test_dataloader = dict(
    **_loader, batch_size=16,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file='testSet.txt', test_mode=True))
val_evaluator = dict(type='SegmentAccuracyMetric',
                     background=len(ave_classes))
test_evaluator = val_evaluator
