# Robust video fingerprinting (AVTSS, Jenni et al. AAAI 2023): the gallery
# is the original videos, each query an edited copy of one of them (crop,
# scale, blur, brightness, colour, re-encode, speed, temporal crop, audio
# gain/noise and combinations, tools/data/make_fingerprint_queries.py);
# frozen backbone features, clip features averaged per video, cosine
# similarity; R@1 and mAP over all queries and per edit type. One test
# loader reads the fingerprint list (originals + copies):
#   python tools/test.py $CFG PRETRAINED.pth
# A leaf config adds the dataset (test_dataloader, fingerprint_list), the
# backbone and the metric's ann_file.
_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/default_runtime.py',
]
model = dict(cls_head=None, frozen=True)
train_dataloader = train_cfg = optim_wrapper = None
val_dataloader = val_cfg = val_evaluator = None
test_cfg = dict(type='TestLoop')
