from .av_data_preprocessor import AVDataPreprocessor, build_data_preprocessor

__all__ = ['AVDataPreprocessor', 'build_data_preprocessor']
