# Full fine-tuning of the pretrained backbone and a new head (dropout 0.5).
# A benchmark config adds the dataset and the backbone.
_base_ = [
    '../../_base_/models/bench_av_recognizer.py',
    '../../_base_/schedules/bench_finetune_150e.py',
]
model = dict(cls_head=dict(dropout_ratio=0.5), frozen=False)
