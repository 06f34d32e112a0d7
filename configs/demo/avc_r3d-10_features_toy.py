# Frozen video features of the demo backbone (pretrained or random init) for
# the linear probe and retrieval in tools/demo.py:
#   python tools/extract_features.py configs/demo/avc_r3d-10_features_toy.py \
#       work_dirs/demo/pretrain/epoch_50.pth --split gallery --out train.npz
_base_ = [
    '../_base_/models/bench_av_recognizer.py',
    '../_base_/datasets/toy_av.py',
    '../_base_/default_runtime.py',
]
feature_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=4,
         mode='uniform'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(32, 32)),
    dict(type='PackAVInputs'),
]
model = dict(
    backbone=dict(type='ResNet3d', depth=18, base_channels=16,
                  stage_blocks=(1, 1, 1, 1)),
    cls_head=None,
    frozen=True,
    data_preprocessor=dict(type='AVDataPreprocessor', audio_cfg=None),
    test_cfg=dict(max_testing_views=None))
_features = dict(
    batch_size=8, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False))
_dataset = dict(type='AVVideoDataset', data_root='data/toy_av',
                data_prefix=dict(video=''), audio_source='none',
                with_label=True, num_classes=4, pipeline=feature_pipeline,
                test_mode=True)
gallery_dataloader = dict(**_features,
                          dataset=dict(**_dataset, ann_file='train.txt'))
test_dataloader = dict(**_features,
                       dataset=dict(**_dataset, ann_file='val.txt'))
train_dataloader = train_cfg = optim_wrapper = None
val_dataloader = val_cfg = val_evaluator = None
test_evaluator = [
    dict(type='RetrievalMetric', topk=(1, 5), mode='video_mean'),
    dict(type='KNNAccuracy', k=5, temperature=0.07, mode='video_mean'),
]
test_cfg = dict(type='TestLoop')
