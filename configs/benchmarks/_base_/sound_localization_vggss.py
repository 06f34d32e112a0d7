# VGG-SS test (cIoU@0.5, AUC).
_base_ = [
    './sound_localization.py', './sound_localization_models.py',
    '../../_base_/datasets/bench_vggss_sound_localization.py',
]
