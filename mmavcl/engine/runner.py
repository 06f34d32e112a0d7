"""mmengine's Runner with the three things a video SSL run needs on top.

* **CPU distributed**: ``launcher='pytorch'`` without CUDA (mmengine 0.10.7
  always calls ``torch.cuda.set_device`` and passes ``device_ids``) starts a
  gloo process group itself, wraps the model in DDP without device ids and
  reverts SyncBN, which only runs on GPUs. On GPUs nothing changes.
* **Checkpoint trust**: only the checkpoint being resumed may be fully
  unpickled (:mod:`mmavcl.utils.checkpoint`); ``load_from`` stays
  ``weights_only``.
* **Environment report**: the versions of the media/audio libraries are
  logged next to mmengine's report.
"""
import copy
from typing import Dict, Optional, Union

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner

from mmavcl.registry import RUNNERS
from mmavcl.utils.checkpoint import trusted_checkpoints

ConfigType = Union[Dict, Config, ConfigDict]


def adapt_cfg_to_cpu_distributed(cfg: ConfigType) -> None:
    """In-place: make ``launcher != 'none'`` work on a machine without CUDA.

    A no-op when CUDA is available or when the run is not distributed.
    """
    if cfg.get('launcher', 'none') == 'none' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group('gloo')  # Runner then skips its own init_dist
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('broadcast_buffers', False)
    cfg['model_wrapper_cfg'] = wrapper
    cfg['sync_bn'] = None


@RUNNERS.register_module()
class AVRunner(Runner):
    """The runner every mmavcl config uses (``runner_type='AVRunner'``)."""

    @classmethod
    def from_cfg(cls, cfg: ConfigType) -> 'AVRunner':
        cfg = copy.deepcopy(cfg)
        adapt_cfg_to_cpu_distributed(cfg)
        return super().from_cfg(cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module):
        if self.distributed and not torch.cuda.is_available():
            model = revert_sync_batchnorm(model)
        return super().wrap_model(model_wrapper_cfg, model)

    def resume(self, filename: str, *args, **kwargs) -> None:
        # Resuming restores optimizer/message-hub state, which needs full
        # unpickling; the file being resumed is the user's own run.
        with trusted_checkpoints(filename):
            super().resume(filename, *args, **kwargs)

    def _log_env(self, env_cfg: dict) -> None:
        super()._log_env(env_cfg)
        from mmavcl.utils.collect_env import collect_env
        env = collect_env()
        keys = ('mmcv', 'decord', 'av', 'torchaudio', 'kornia', 'mmaction',
                'mmavcl')
        self.logger.info('Media/audio environment:\n    ' + '\n    '.join(
            f'{k}: {env[k]}' for k in keys))
