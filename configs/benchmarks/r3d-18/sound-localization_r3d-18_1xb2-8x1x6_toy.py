# Sound-source localization on the toy sound-localization set with the toy
# AVTSS encoders (configs/avtss/avtss_r3d-18_toy.py): the v<->a
# projections (MLP, BN) at every position of the R3D-18 map (2x2 on 64x64
# frames) against the audio embedding; 6 clips of 8 frames (AVTSS's toy
# clips, 0.5 s of audio each) cover each 3 s video.
#   python tools/data/make_toy_dataset.py --out data/toy_soundloc \
#       --sound-localization --num-per-class 24
#   python tools/train.py configs/avtss/avtss_r3d-18_toy.py \
#       --cfg-options train_dataloader.dataset.data_root=data/toy_soundloc
#   python tools/test.py \
#       configs/benchmarks/r3d-18/sound-localization_r3d-18_1xb2-8x1x6_toy.py \
#       work_dirs/avtss_r3d-18_toy/epoch_N.pth
_base_ = [
    '../_base_/sound_localization_toy.py',
    '../../_base_/models/data_preprocessors.py',
]
proj = dict(type='MLPNeck', in_channels=64, hid_channels=64,
            out_channels=32, norm_cfg=dict(type='BN1d'), with_last_bn=True,
            init_cfg=None)
model = dict(
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    video_proj=proj, audio_proj=proj,
    checkpoint_prefixes=dict(video_proj='neck.', audio_proj='audio_neck.'),
    data_preprocessor=_base_.toy_av_preprocessor)
sound_loc_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=1, num_clips=6,
         mode='linspace', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=0.5),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=sound_loc_pipeline))
