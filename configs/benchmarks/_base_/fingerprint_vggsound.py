# VGG-Sound test videos (gallery) and their edited copies (queries).
_base_ = [
    './fingerprint.py',
    '../../_base_/datasets/bench_vggsound_fingerprint.py',
]
