# LRW (Lip Reading in the Wild, Chung & Zisserman, ACCV 2016): 500 words,
# one word per clip of 29 frames (1.16 s at 25 fps, 256x256, the face
# centred by the dataset), official train / val / test splits (about
# 488.8k / 25k / 25k clips); top-1 accuracy on test. UCF101's loaders
# (bench_ucf101.py) with LRW's lists and clips.
# Layout (as the archive unpacks) and lists (tools/data/build_file_list.py
# lrw: words numbered in sorted order):
#   data/lrw/lipread_mp4/<WORD>/{train,val,test}/<WORD>_<n>.mp4
#   data/lrw/lrw_{train,val,test}_list.txt   "ABOUT/train/ABOUT_00001.mp4 0"
# All 29 frames, short side 128; train: RandomResizedCrop 112 (scale
# 0.6-1), flip; test: centre crop 112. mmavcl's choices: lip-reading
# pipelines crop a mouth region (often 88x88 grey) first, which needs
# landmarks; here the whole face frame is used (unverified against GLCL).
_base_ = ['./bench_ucf101.py']
data_root = 'data/lrw/lipread_mp4'
ann_file_train = 'data/lrw/lrw_train_list.txt'
ann_file_val = 'data/lrw/lrw_val_list.txt'
ann_file_test = 'data/lrw/lrw_test_list.txt'
num_classes = 500
clip_len, frame_interval, crop_size = 29, 1, 112

_word = dict(type='SampleClips', clip_len=clip_len,
             frame_interval=frame_interval, num_clips=1, mode='uniform')
train_pipeline = [
    dict(type='VideoInit'), _word, dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.6, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
test_pipeline = [
    dict(type='VideoInit'), _word, dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
_split = dict(data_prefix=dict(video=data_root), num_classes=num_classes)
train_dataloader = dict(dataset=dict(ann_file=ann_file_train,
                                     pipeline=train_pipeline, **_split))
val_dataloader = dict(dataset=dict(ann_file=ann_file_val,
                                   pipeline=test_pipeline, **_split))
test_dataloader = dict(batch_size=32,
                       dataset=dict(ann_file=ann_file_test,
                                    pipeline=test_pipeline, **_split))
test_evaluator = dict(levels=('video', ))  # one view: clip = video
