# AVTSS's Kinetics-400 pretraining (configs/avtss/avtss_r2plus1d-18_8xb32-
# 16x1x2-200e_k400.py) reading WebDataset shards (AVShardDataset) in place of
# the video folder: the loader of configs/_base_/datasets/
# k400_avtss_pairs_shards.py (a method config inherits that base in place of
# k400_avtss_pairs.py; this one overrides the finished config instead, so
# that it stays the same as the method's). docs/data_preparation.md,
# "Large-scale data":
#   bash tools/dist_train.sh \
#       configs/demo/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400_shards.py 8 \
#       --cfg-options train_dataloader.dataset.shards='s3://...'
_base_ = ['../avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py']

k400_shards = 'data/kinetics400_shards/shard-000-{000000..000239}.tar'
train_dataloader = dict(
    # the dataset splits the shards over ranks and workers, and reshuffles
    # them per epoch in workers that are started per epoch; workers start
    # from a fork server: s3:// reads (obstore's tokio runtime) do not
    # survive fork() once the main process read the shards' index over S3
    # (measured: forked workers hang on their first read)
    sampler=None, persistent_workers=False,
    multiprocessing_context='forkserver',
    dataset=dict(
        _delete_=True, type='AVShardDataset', shards=k400_shards,
        pipeline=_base_.train_dataloader.dataset.pipeline,
        audio_source=_base_.train_dataloader.dataset.audio_source,
        shuffle_buffer=256, bad_sample_policy='skip'))
