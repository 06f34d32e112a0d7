from .checkpointing import (SafeCheckpointHook, atomic_path,
                            atomic_torch_save, find_resumable_checkpoint)
from .efficiency import (ChannelsLast3dHook,  # noqa: F401
                         TorchCompileHook, compile_modules,
                         convert_to_channels_last)
from .hooks import *  # noqa: F401,F403
from .loops import AVEpochBasedTrainLoop, AVIterBasedTrainLoop
from .optim_wrappers import AutocastOptimWrapper
from .runner import (AVRunner, adapt_cfg_to_cpu_distributed,
                     missing_engine_guarantees)

__all__ = [
    'AVRunner', 'adapt_cfg_to_cpu_distributed', 'missing_engine_guarantees',
    'AutocastOptimWrapper', 'SafeCheckpointHook', 'atomic_path',
    'atomic_torch_save', 'find_resumable_checkpoint', 'AVEpochBasedTrainLoop',
    'AVIterBasedTrainLoop', 'TorchCompileHook'
]
