from .av_data_sample import AVDataSample, format_label

__all__ = ['AVDataSample', 'format_label']
