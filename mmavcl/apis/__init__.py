from .features import evaluate_feature_files, extract_features
from .runner_utils import build_runner, merge_common_args

__all__ = [
    'extract_features', 'evaluate_feature_files', 'build_runner',
    'merge_common_args'
]
