# Kinetics-400 for VCLR (METHODS.md s1, [CODE] dataset_kinetics.py): every
# video is read as 300 frames (truncated, or the last frame repeated), cut
# into K=3 segments; one frame per segment for the query and the key tuple,
# anchor views for the inter/intra terms, 4-way order label.
# Views: [a, a+, p2, p3, q1..q3, k1..k3] (10), decoded once (6 frames).
# VCLR extracts frames at 340x256: decode to short side 256 instead.
# Per-frame augmentation is independent per view (RandomResizedCrop(224,
# scale=(0.2, 1)), flip here; colour jitter / grayscale / blur in the data
# preprocessor).
dataset_type = 'AVVideoDataset'
data_root = 'data/kinetics400'
ann_file_train = 'kinetics400_train_list_videos.txt'
num_segments, crop_size = 3, 224

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav', num_threads=1,
         decode_short_side=256),
    dict(type='SampleSegments', num_segments=num_segments, clip_len=1,
         num_frames=300, shuffle_prob=0.5, anchor_views=True),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=8, persistent_workers=True, drop_last=True,
    pin_memory=True, collate_fn=dict(type='mmavcl.av_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file=ann_file_train,
                 data_prefix=dict(video='videos_train'), audio_source='none',
                 with_label=False, pipeline=train_pipeline))
