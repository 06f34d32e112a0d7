# Audio-visual correspondence baseline on the toy set, for CPU (thin R3D-18
# and 2D audio ResNet-18, one 8x2 clip + its 1 s of audio, in-batch
# negatives).
#   bash tools/dist_train.sh configs/baselines/avc_r3d-18_toy.py 2
_base_ = ['./moco_r3d-18_toy.py']

train_pipeline = [
    dict(type='VideoInit', num_threads=1),
    dict(type='SampleClips', clip_len=8, frame_interval=2, num_clips=1,
         mode='random', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000, fixed_duration=1.0),
    dict(type='RandomResizedCropViews', size=32, scale=(0.4, 1.0)),
    dict(type='PackAVInputs'),
]
train_dataloader = dict(
    dataset=dict(audio_source='container', pipeline=train_pipeline))

model = dict(
    _delete_=True,
    type='AVCorrespondence',
    data_preprocessor=dict(
        type='AVDataPreprocessor', video_aug=None,
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=160, n_mels=32)),
    backbone=dict(type='ResNet3d', depth=18, base_channels=8),
    neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
              out_channels=32, init_cfg=None),
    audio_backbone=dict(type='AudioResNet2d', depth=18, base_channels=8),
    audio_neck=dict(type='MLPNeck', in_channels=64, hid_channels=64,
                    out_channels=32, init_cfg=None),
    loss=dict(type='InfoNCELoss', temperature=0.1, symmetric=True,
              in_batch_negatives=True))
