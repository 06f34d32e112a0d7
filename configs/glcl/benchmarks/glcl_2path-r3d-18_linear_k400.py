_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_glcl.py',
    '../../_base_/datasets/bench_k400_linear.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
# Kinetics-400 linear probe: frozen backbone, linear head, val top-1.
#   CFG=configs/glcl/benchmarks/glcl_2path-r3d-18_linear_k400.py
#   python tools/train.py $CFG --cfg-options model.pretrained=PRETRAINED.pth
model = dict(
    backbone={{_base_.glcl_video_backbone}},
    cls_head=dict(
        num_classes=400, in_channels=576,
        dropout_ratio=0.0),
    frozen=True,
    # slow (512) and fast (64) pathways, pooled and concatenated
    backbone_outputs='concat',
    pretrained_prefix='backbone.')
