"""mmavcl: self-supervised audio-visual and video representation learning."""
from mmengine.config.utils import MODULE2PACKAGE

from .utils.checkpoint import register_checkpoint_policy
from .utils.compat import patch_mmaction_wheel, patch_mmengine_package_lookup
from .version import __version__, version_info

register_checkpoint_policy()
# `_base_ = 'mmavcl::_base_/...'` in other projects' configs (mmengine keeps
# a fixed table of packages that may be referenced this way).
MODULE2PACKAGE.setdefault('mmavcl', 'mmavcl')
patch_mmengine_package_lookup()
# Cheap (never imports mmaction): lets configs mix mmaction.* and mmavcl.*
# types even with mmaction2 1.2.0's broken wheel.
patch_mmaction_wheel()

__all__ = ['__version__', 'version_info']
