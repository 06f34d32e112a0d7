from .hooks import *  # noqa: F401,F403
from .optim_wrappers import AutocastOptimWrapper
from .runner import AVRunner, adapt_cfg_to_cpu_distributed

__all__ = ['AVRunner', 'adapt_cfg_to_cpu_distributed', 'AutocastOptimWrapper']
