_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_r3d18.py',
    '../../_base_/datasets/bench_ucf101_retrieval.py',
    '../../_base_/default_runtime.py',
]
# Retrieval / kNN on frozen features (no head): split-1 test videos
# query the split-1 train videos (R@1/5/10/20/50, cosine, video_mean).
#   CFG=configs/baselines/benchmarks/moco_r3d-18_retrieval_ucf101-split1.py
#   python tools/extract_features.py $CFG PRETRAINED.pth \
#       --split gallery --out ucf101_train.npz
#   python tools/extract_features.py $CFG PRETRAINED.pth \
#       --split test --out ucf101_test.npz
#   python tools/analysis/eval_features.py ucf101_train.npz ucf101_test.npz
model = dict(
    backbone={{_base_.r3d18_backbone}},
    cls_head=None,
    frozen=True,
    pretrained_prefix='backbone.')
