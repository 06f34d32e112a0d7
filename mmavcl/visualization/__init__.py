from .vis_backends import DEFAULT_CODE_EXCLUDES, WandbVisBackend

__all__ = ['DEFAULT_CODE_EXCLUDES', 'WandbVisBackend']
