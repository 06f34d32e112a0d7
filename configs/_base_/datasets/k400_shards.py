# The shard loader every K400 shard config shares (k400_*_shards.py): one
# of them inherits this next to its file-based twin and fills in the
# twin's pipeline and audio source. WebDataset shards of Kinetics-400
# (AVShardDataset) in place of the video folder, the same samples as a
# stream (docs/data_preparation.md, "Large-scale data": list -> shards ->
# bucket -> 8-GPU run). `k400_shards` may be paths or URIs
# (s3://bucket/k400/shard-000-{000000..000239}.tar: endpoint and
# credentials from the AWS_* variables or dataset.backend_args).
# Shuffling: the shard order per epoch, and a buffer of 256 packed samples
# per worker (host memory: 256 samples' views); shuffle the list before
# sharding, as a batch comes from one worker. The epoch length comes from
# the shards' index.json.
k400_shards = 'data/kinetics400_shards/shard-000-{000000..000239}.tar'
k400_shard_loader = dict(
    # the dataset splits the shards over ranks and workers, and reshuffles
    # them per epoch in workers that are started per epoch; workers start
    # from a fork server: s3:// reads (obstore's tokio runtime) do not
    # survive fork() once the main process read the shards' index over S3
    # (measured: forked workers hang on their first read)
    sampler=None, persistent_workers=False,
    multiprocessing_context='forkserver',
    dataset=dict(_delete_=True, type='AVShardDataset', shards=k400_shards,
                 shuffle_buffer=256, bad_sample_policy='skip'))
