# The encoders of each audio-visual pretraining config as a SoundLocalizer
# (configs/benchmarks/_base_/sound_localization.py): the same backbones,
# projections and log-mel as the pretraining, and where the checkpoint keeps
# each module. Audio steps are set for the benchmarks' 16-frame clips at the
# pretraining's steps per frame. A leaf config picks one:
#   model = {{_base_.glcl_localizer}}
_base_ = [
    '../../_base_/models/backbone_glcl.py',
    '../../_base_/models/backbone_r2plus1d18.py',
    '../../_base_/models/backbone_r3d18.py',
    '../../_base_/models/backbone_audio_resnet2d18.py',
    '../../_base_/models/data_preprocessors.py',
]
# GLCL (configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py): the global
# audio vector against the slow pathway at every position, as its global
# loss compares them (s_ij(p), without the time average)
glcl_localizer = dict(
    backbone=_base_.glcl_video_backbone,
    audio_backbone=_base_.glcl_audio_backbone,
    video_proj=dict(type='ConvMLPNeck', in_channels=512, out_channels=512,
                    num_layers=1, ndim=3),
    audio_proj=dict(type='ConvMLPNeck', in_channels=512, out_channels=512,
                    num_layers=1, ndim=1),
    video_stage=0,
    checkpoint_prefixes=dict(video_proj='slow_proj.',
                             audio_proj='audio_global_proj.'),
    data_preprocessor=dict(
        type='AVDataPreprocessor', video_aug=None,
        mean=_base_.imagenet_mean, std=_base_.imagenet_std,
        audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                       hop_length=160, n_mels=80, num_steps=3 * 16)))
# AVTSS (configs/avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py): the
# v<->a contrast's projections (MLP applied at every position)
avtss_localizer = dict(
    backbone=_base_.r2plus1d18_backbone,
    audio_backbone=_base_.audio_r2d18_backbone,
    video_proj=dict(type='MLPNeck', in_channels=512, hid_channels=512,
                    out_channels=128, num_layers=2, init_cfg=None),
    audio_proj=dict(type='MLPNeck', in_channels=512, hid_channels=512,
                    out_channels=128, num_layers=2, init_cfg=None),
    checkpoint_prefixes=dict(video_proj='neck.', audio_proj='audio_neck.'),
    data_preprocessor=dict(
        _base_.video_preprocessor, video_aug=None,
        audio_cfg=dict(_base_.log_mel_128, num_steps=64)))
# The AVC baseline (configs/baselines/
# avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py; BN in place of
# its SyncBN, same keys): AVTSS's projections (MLP 512-512-128) and
# log-mel; its 128 steps for a 32-frame span are 64 for 16 frames
avc_localizer = dict(avtss_localizer, backbone=_base_.r3d18_backbone)
