# THUMOS14 videos for localization features in the G-TAD / ActionFormer
# layout: snippets of 16 frames every 4 frames (feature i starts at frame
# 4 i), short side 128, centre crop 112; tools/extract_features.py
# --snippets thumos14 writes <name>.npy (N, C). The validation videos train
# the localizer, the test videos evaluate it. Layout:
#   data/thumos14/videos/{validation,test}/video_{validation,test}_*.mp4
#   data/thumos14/thumos14_{val,test}_videos.txt  (one file name per line)
# Resolution is mmavcl's choice (VCLR reports ActivityNet only).
dataset_type = 'AVVideoDataset'
snippet_pipeline = [
    dict(type='VideoInit', decode_short_side=128),
    dict(type='SampleSnippets', clip_len=16, frame_interval=1, stride=4),
    dict(type='DecodeVideoViews'),
    dict(type='CenterCropViews', size=112),
    dict(type='PackAVInputs'),
]
_loader = dict(batch_size=1, num_workers=8, persistent_workers=True,
               sampler=dict(type='DefaultSampler', shuffle=False))
val_dataloader = dict(
    **_loader,
    dataset=dict(type=dataset_type,
                 ann_file='data/thumos14/thumos14_val_videos.txt',
                 data_prefix=dict(video='data/thumos14/videos/validation'),
                 audio_source='none', with_label=False,
                 pipeline=snippet_pipeline, test_mode=True))
test_dataloader = dict(
    **_loader,
    dataset=dict(type=dataset_type,
                 ann_file='data/thumos14/thumos14_test_videos.txt',
                 data_prefix=dict(video='data/thumos14/videos/test'),
                 audio_source='none', with_label=False,
                 pipeline=snippet_pipeline, test_mode=True))
