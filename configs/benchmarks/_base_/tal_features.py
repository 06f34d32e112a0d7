# Per-snippet features for temporal action localization (VCLR's action
# localization: features of the frozen backbone fed to a localizer such as
# BMN). No head, no training: the loader's SampleSnippets views (every
# snippet at a fixed stride, one video per batch) go through the backbone
# and tools/extract_features.py writes one file per video:
#   python tools/extract_features.py $CFG PRETRAINED.pth --out DIR \
#       --snippets activitynet     # 100 rescaled snippets, <name>.csv (BMN)
#   python tools/extract_features.py $CFG PRETRAINED.pth --out DIR \
#       --snippets thumos14        # every snippet, <name>.npy (N, C)
# A leaf config adds the dataset and the backbone.
_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/default_runtime.py',
]
model = dict(cls_head=None, frozen=True)
train_dataloader = train_cfg = optim_wrapper = None
val_cfg = val_evaluator = None
test_cfg = test_evaluator = None
