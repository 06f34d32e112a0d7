# Per-snippet features of the toy val videos with the toy VCLR backbone
# (configs/vclr/vclr_r3d-18_toy.py): snippets of 8 frames every 4 frames,
# centre crop 56, one file per video in a localizer's layout.
#   python tools/extract_features.py \
#       configs/benchmarks/r3d-18/tal-features_r3d-18_1xb1-8x1-s4_toy.py \
#       work_dirs/vclr_r3d-18_toy/epoch_N.pth --out work_dirs/toy_tal \
#       --snippets thumos14       # or activitynet (rescaled to 100)
_base_ = [
    '../_base_/tal_features.py',
    '../../_base_/models/backbone_r3d18.py',
]
model = dict(
    backbone=dict(_base_.r3d18_backbone, base_channels=8),
    data_preprocessor=dict(type='AVDataPreprocessor', audio_cfg=None))
snippet_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleSnippets', clip_len=8, frame_interval=1, stride=4),
    dict(type='DecodeVideoViews'),
    dict(type='CenterCropViews', size=56),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(
    batch_size=1, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVVideoDataset', data_root='data/toy_av',
                 ann_file='val.txt', data_prefix=dict(video=''),
                 audio_source='none', with_label=True, num_classes=4,
                 pipeline=snippet_pipeline, test_mode=True))
