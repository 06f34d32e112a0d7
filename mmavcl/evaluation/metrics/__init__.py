from .accuracy import AccuracyMetric, mean_class_accuracy
from .auc import BinaryAUCMetric
from .event_localization import SegmentAccuracyMetric
from .fingerprint import FingerprintMetric, load_fingerprint_list
from .sound_localization import (SoundLocalizationMetric, box_map,
                                 frame_ground_truth,
                                 load_sound_localization_boxes)
from .retrieval import KNNAccuracy, RetrievalMetric, prepare_features

__all__ = [
    'AccuracyMetric', 'mean_class_accuracy', 'FingerprintMetric',
    'load_fingerprint_list', 'KNNAccuracy',
    'RetrievalMetric', 'prepare_features', 'SoundLocalizationMetric',
    'BinaryAUCMetric', 'SegmentAccuracyMetric', 'box_map',
    'frame_ground_truth', 'load_sound_localization_boxes'
]
