from .feature_file import FEATURE_KEYS, load_features, save_features
from .event_localization import binary_auc, segment_accuracy
from .fingerprint import fingerprint_ranks, fingerprint_scores
from .retrieval import (average_by_video, knn_classify, l2_normalize,
                        retrieval_recall, topk_correct)
from .sound_localization import ciou_summary, consensus_iou
from .snippets import (SNIPPET_LAYOUTS, group_snippets, rescale_snippets,
                       snippet_file_name, write_snippet_file)

__all__ = [
    'FEATURE_KEYS', 'load_features', 'save_features', 'fingerprint_ranks',
    'fingerprint_scores', 'average_by_video',
    'knn_classify', 'l2_normalize', 'retrieval_recall', 'topk_correct',
    'SNIPPET_LAYOUTS', 'group_snippets', 'rescale_snippets',
    'snippet_file_name', 'write_snippet_file', 'consensus_iou',
    'ciou_summary', 'segment_accuracy', 'binary_auc'
]
