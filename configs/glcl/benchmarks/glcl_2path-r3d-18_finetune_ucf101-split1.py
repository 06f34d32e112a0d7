_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/models/backbone_glcl.py',
    '../../_base_/datasets/bench_ucf101.py',
    '../../_base_/schedules/bench_finetune_150e.py',
]
# Full fine-tuning of the pretrained backbone and a new head.
# UCF101 split 1, 10 clips x 3 crops at test (video top-1/top-5).
#   CFG=configs/glcl/benchmarks/glcl_2path-r3d-18_finetune_ucf101-split1.py
#   python tools/train.py $CFG --cfg-options model.pretrained=PRETRAINED.pth
#   python tools/test.py $CFG work_dirs/<this config>/best_acc_top1_*.pth
model = dict(
    backbone={{_base_.glcl_video_backbone}},
    cls_head=dict(
        num_classes=101, in_channels=576,
        dropout_ratio=0.5),
    frozen=False,
    # slow (512) and fast (64) pathways, pooled and concatenated
    backbone_outputs='concat',
    pretrained_prefix='backbone.')
