from .ave_dataset import AVEDataset
from .collate import av_collate
from .errors import (AnnotationError, HWAccelError, MediaDecodeError,
                     MissingAudioError, PipelineConfigError,
                     TooManyBadSamplesError)
from .transforms import *  # noqa: F401,F403
from .shard_dataset import AVShardDataset
from .video_dataset import AVAudioDataset, AVVideoDataset, build_pipeline

__all__ = ['AVVideoDataset', 'AVEDataset', 'AVAudioDataset', 'AVShardDataset', 'MediaDecodeError',
           'MissingAudioError', 'AnnotationError', 'TooManyBadSamplesError',
           'PipelineConfigError', 'HWAccelError', 'build_pipeline',
           'av_collate']
