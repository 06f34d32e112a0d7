from .decoding import (AudioInit, DecodeAudioViews, DecodeVideoViews,
                       VideoInit)
from .formatting import PackAVInputs
from .photometric import ColorJitterViews, GrayscaleViews, adjust_clip
from .sampling import (ORDER_AFTER, ORDER_BEFORE, ORDER_OVERLAP,
                       BaseViewSampler, SampleAudioClips, SampleClips,
                       SampleEventSegments,
                       SampleGlobalLocal, SampleSegments, SampleSnippets,
                       SampleTemporalPairs, temporal_relation)
from .spans import (ORDER_IGNORE, frame_edges, resolve_spans,
                    view_time_span)
from .spatial import (CenterCropViews, FlipViews, RandomResizedCropViews,
                      ResizeViews, ThreeCropViews, ViewTransform, resize_clip)

# readers, probes, audio decoding and resampling live in
# mmavcl.datasets.media (file I/O); this package holds the pipeline steps
__all__ = [
    'VideoInit', 'AudioInit', 'DecodeVideoViews', 'DecodeAudioViews',
    'PackAVInputs', 'BaseViewSampler', 'SampleClips', 'SampleSegments',
    'SampleGlobalLocal', 'SampleTemporalPairs', 'SampleAudioClips',
    'SampleSnippets', 'SampleEventSegments',
    'temporal_relation', 'ORDER_BEFORE', 'ORDER_AFTER', 'ORDER_OVERLAP',
    'ORDER_IGNORE', 'frame_edges', 'resolve_spans', 'view_time_span',
    'ResizeViews', 'RandomResizedCropViews', 'CenterCropViews',
    'ThreeCropViews', 'FlipViews', 'ViewTransform', 'resize_clip',
    'ColorJitterViews', 'GrayscaleViews', 'adjust_clip'
]
