# Flickr-SoundNet test (cIoU@0.5, AUC).
_base_ = [
    './sound_localization.py', './sound_localization_models.py',
    '../../_base_/datasets/bench_flickr_soundnet_sound_localization.py',
]
