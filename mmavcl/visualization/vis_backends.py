"""Visualization backends with defaults suited to a research checkout."""
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.visualization import WandbVisBackend as _MMEngineWandb
from mmengine.visualization.vis_backend import force_init_env

from ..registry import VISBACKENDS

# Never code: environments, outputs, data and VCS metadata. A virtualenv
# inside the checkout alone holds ~13k *.py files.
DEFAULT_CODE_EXCLUDES = ('.venv', 'venv', 'env', '.git', 'work_dirs', 'data',
                         'site-packages', '__pycache__', 'wandb', '.mim')


@VISBACKENDS.register_module(force=True)
class WandbVisBackend(_MMEngineWandb):
    """mmengine's W&B backend, but the code snapshot skips environments.

    mmengine's ``add_config`` calls ``wandb.run.log_code('.')``, which
    uploads every ``*.py`` below the working directory; started from a
    checkout with its virtualenv inside (``make``'s ``.venv``), that is
    ~13k files and ~200 MB per run. Same arguments as mmengine's class, plus:

    Args:
        log_code (bool): Snapshot the source at all. Defaults to True.
        code_excludes (Sequence[str]): Directory names skipped anywhere in
            the tree. Defaults to :data:`DEFAULT_CODE_EXCLUDES`.
    """

    def __init__(self, *args, log_code: bool = True,
                 code_excludes: Sequence[str] = DEFAULT_CODE_EXCLUDES,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._log_code = log_code
        self._code_excludes = frozenset(code_excludes)

    def is_excluded(self, path: str, root: Optional[str] = None) -> bool:
        """Whether ``path`` lies in an excluded directory below ``root``."""
        rel = osp.relpath(path, root or os.getcwd())
        return any(part in self._code_excludes
                   for part in rel.split(os.sep)[:-1])

    @force_init_env
    def add_config(self, config: Config, **kwargs) -> None:
        """Record the config and, unless disabled, the source code."""
        self._wandb.config.update(
            config.to_dict(),
            allow_val_change=self._init_kwargs.get('allow_val_change', False))
        if self._log_code:
            self._wandb.run.log_code(
                name=self._log_code_name,
                exclude_fn=self.is_excluded)
