_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/datasets/toy_av.py',
    '../../_base_/default_runtime.py',
]
# Retrieval / kNN with the toy VCLR backbone: val videos query train videos.
#   CFG=configs/vclr/benchmarks/vclr_r3d-18_retrieval_toy.py
#   python tools/extract_features.py $CFG work_dirs/vclr_toy_backbone.pth \
#       --split gallery --out work_dirs/toy_feats/train.npz
#   python tools/extract_features.py $CFG work_dirs/vclr_toy_backbone.pth \
#       --split test --out work_dirs/toy_feats/val.npz
#   python tools/analysis/eval_features.py work_dirs/toy_feats/train.npz \
#       work_dirs/toy_feats/val.npz --knn-k 5 20
model = dict(
    backbone=dict(type='ResNet3d', depth=18, base_channels=8,
                  conv1_kernel=(3, 7, 7), with_pool1=False, with_pool2=False,
                  temporal_strides=(1, 2, 2, 2)),
    cls_head=None,
    frozen=True,
    data_preprocessor=dict(type='AVDataPreprocessor', audio_cfg=None))
gallery_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVVideoDataset', data_root='data/toy_av',
                 data_prefix=dict(video=''), ann_file='train.txt',
                 audio_source='none', with_label=True, num_classes=4,
                 pipeline={{_base_.test_pipeline}}, test_mode=True))
# the pretraining and validation loaders of the toy set are not used here
train_dataloader = None
train_cfg = None
optim_wrapper = None
val_dataloader = None
val_cfg = None
val_evaluator = None
test_evaluator = [
    dict(type='RetrievalMetric', topk=(1, 5, 10), mode='video_mean'),
    dict(type='KNNAccuracy', k=5, temperature=0.07, mode='video_mean'),
]
test_cfg = dict(type='TestLoop')
