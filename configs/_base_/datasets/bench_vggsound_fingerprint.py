# VGG-Sound video fingerprinting (AVTSS): the test videos are the gallery,
# their edited copies the queries. Make the copies and the list once:
#   python tools/data/make_fingerprint_queries.py vggsound_test.txt \
#       --data-root data/vggsound --video-prefix videos \
#       --out-list data/vggsound/fingerprint_test.json --workers 16
# (copies under data/vggsound/videos/fingerprint/<edit>/). Clips: 10 of 16
# frames at linspace, short side 128, centre crop 112, as the retrieval
# protocol (mmavcl's choice; AVTSS's exact fingerprinting clip protocol,
# edit strengths and gallery size are unverified).
dataset_type = 'AVVideoDataset'
fingerprint_list = 'data/vggsound/fingerprint_test.json'
fingerprint_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=16, frame_interval=1, num_clips=10,
         mode='linspace'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='CenterCropViews', size=112),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(
    batch_size=4, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=fingerprint_list,
                 data_prefix=dict(video='data/vggsound/videos'),
                 audio_source='none', with_label=False,
                 pipeline=fingerprint_pipeline, test_mode=True))
test_evaluator = dict(type='FingerprintMetric', ann_file=fingerprint_list,
                      topk=(1, 5, 10), mode='video_mean')
