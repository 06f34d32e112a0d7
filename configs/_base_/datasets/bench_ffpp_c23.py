# FaceForensics++ (Roessler et al., ICCV 2019), c23 (HQ) compression: 1000
# YouTube originals and their Deepfakes, Face2Face, FaceSwap and
# NeuralTextures manipulations; the official split JSONs (360 / 70 / 70
# pairs: 720 / 140 / 140 originals, and both fakes of every pair per
# manipulation: 2880 / 560 / 560). Real 0, fake 1; accuracy and
# video-level ROC AUC (clip scores averaged per video).
# Layout (the FaceForensics++ download script's) and lists
# (tools/data/build_file_list.py ffpp --src data/ffpp/splits):
#   data/ffpp/original_sequences/youtube/c23/videos/071.mp4
#   data/ffpp/manipulated_sequences/<Method>/c23/videos/071_054.mp4
#   data/ffpp/splits/{train,val,test}.json
#   data/ffpp/ffpp_{train,val,test}_c23.txt
# mmavcl's choices (unverified against GLCL): whole frames, short side
# 128, crop 112 (detection papers crop the face first, with a detector and
# an enlarged box; run such a crop offline and point data_root at the
# cropped videos); one random 16x2 clip to train, 10 clips to test; the
# 1:4 real:fake imbalance of the training list is kept.
dataset_type = 'AVVideoDataset'
data_root = 'data/ffpp'
ann_file_train = 'data/ffpp/ffpp_train_c23.txt'
ann_file_val = 'data/ffpp/ffpp_val_c23.txt'
ann_file_test = 'data/ffpp/ffpp_test_c23.txt'
num_classes = 2
clip_len, frame_interval, crop_size = 16, 2, 112

train_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=1, mode='random'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.6, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
test_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=clip_len,
         frame_interval=frame_interval, num_clips=10, mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 128)),
    dict(type='CenterCropViews', size=crop_size),
    dict(type='PackAVInputs'),
]
_loader = dict(num_workers=8, persistent_workers=True)
_dataset = dict(type=dataset_type, data_prefix=dict(video=data_root),
                audio_source='none', with_label=True,
                num_classes=num_classes)
train_dataloader = dict(
    **_loader, batch_size=32,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, ann_file=ann_file_train,
                 pipeline=train_pipeline))
val_dataloader = dict(
    **_loader, batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_val, pipeline=test_pipeline,
                 test_mode=True))
test_dataloader = dict(
    **_loader, batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, ann_file=ann_file_test,
                 pipeline=test_pipeline, test_mode=True))
val_evaluator = [
    dict(type='AccuracyMetric', topk=(1, ), levels=('video', )),
    dict(type='BinaryAUCMetric', positive_index=1, levels=('video', )),
]
test_evaluator = [
    dict(type='AccuracyMetric', topk=(1, ), levels=('video', 'clip')),
    dict(type='BinaryAUCMetric', positive_index=1,
         levels=('video', 'clip')),
]
