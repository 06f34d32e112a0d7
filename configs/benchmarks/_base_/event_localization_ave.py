# AVE: 28 categories + background, 10 one-second segments.
_base_ = [
    './event_localization.py',
    '../../_base_/datasets/bench_ave.py',
    '../../_base_/models/data_preprocessors.py',
]
model = dict(
    head=dict(num_classes={{_base_.num_classes}}),
    data_preprocessor=dict(mean={{_base_.imagenet_mean}},
                           std={{_base_.imagenet_std}}))
