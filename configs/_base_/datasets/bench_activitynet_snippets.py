# ActivityNet v1.3 videos for BMN-style localization features: snippets of
# 16 frames every 16 frames over the whole video, short side 128, centre
# crop 112; tools/extract_features.py --snippets activitynet rescales each
# video's sequence to 100 (BSN/BMN) and writes <name>.csv for MMAction2's
# ActivityNetDataset. Layout:
#   data/ActivityNet/videos/v_<youtube id>.mp4
#   data/ActivityNet/anet_videos.txt   (one file name per line)
# The snippet length, stride and resolution are mmavcl's choices (VCLR's
# localization feature settings are unverified).
dataset_type = 'AVVideoDataset'
snippet_pipeline = [
    dict(type='VideoInit', decode_short_side=128),
    dict(type='SampleSnippets', clip_len=16, frame_interval=1, stride=16),
    dict(type='DecodeVideoViews'),
    dict(type='CenterCropViews', size=112),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type,
                 ann_file='data/ActivityNet/anet_videos.txt',
                 data_prefix=dict(video='data/ActivityNet/videos'),
                 audio_source='none', with_label=False,
                 pipeline=snippet_pipeline, test_mode=True))
