from .checkpoint import (UntrustedCheckpointError, register_checkpoint_policy,
                         safe_torch_load, trusted_checkpoints)
from .collect_env import collect_env
from .compat import patch_mmaction_wheel, require
from .setup_env import register_all_modules

__all__ = [
    'UntrustedCheckpointError', 'register_checkpoint_policy',
    'safe_torch_load', 'trusted_checkpoints', 'collect_env',
    'patch_mmaction_wheel', 'require', 'register_all_modules'
]
