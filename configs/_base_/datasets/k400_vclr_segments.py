# Kinetics-400 for VCLR (METHODS.md s1; [CODE] dataset/dataset_kinetics.py
# KineticsClipFolderDatasetOrderTSN, tools/data/k400/extract_frames.py).
# The official data is JPEG frames extracted with `ffmpeg -filter:v
# fps=fps=30 -s 340x256`, exactly 300 per video (truncated, or short videos
# padded with a repeated last frame). Here the videos are decoded on the
# fly, sampled on the same grid: SampleSegments(grid_fps=30, num_frames=300)
# picks slots of a 30 fps grid over the first 10 s and decodes the frame
# FFmpeg's fps filter shows there, at any source rate; VideoInit resizes
# every frame to 340x256 (W x H, aspect not kept, as `-s 340x256`).
# K=3 segments; one frame per segment for the query and the key tuple; the
# anchor a and p2, p3 are the query tuple's own views (reuse_query: the
# official code reuses the augmented query tensors), a+ is one extra view;
# 4-way order label.
# Views: [a+, q1..q3, k1..k3] (7), decoded once (6 frames).
# Per-frame augmentation is independent per view (RandomResizedCrop(224,
# scale=(0.2, 1)), flip here; colour jitter / grayscale / blur in the data
# preprocessor).
_base_ = ['k400_train.py']

num_segments, crop_size = 3, 224

train_pipeline = [
    # PyAV rather than decord: it skips the unreferenced frames it will
    # not return (docs/benchmarks.md, "PyAV reader")
    dict(type='VideoInit', backend='pyav',
         decode_size=(340, 256)),
    dict(type='SampleSegments', num_segments=num_segments, clip_len=1,
         num_frames=300, grid_fps=30, shuffle_prob=0.5, anchor_views=True,
         reuse_query=True),
    dict(type='DecodeVideoViews'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(audio_source='none', pipeline=train_pipeline))
