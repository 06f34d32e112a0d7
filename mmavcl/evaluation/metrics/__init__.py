from .accuracy import AccuracyMetric, mean_class_accuracy
from .retrieval import KNNAccuracy, RetrievalMetric, prepare_features

__all__ = [
    'AccuracyMetric', 'mean_class_accuracy', 'KNNAccuracy',
    'RetrievalMetric', 'prepare_features'
]
