# k400_avtss_pairs.py reading WebDataset shards (k400_shards.py):
# the same pipeline and loader, the dataset swapped for AVShardDataset.
_base_ = ['k400_avtss_pairs.py', 'k400_shards.py']

train_dataloader = dict(
    _base_.k400_shard_loader,
    dataset=dict(_base_.k400_shard_loader.dataset,
                 pipeline=_base_.train_dataloader.dataset.pipeline,
                 audio_source=_base_.train_dataloader.dataset.audio_source))
