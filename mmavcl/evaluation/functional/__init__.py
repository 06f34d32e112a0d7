from .feature_file import FEATURE_KEYS, load_features, save_features
from .fingerprint import fingerprint_ranks, fingerprint_scores
from .retrieval import (average_by_video, knn_classify, l2_normalize,
                        retrieval_recall, topk_correct)

__all__ = [
    'FEATURE_KEYS', 'load_features', 'save_features', 'fingerprint_ranks',
    'fingerprint_scores', 'average_by_video',
    'knn_classify', 'l2_normalize', 'retrieval_recall', 'topk_correct'
]
