# Video fingerprinting on the toy set with the toy AVTSS backbone
# (configs/avtss/avtss_r3d-18_toy.py): the val videos are the gallery, their
# edited copies the queries; prints fingerprint/R@1, fingerprint/mAP and
# both per edit type.
#   python tools/data/make_toy_dataset.py --out data/toy_av
#   python tools/data/make_fingerprint_queries.py val.txt \
#       --data-root data/toy_av --out-list data/toy_av/fingerprint.json
#   python tools/train.py configs/avtss/avtss_r3d-18_toy.py
#   python tools/test.py \
#       configs/benchmarks/r3d-18/fingerprint_r3d-18_1xb4-8x1x5_toy.py \
#       work_dirs/avtss_r3d-18_toy/epoch_N.pth
# The whole AVTSS checkpoint is given: its backbone.* weights load into
# the recognizer's backbone, the rest (necks, heads, audio encoder, queues)
# is reported as unused.
_base_ = ['../_base_/fingerprint.py']
data_root = 'data/toy_av'
fingerprint_list = 'fingerprint.json'
# the AVTSS toy encoder, exactly as pretrained (ResNet3d's defaults: stem
# and stage-1 pooling, no temporal striding), 64-d features
model = dict(
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    data_preprocessor=dict(type='AVDataPreprocessor', audio_cfg=None))
# 5 clips of 8 frames (AVTSS toy clips), short side 32 as the pretraining
# crops (RandomResizedCrop to 32 from 64x64 frames), centre crop 32
fingerprint_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=1, num_clips=5,
         mode='linspace'),
    dict(type='DecodeVideoViews'),
    dict(type='ResizeViews', scale=(-1, 32)),
    dict(type='CenterCropViews', size=32),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='AVVideoDataset', data_root=data_root,
                 ann_file=fingerprint_list, data_prefix=dict(video=''),
                 audio_source='none', with_label=False,
                 pipeline=fingerprint_pipeline, test_mode=True))
test_evaluator = dict(type='FingerprintMetric',
                      ann_file=f'{data_root}/{fingerprint_list}',
                      topk=(1, 5), mode='video_mean')
