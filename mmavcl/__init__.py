"""mmavcl: self-supervised audio-visual and video representation learning."""
from .utils.checkpoint import register_checkpoint_policy
from .utils.compat import patch_mmaction_wheel
from .version import __version__, version_info

register_checkpoint_policy()
# Cheap (never imports mmaction): lets configs mix mmaction.* and mmavcl.*
# types even with mmaction2 1.2.0's broken wheel.
patch_mmaction_wheel()

__all__ = ['__version__', 'version_info']
