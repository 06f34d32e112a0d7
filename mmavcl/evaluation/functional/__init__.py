from .feature_file import FEATURE_KEYS, load_features, save_features
from .retrieval import (average_by_video, knn_classify, l2_normalize,
                        retrieval_recall, topk_correct)

__all__ = [
    'FEATURE_KEYS', 'load_features', 'save_features', 'average_by_video',
    'knn_classify', 'l2_normalize', 'retrieval_recall', 'topk_correct'
]
