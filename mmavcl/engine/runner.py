"""mmengine's Runner with what a multi-day video SSL run needs on top.

* **CPU distributed**: ``launcher='pytorch'`` without CUDA (mmengine 0.10.7
  always calls ``torch.cuda.set_device`` and passes ``device_ids``) starts a
  gloo process group itself, wraps the model in DDP without device ids and
  reverts SyncBN, which only runs on GPUs. On GPUs nothing changes.
* **Checkpoint trust**: only the checkpoint being resumed may be fully
  unpickled (:mod:`mmavcl.utils.checkpoint`); ``load_from`` stays
  ``weights_only``.
* **Environment report**: the versions of the media/audio libraries are
  logged next to mmengine's report.
* **Crash safety** (:mod:`mmavcl.engine.checkpointing`): checkpoints are
  written to a temporary file and renamed atomically; ``CheckpointHook`` is
  replaced by :class:`SafeCheckpointHook` (save first, prune after);
  ``resume=True`` without a path skips truncated/corrupt checkpoints and
  falls back to the newest complete one.
* **Exact resume** (:mod:`mmavcl.engine.resume`, :mod:`mmavcl.engine.loops`):
  mmengine's train loops are replaced by subclasses that restore the data
  sampler's position mid-epoch and every RNG state.
* **torch.compile**: ``compile=True`` / ``compile=dict(backend=..., mode=...,
  modules=...)`` compiles the backbones in place
  (:func:`~mmavcl.engine.efficiency.compile_modules`) instead of mmengine's
  whole ``train_step``; ``modules='train_step'`` restores mmengine's way.
* **Channels-last before DDP**: with a ``ChannelsLast3dHook`` among the
  custom hooks the weights are converted before the model is wrapped, so
  DDP's gradient buckets take the channels-last layout (converted after,
  every gradient would be copied into buckets of the old layout).
"""
import copy
import os
import os.path as osp
from typing import Dict, Optional, Union

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.dist import broadcast_object_list, get_rank, master_only
from mmengine.hooks import CheckpointHook, Hook
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import Runner
from mmengine.runner.loops import EpochBasedTrainLoop, IterBasedTrainLoop

from mmavcl.registry import RUNNERS
from mmavcl.utils.checkpoint import trusted_checkpoints
from .checkpointing import (SafeCheckpointHook, checkpoint_problem,
                            find_resumable_checkpoint, fsync_dir,
                            message_hub_from_plain, message_hub_to_plain)
from .efficiency import (ChannelsLast3dHook, compile_modules,
                         convert_to_channels_last)
from .loops import AVEpochBasedTrainLoop, AVIterBasedTrainLoop
from .resume import RESUME_KEY, collect_resume_state

# mmengine's loops and the drop-in subclasses that resume exactly
_LOOP_UPGRADES = {
    'EpochBasedTrainLoop': AVEpochBasedTrainLoop,
    'mmengine.EpochBasedTrainLoop': AVEpochBasedTrainLoop,
    EpochBasedTrainLoop: AVEpochBasedTrainLoop,
    'IterBasedTrainLoop': AVIterBasedTrainLoop,
    'mmengine.IterBasedTrainLoop': AVIterBasedTrainLoop,
    IterBasedTrainLoop: AVIterBasedTrainLoop,
}
_CKPT_HOOK_NAMES = ('CheckpointHook', 'mmengine.CheckpointHook',
                    CheckpointHook)

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


def _channels_last_hook(hooks) -> Optional[dict]:
    """The ``ChannelsLast3dHook`` arguments among ``hooks``, or None."""
    names = ('ChannelsLast3dHook', 'mmavcl.ChannelsLast3dHook',
             ChannelsLast3dHook)
    for hook in hooks or []:
        if isinstance(hook, ChannelsLast3dHook):
            return dict(convert_2d=hook.convert_2d)
        if isinstance(hook, dict) and hook.get('type') in names:
            return {k: v for k, v in hook.items() if k != 'type'}
    return None


@RUNNERS.register_module()
class AVRunner(Runner):
    """The runner every mmavcl config uses (``runner_type='AVRunner'``)."""

    def __init__(self, *args, **kwargs) -> None:
        # read before mmengine builds and wraps the model (see wrap_model)
        self._channels_last = _channels_last_hook(kwargs.get('custom_hooks'))
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: ConfigType) -> 'AVRunner':
        cfg = copy.deepcopy(cfg)
        adapt_cfg_to_cpu_distributed(cfg)
        return super().from_cfg(cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module):
        if self.distributed and not torch.cuda.is_available():
            model = revert_sync_batchnorm(model)
        if self._channels_last is not None:
            convert_to_channels_last(model, **self._channels_last)
        return super().wrap_model(model_wrapper_cfg, model)

    def _maybe_compile(self, target: str) -> None:
        """Compile per ``cfg.compile`` (called by mmengine after wrapping).

        ``True`` or a dict of ``torch.compile`` arguments plus an optional
        ``modules``: child names to compile (default: every ``*backbone``),
        or ``'train_step'`` for mmengine's behaviour (compile ``target``).
        """
        compile_cfg = self.cfg.get('compile', None)
        if not compile_cfg:
            return
        kwargs = {} if compile_cfg is True else dict(compile_cfg)
        modules = kwargs.pop('modules', None)
        model = self.model.module if hasattr(self.model,
                                             'module') else self.model
        if modules == 'train_step':
            setattr(self.model, target,
                    torch.compile(getattr(self.model, target), **kwargs))
            names = [target]
        else:
            names = compile_modules(model, modules, **kwargs)
        self.logger.info(f'torch.compile({kwargs}) on {names}; the first '
                         'iterations will be slow while it compiles')

    def register_hook(self, hook: Union[Hook, Dict],
                      priority=None) -> None:
        # Same arguments, safer behaviour: see SafeCheckpointHook.
        if isinstance(hook, dict) and hook.get('type') in _CKPT_HOOK_NAMES:
            hook = dict(hook, type=SafeCheckpointHook)
        super().register_hook(hook, priority)

    def build_train_loop(self, loop):
        if isinstance(loop, dict):
            loop = copy.deepcopy(loop)
            if 'type' not in loop and 'by_epoch' in loop:
                loop['type'] = AVEpochBasedTrainLoop if loop.pop(
                    'by_epoch') else AVIterBasedTrainLoop
            elif loop.get('type') in _LOOP_UPGRADES:
                loop['type'] = _LOOP_UPGRADES[loop['type']]
        return super().build_train_loop(loop)

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        meta: Optional[dict] = None, **kwargs) -> None:
        """mmengine's ``save_checkpoint``, written atomically.

        The checkpoint goes to a hidden temporary file in ``out_dir`` which
        is fsync'ed and renamed over ``filename`` (atomic on POSIX), so a
        crash never leaves a truncated file under a checkpoint name.
        """
        meta = dict(meta or {})
        if RESUME_KEY not in meta:  # saved outside SafeCheckpointHook
            base = dict(meta)
            base.setdefault('epoch', self.epoch + 1 if kwargs.get(
                'by_epoch', True) else self.epoch)
            base.setdefault('iter', self.iter if kwargs.get(
                'by_epoch', True) else self.iter + 1)
            meta[RESUME_KEY] = collect_resume_state(self, base, gather=False)
        if '://' in str(out_dir):  # object stores: no rename semantics
            return super().save_checkpoint(out_dir, filename, *args,
                                           meta=meta, **kwargs)
        tmp_name = f'.{filename}.tmp-{os.getpid()}'
        tmp_path = osp.join(out_dir, tmp_name)
        try:
            super().save_checkpoint(out_dir, tmp_name, *args, meta=meta,
                                    **kwargs)
            with open(tmp_path, 'rb+') as f:
                os.fsync(f.fileno())
            os.replace(tmp_path, osp.join(out_dir, filename))
            fsync_dir(out_dir)
        finally:
            if osp.exists(tmp_path):
                os.remove(tmp_path)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        # Checkpoints hold the message hub as plain data so that they load
        # with weights_only=True (see checkpointing.message_hub_to_plain).
        checkpoint = kwargs.get('checkpoint')
        if fn_name == 'after_load_checkpoint' and checkpoint is not None \
                and 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_from_plain(
                checkpoint['message_hub'])
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint' and checkpoint is not None \
                and 'message_hub' in checkpoint:
            checkpoint['message_hub'] = message_hub_to_plain(
                checkpoint['message_hub'])

    def load_checkpoint(self, filename: str, *args, **kwargs):
        checkpoint = super().load_checkpoint(filename, *args, **kwargs)
        self._loaded_meta = checkpoint.get('meta', {})
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        # Resuming restores optimizer/message-hub state, which needs full
        # unpickling; the file being resumed is the user's own run.
        with trusted_checkpoints(filename):
            super().resume(filename, *args, **kwargs)
        if hasattr(self.train_loop, 'load_resume_state'):
            self.train_loop.load_resume_state(self._loaded_meta)

    def load_or_resume(self) -> None:
        if self._has_loaded or not self._resume:
            return super().load_or_resume()
        if self._load_from is not None:  # --resume PATH
            problem = checkpoint_problem(self._load_from) \
                if osp.isfile(self._load_from) else None
            if problem is not None:
                raise RuntimeError(
                    f'Cannot resume from {self._load_from}: {problem}. '
                    '`--resume auto` falls back to the newest complete '
                    'checkpoint in the work dir.')
            return super().load_or_resume()
        # Auto-resume: rank 0 picks the newest *complete* checkpoint (a
        # truncated newest file is skipped with a warning) and tells the
        # other ranks, so all resume from the same file.
        choice = [None, None]
        if get_rank() == 0:
            try:
                choice[0] = find_resumable_checkpoint(self.work_dir)
            except RuntimeError as err:
                choice[1] = str(err)
        broadcast_object_list(choice)
        if choice[1] is not None:
            raise RuntimeError(choice[1])
        if choice[0] is None:
            self.logger.info(
                f'No checkpoint in {self.work_dir} to resume; training '
                'from scratch.')
            return
        self.logger.info(f'Auto resumed from the latest checkpoint '
                         f'{choice[0]}.')
        self.resume(choice[0])
        self._has_loaded = True

    def _log_env(self, env_cfg: dict) -> None:
        super()._log_env(env_cfg)
        from mmavcl.utils.collect_env import collect_env
        env = collect_env()
        keys = ('mmcv', 'decord', 'av', 'torchaudio', 'kornia', 'mmaction',
                'mmavcl')
        self.logger.info('Media/audio environment:\n    ' + '\n    '.join(
            f'{k}: {env[k]}' for k in keys))
