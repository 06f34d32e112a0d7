# Linear probe: frozen backbone (BN statistics kept), linear head on its
# pooled features; SGD on the head only. A benchmark config adds the
# dataset (which sets the head's class count) and the backbone.
_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/schedules/bench_linear_100e.py',
]
model = dict(cls_head=dict(dropout_ratio=0.0), frozen=True)
