from .features import evaluate_feature_files, extract_features
from .runner_utils import build_runner, close_distributed, merge_common_args

__all__ = [
    'extract_features', 'evaluate_feature_files', 'build_runner',
    'close_distributed', 'merge_common_args'
]
