# Audio-visual correspondence baseline: one 16x2 clip and the audio of its
# real span (1.28 s at 25 fps, 1.07 s at 30 fps; 128-bin log-mel resized to
# 128 steps), symmetric cross-modal InfoNCE with in-batch
# negatives over the global batch, tau 0.07; R3D-18 + 2D audio ResNet-18,
# MLP heads 512-512-128; SGD 0.1 / 256 with cosine, 200 epochs, VGG-Sound.
#   bash tools/dist_train.sh \
#       configs/baselines/avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/vggsound_ssl_2clip_av.py',
    '../_base_/models/backbone_r3d18.py',
    '../_base_/models/backbone_audio_resnet2d18.py',
    '../_base_/models/data_preprocessors.py'
]

clip_len, frame_interval, crop_size, sample_rate = 16, 2, 112, 16000
train_pipeline = [
    dict(type='VideoInit', backend='pyav',
         decode_short_side=128),
    dict(type='SampleClips', clip_len=clip_len, frame_interval=frame_interval,
         num_clips=1, mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=sample_rate,
         on_missing_audio='silence'),
    dict(type='RandomResizedCropViews', size=crop_size, scale=(0.2, 1.0)),
    dict(type='FlipViews', flip_prob=0.5),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

model = dict(
    type='AVCorrespondence',
    data_preprocessor=dict(
        _base_.video_preprocessor,
        # each clip cut to its own span, resized to 128 steps (8 per frame)
        audio_cfg=dict(_base_.log_mel_128, num_steps=128),
        spec_augment=dict(freq_mask=24, time_mask=24, num_masks=1)),
    backbone=dict(_base_.r3d18_backbone, norm_cfg=dict(type='SyncBN')),
    neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
              out_channels=128, num_layers=2, init_cfg=None),
    audio_backbone=dict(_base_.audio_r2d18_backbone,
                        norm_cfg=dict(type='SyncBN')),
    audio_neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
                    out_channels=128, num_layers=2, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.07, symmetric=True,
              in_batch_negatives=True))
