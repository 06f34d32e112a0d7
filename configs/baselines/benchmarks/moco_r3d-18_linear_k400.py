_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_r3d18.py',
    '../../_base_/datasets/bench_k400_linear.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# Kinetics-400 linear probe: frozen backbone, linear head, val top-1.
#   CFG=configs/baselines/benchmarks/moco_r3d-18_linear_k400.py
#   python tools/train.py $CFG --cfg-options model.pretrained=PRETRAINED.pth
model = dict(
    backbone={{_base_.r3d18_backbone}},
    cls_head=dict(
        num_classes=400, in_channels={{_base_.r3d18_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='backbone.')
