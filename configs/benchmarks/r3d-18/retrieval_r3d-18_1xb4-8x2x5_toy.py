_base_ = [
    '../_base_/retrieval.py',
    '../../_base_/datasets/toy_av.py',
    '../../_base_/models/backbone_r3d18.py',
]
# Retrieval / kNN with the toy VCLR backbone: val videos query train videos.
#   CFG=configs/benchmarks/r3d-18/retrieval_r3d-18_1xb4-8x2x5_toy.py
#   python tools/extract_features.py $CFG work_dirs/vclr_toy_backbone.pth \
#       --split gallery --out work_dirs/toy_feats/train.npz
#   python tools/extract_features.py $CFG work_dirs/vclr_toy_backbone.pth \
#       --split test --out work_dirs/toy_feats/val.npz
#   python tools/analysis/eval_features.py work_dirs/toy_feats/train.npz \
#       work_dirs/toy_feats/val.npz --knn-k 5 20
model = dict(
    # the toy pretraining backbone: R3D-18 with 8 base channels (the
    # snippet read directly, `_base_.x`, as {{}} cannot add a key to it)
    backbone=dict(_base_.r3d18_backbone, base_channels=8),
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
