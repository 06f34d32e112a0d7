# Audio-visual correspondence baseline: one 16x2 clip and the audio of its
# real span (1.28 s at 25 fps, 1.07 s at 30 fps; 128-bin log-mel resized to
# 128 steps), symmetric cross-modal InfoNCE with in-batch
# negatives over the global batch, tau 0.07; R3D-18 + 2D audio ResNet-18,
# MLP heads 512-512-128; SGD 0.1 / 256 with cosine, 200 epochs, VGG-Sound.
#   bash tools/dist_train.sh \
#       configs/baselines/avc_r3d-18_audio-r2d18_8xb32-16x2x1-200e_vggsound.py 8
_base_ = [
    '../_base_/default_runtime.py', '../_base_/schedules/sgd_cosine_200e.py',
    '../_base_/datasets/vggsound_ssl_2clip_av.py'
]

clip_len, frame_interval, crop_size, sample_rate = 16, 2, 112, 16000
train_pipeline = [
    dict(type='VideoInit', backend='pyav', num_threads=1,
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
        type='AVDataPreprocessor',
        video_aug=[
            dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                 saturation=0.4, hue=0.1, p=0.8),
            dict(type='RandomGrayscale', p=0.2),
        ],
        # each clip cut to its own span, resized to 128 steps (8 per frame)
        audio_cfg=dict(sample_rate=sample_rate, n_fft=1024, win_length=400,
                       hop_length=160, n_mels=128, num_steps=128),
        spec_augment=dict(freq_mask=24, time_mask=24, num_masks=1)),
    backbone=dict(type='ResNet3d', depth=18, conv1_kernel=(3, 7, 7),
                  with_pool1=False, with_pool2=False,
                  temporal_strides=(1, 2, 2, 2),
                  norm_cfg=dict(type='SyncBN')),
    neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
              out_channels=128, num_layers=2, init_cfg=None),
    audio_backbone=dict(type='AudioResNet2d', depth=18, in_channels=1,
                        norm_cfg=dict(type='SyncBN')),
    audio_neck=dict(type='MLPNeck', in_channels=512, hid_channels=512,
                    out_channels=128, num_layers=2, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.07, symmetric=True,
              in_batch_negatives=True))
