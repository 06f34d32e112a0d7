# Kinetics-400 for AVTSS-style temporal self-supervision (METHODS.md s4,
# RECON): two 16-frame clips per video, each at a random speed (frame skip
# 1/2/4/8) and direction, placed so that before / after / overlapping are
# equally likely; the audio of each clip is time-compressed by the same
# speed and reversed with it. Labels: speed_v{i}, direction_v{i},
# speed_a{i}, direction_a{i}, order_vv, order_aa, order_va, order_av.
dataset_type = 'AVVideoDataset'
data_root = 'data/kinetics400'
ann_file_train = 'kinetics400_train_list_videos.txt'
clip_len, crop_size, sample_rate = 16, 112, 16000
# 16 frames at 25 fps; fixed so that 25/30 fps videos give equal lengths.
audio_duration = 0.64

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav', num_threads=1,
         decode_short_side=128),
    dict(type='SampleTemporalPairs', clip_len=clip_len, num_clips=2,
         speeds=(1, 2, 4, 8), reverse_prob=0.5,
         relation_probs=(1 / 3, 1 / 3, 1 / 3), audio=True,
         audio_transform='same'),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         fixed_duration=audio_duration, align='start',
         on_missing_audio='silence'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True, drop_last=True,
    pin_memory=True, collate_fn=dict(type='mmavcl.av_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file=ann_file_train,
                 data_prefix=dict(video='videos_train'),
                 audio_source='container', with_label=False,
                 pipeline=train_pipeline))
