# Data preprocessors of the pretraining configs. AVDataPreprocessor batches
# the views on the device, normalises video with a per-channel mean/std
# (0-255 scale), draws the video augmentations per view and turns audio
# into log-mel (audio_cfg; None keeps no audio). A config takes one of these
# with `_base_.<name>` and changes what it needs:
#   data_preprocessor=dict(_base_.video_preprocessor, audio_cfg=...)
imagenet_mean = (123.675, 116.28, 103.53)
imagenet_std = (58.395, 57.12, 57.375)

# MoCo-v2's colour augmentation (facebookresearch/moco, main_moco.py
# --aug-plus), drawn per view and shared by the frames of a clip
color_aug = [
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
         hue=0.1, p=0.8),
    dict(type='RandomGrayscale', p=0.2),
]
# MoCo-v2's Gaussian blur; the kernel is about 10% of the crop
blur_224 = dict(type='RandomGaussianBlur', kernel_size=(23, 23),
                sigma=(0.1, 2.0), p=0.5)
blur_112 = dict(type='RandomGaussianBlur', kernel_size=(11, 11),
                sigma=(0.1, 2.0), p=0.5)

# Kinetics / VGG-Sound pretraining: ImageNet statistics, colour
# augmentation, no audio (audio-visual configs set audio_cfg). The
# augmentation runs batched (BatchedVideoAug: kornia's distributions, checked
# against kornia by tests/models/data_preprocessors/test_video_augment.py;
# 5x kornia's throughput on the CPU, docs/benchmarks.md);
# video_aug_impl='kornia' runs the reference.
video_preprocessor = dict(
    type='AVDataPreprocessor', mean=imagenet_mean, std=imagenet_std,
    video_aug=color_aug, video_aug_impl='batched', audio_cfg=None)
# 128-bin log-mel of 16 kHz audio, 25 ms windows every 10 ms
log_mel_128 = dict(sample_rate=16000, n_fft=1024, win_length=400,
                   hop_length=160, n_mels=128)

# The toy configs (tools/data/make_toy_dataset.py, a 2-core CPU): no colour
# augmentation (each toy config says why), 32-bin log-mel standardised
toy_video_preprocessor = dict(type='AVDataPreprocessor', video_aug=None,
                              audio_cfg=None)
toy_av_preprocessor = dict(
    type='AVDataPreprocessor', video_aug=None,
    audio_cfg=dict(sample_rate=16000, n_fft=512, win_length=400,
                   hop_length=160, n_mels=32),
    audio_norm=(-40.0, 20.0))
