_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_tsn_r50.py',
    '../../_base_/datasets/bench_k400_linear.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# Kinetics-400 linear probe: frozen backbone, linear head, val top-1.
#   CFG=configs/vclr/benchmarks/vclr_tsn-r50_linear_k400.py
#   python tools/train.py $CFG --cfg-options model.pretrained=PRETRAINED.pth
model = dict(
    backbone={{_base_.tsn_r50_backbone}},
    cls_head=dict(
        num_classes=400, in_channels={{_base_.tsn_r50_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='backbone.')
