from .runner_utils import build_runner, merge_common_args

__all__ = ['build_runner', 'merge_common_args']
