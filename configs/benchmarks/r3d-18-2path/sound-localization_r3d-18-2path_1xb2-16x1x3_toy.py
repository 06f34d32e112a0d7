# Sound-source localization on the toy sound-localization set with the toy
# GLCL encoders (configs/glcl/glcl_r3d-18-2path_toy.py): 3 clips of 16
# frames cover each 3 s video, every frame with the sounding square in view
# is scored (cIoU@0.5, AUC); full 64x64 frames (4x4 slow-pathway maps).
#   python tools/data/make_toy_dataset.py --out data/toy_soundloc \
#       --sound-localization --num-per-class 24
#   python tools/train.py configs/glcl/glcl_r3d-18-2path_toy.py \
#       --cfg-options train_dataloader.dataset.data_root=data/toy_soundloc
#   python tools/test.py \
#       configs/benchmarks/r3d-18-2path/sound-localization_r3d-18-2path_1xb2-16x1x3_toy.py \
#       work_dirs/glcl_r3d-18-2path_toy/epoch_10.pth
_base_ = ['../_base_/sound_localization_toy.py']
model = dict(
    backbone=dict(type='TwoPathwayResNet3d', depth=18, alpha=4, beta=1 / 4,
                  slow_channels=8),
    audio_backbone=dict(type='AudioResNet1d', depth=18, in_channels=32,
                        base_channels=8),
    video_proj=dict(type='ConvMLPNeck', in_channels=64, out_channels=64,
                    num_layers=1, ndim=3),
    audio_proj=dict(type='ConvMLPNeck', in_channels=64, out_channels=64,
                    num_layers=1, ndim=1),
    video_stage=0,
    checkpoint_prefixes=dict(video_proj='slow_proj.',
                             audio_proj='audio_global_proj.'),
    # the toy GLCL's log-mel
    data_preprocessor=dict(
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=320, n_mels=32)))
sound_loc_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=16, frame_interval=1, num_clips=3,
         mode='linspace', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0),
    dict(type='PackAVInputs'),
]
test_dataloader = dict(dataset=dict(pipeline=sound_loc_pipeline))
