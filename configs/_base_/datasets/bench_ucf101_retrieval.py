# Video retrieval, Xu et al. (CVPR 2019) protocol (METHODS.md s5): per video
# 10 clips of 16 frames, starts at linspace(0, L - 16, 10) (centres at
# linspace(8, L - 8, 10)), Resize(128, 171) -> CenterCrop 112. Split-1 test
# videos query the split-1 train videos; cosine similarity, R@1/5/10/20/50.
# Features: tools/extract_features.py with --split gallery (train split) and
# --split test (queries), then tools/analysis/eval_features.py.
dataset_type = 'AVVideoDataset'
data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_test = 'data/ucf101/ucf101_val_split_1_videos.txt'
num_classes = 101
retrieval_pipeline = [
    dict(type='VideoInit'),
    dict(type='SampleClips', clip_len=16, frame_interval=1, num_clips=10,
         mode='linspace'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(171, 128)),
    dict(type='CenterCropViews', size=112),
    dict(type='PackAVInputs'),
]
_loader = dict(
    batch_size=4, num_workers=8, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False))
gallery_dataloader = dict(  # the train split: the gallery
    **_loader,
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root), audio_source='none',
                 with_label=True, num_classes=num_classes,
                 pipeline=retrieval_pipeline, test_mode=True))
test_dataloader = dict(
    **_loader,
    dataset=dict(type=dataset_type, ann_file=ann_file_test,
                 data_prefix=dict(video=data_root), audio_source='none',
                 with_label=True, num_classes=num_classes,
                 pipeline=retrieval_pipeline, test_mode=True))
# tools/test.py route: pass the gallery features with
#   --cfg-options test_evaluator.0.gallery_file=train_feats.npz \
#                 test_evaluator.1.gallery_file=train_feats.npz
test_evaluator = [
    dict(type='RetrievalMetric', topk=(1, 5, 10, 20, 50), mode='video_mean'),
    dict(type='KNNAccuracy', k=200, temperature=0.07, mode='video_mean'),
]
test_cfg = dict(type='TestLoop')
