# The Kinetics-400 pretraining loader every method's K400 base shares: batch
# 32 per GPU, 8 workers that stack each view in the worker
# (mmavcl.av_collate), unlabelled videos; a method's base inherits it and
# adds its pipeline, and audio_source='none' when it reads no audio.
dataset_type = 'AVVideoDataset'
data_root = 'data/kinetics400'
ann_file_train = 'kinetics400_train_list_videos.txt'

train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True, drop_last=True,
    pin_memory=True, collate_fn=dict(type='mmavcl.av_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file=ann_file_train,
                 data_prefix=dict(video='videos_train'),
                 audio_source='container', with_label=False))
