# The pipeline and loader of k400_vclr_segments.py, reading
# WebDataset shards of Kinetics-400 (AVShardDataset) in place of the video
# folder: the same samples as a stream (docs/data_preparation.md,
# "Large-scale data": list -> shards -> bucket -> 8-GPU run).
# `k400_shards` may be paths or URIs (s3://bucket/k400/shard-000-{000000..
# 000239}.tar: endpoint and credentials from the AWS_* variables or
# dataset.backend_args). Shuffling: the shard order per epoch, and a buffer
# of 256 packed samples per worker (host memory: 256 samples' views);
# shuffle the list before sharding, as a batch comes from one worker. The
# epoch length comes from the shards' index.json.
_base_ = ['k400_vclr_segments.py']

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
