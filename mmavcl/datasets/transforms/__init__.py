from .decoding import (AudioInit, DecodeAudioViews, DecodeVideoViews,
                       VideoInit, play_at_speed, time_compress)
from .formatting import PackAVInputs
from .photometric import ColorJitterViews, GrayscaleViews, adjust_clip
from .readers import (BaseVideoReader, DecordVideoReader, PyAVVideoReader,
                      build_video_reader, decode_audio_spans, open_media,
                      probe_audio_duration,
                      probe_frame_size, probe_media, read_audio_span,
                      read_audio_spans, resample, sinc_resample_kernel)
from .sampling import (ORDER_AFTER, ORDER_BEFORE, ORDER_OVERLAP,
                       BaseViewSampler, SampleAudioClips, SampleClips,
                       SampleGlobalLocal, SampleSegments, SampleTemporalPairs,
                       temporal_relation)
from .spans import ORDER_IGNORE, resolve_spans, view_time_span
from .spatial import (CenterCropViews, FlipViews, RandomResizedCropViews,
                      ResizeViews, ThreeCropViews, ViewTransform, resize_clip)

__all__ = [
    'VideoInit', 'AudioInit', 'DecodeVideoViews', 'DecodeAudioViews',
    'time_compress', 'play_at_speed', 'decode_audio_spans',
    'PackAVInputs', 'BaseVideoReader', 'DecordVideoReader',
    'PyAVVideoReader', 'build_video_reader', 'probe_audio_duration',
    'probe_media', 'open_media', 'probe_frame_size', 'resample',
    'sinc_resample_kernel',
    'read_audio_span', 'read_audio_spans', 'BaseViewSampler', 'SampleClips',
    'SampleSegments',
    'SampleGlobalLocal', 'SampleTemporalPairs', 'SampleAudioClips',
    'temporal_relation', 'ORDER_BEFORE', 'ORDER_AFTER', 'ORDER_OVERLAP',
    'ORDER_IGNORE', 'resolve_spans', 'view_time_span',
    'ResizeViews', 'RandomResizedCropViews', 'CenterCropViews',
    'ThreeCropViews', 'FlipViews', 'ViewTransform', 'resize_clip',
    'ColorJitterViews', 'GrayscaleViews', 'adjust_clip'
]
