# The demo's AVC pretraining read from WebDataset shards of the toy set
# (AVShardDataset), as a shard run of a large dataset would be:
#   python tools/data/make_shards.py data/toy_av/train.txt data/toy_av \
#       data/toy_av_shards --samples-per-shard 8
#   python tools/train.py configs/demo/avc_r3d-10_1xb4-8x2x1-1e_toy_shards.py
# Shards may be URIs (s3://bucket/toy-shards/shard-000-{000000..000002}.tar,
# credentials from AWS_* variables or train_dataloader.dataset.backend_args).
_base_ = ['./avc_r3d-10_1xb16-8x2x1-50e_toy.py']

shards = 'data/toy_av_shards/shard-000-{000000..000002}.tar'
train_dataloader = dict(
    _delete_=True,
    batch_size=4, num_workers=0, sampler=None,
    collate_fn=dict(type='mmavcl.av_collate'),
    dataset=dict(type='AVShardDataset', shards=shards,
                 pipeline=_base_.train_pipeline, shuffle_buffer=8,
                 bad_sample_policy='skip'))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=1, eta_min=3e-4, by_epoch=True,
         begin=0, end=1, convert_to_iter_based=True)
]
train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=1)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
