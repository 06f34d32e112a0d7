_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_tsn_r50.py',
    '../../_base_/datasets/bench_hmdb51.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# Linear probe: frozen backbone (BN statistics kept), linear head.
# HMDB51 split 1, 10 clips x 3 crops at test (video top-1/top-5).
#   CFG=configs/vclr/benchmarks/vclr_tsn-r50_linear_hmdb51-split1.py
#   python tools/train.py $CFG --cfg-options model.pretrained=PRETRAINED.pth
#   python tools/test.py $CFG work_dirs/<this config>/best_acc_top1_*.pth
model = dict(
    backbone={{_base_.tsn_r50_backbone}},
    cls_head=dict(
        num_classes=51, in_channels={{_base_.tsn_r50_feat_dim}},
        dropout_ratio=0.0),
    frozen=True,
    pretrained_prefix='backbone.')
