# AVTSS's Kinetics-400 pretraining (configs/avtss/avtss_r2plus1d-18_8xb32-
# 16x1x2-200e_k400.py) reading WebDataset shards: the loader of
# configs/_base_/datasets/k400_avtss_pairs_shards.py (a method config
# names that base in place of k400_avtss_pairs.py; this one overrides the
# finished method config instead, so that it stays the method's).
# docs/data_preparation.md, "Large-scale data":
#   bash tools/dist_train.sh \
#       configs/demo/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400_shards.py 8 \
#       --cfg-options "train_dataloader.dataset.shards=s3://..."
_base_ = [
    '../avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py',
    '../_base_/datasets/k400_shards.py'
]

train_dataloader = dict(
    _base_.k400_shard_loader,
    dataset=dict(_base_.k400_shard_loader.dataset,
                 pipeline=_base_.train_dataloader.dataset.pipeline,
                 audio_source=_base_.train_dataloader.dataset.audio_source))
