from .av_data_preprocessor import AVDataPreprocessor, build_data_preprocessor
from .video_augment import BatchedVideoAug

__all__ = ['AVDataPreprocessor', 'BatchedVideoAug', 'build_data_preprocessor']
