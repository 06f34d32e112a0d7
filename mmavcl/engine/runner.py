"""mmengine's Runner with what a multi-day video SSL run needs on top.

What runs is named in the config: the checkpoint hook
(``default_hooks.checkpoint = dict(type='SafeCheckpointHook', ...)``), the
validation RNG guard (``default_hooks.val_rng_guard``), the non-finite loss
guard (``default_hooks.nonfinite_guard``) and the defaults of mmengine in
``configs/_base_/default_runtime.py``; the train loop
(``train_cfg = dict(type='AVEpochBasedTrainLoop', ...)``) in
``configs/_base_/schedules/``; ``torch.compile`` of the backbones
(``default_hooks.compile = dict(type='TorchCompileHook', ...)``, added by
``tools/train.py --compile``) and channels-last
(``custom_hooks = [dict(type='ChannelsLast3dHook')]``) where a config asks
for them. ``AVRunner`` builds what the config names and swaps no type.
Its own additions, all through public ``Runner`` methods:

* **CPU distributed** (``from_cfg``, ``wrap_model``): ``launcher='pytorch'``
  without CUDA (mmengine 0.10.7 always calls ``torch.cuda.set_device`` and
  passes ``device_ids``) starts a gloo process group itself, wraps the model
  in DDP without device ids and reverts SyncBN, which only runs on GPUs. On
  GPUs nothing changes.
* **Checkpoint trust** (``resume``, ``load_checkpoint``;
  :mod:`mmavcl.utils.checkpoint`): everything loads ``weights_only``; only
  a resume of a file inside the run's own checkpoint directories may fully
  unpickle it. mmengine's ``resume`` would also *execute* a checkpoint's
  ``meta['config']`` string as a Python config; that key is dropped on load.
* **One writer per work dir** (``train``): ``train()`` holds
  ``work_dir/.mmavcl.lock`` (rank 0, ``flock``, released by the kernel when
  the process dies) and refuses to start while another run holds it; with
  the lock held, the temporary files of a killed save are removed.
  ``val()``/``test()`` take no lock: they write no checkpoints.
* **Nothing written is overwritten** (``train``): a run without
  ``resume`` refuses a work dir (or checkpoint ``out_dir``, local or
  ``s3://``) holding an earlier run's checkpoints, naming them; with
  ``start_over=True`` (``tools/train.py --start-over``) it moves them into
  ``superseded_<timestamp>/`` first. A run refused there (or by the
  lock) changes no file of the live or earlier run: ``dump_config`` (run
  while the runner is built) writes the config into the run's own log
  dir only, and ``work_dir/<config name>.py`` is written by ``train()``
  once the lock is held and the check passed (``val()``/``test()``: only
  where there is none), moving an earlier one that has no copy in a log
  dir aside first.
* **A log dir per run** (``setup_env``): mmengine's timestamp is to the
  second, and runs started in the same second into one work dir shared
  ``work_dir/<timestamp>/`` (one log, one ``scalars.json``); rank 0 now
  creates the folder exclusively and, where it is taken, uses
  ``<timestamp>_1``, ``<timestamp>_2`` ... as the run's timestamp, which
  every rank takes.
* **Checkpoints in object storage** (``load_or_resume``): with a
  checkpoint hook ``out_dir='s3://...'`` auto-resume takes the newest
  checkpoint there (the writing itself is the object-store backend's,
  :mod:`mmavcl.datasets.media.remote`).
* **Clear errors** (``from_cfg``, ``train``/``val``/``test``,
  ``build_train_loop``, ``build_optim_wrapper``): an unknown ``type``
  anywhere in the config names its key path and suggests registered names
  (:func:`mmavcl.registry.explain_unknown_types`); a DataLoader worker
  killed by a native crash is reported with the file it was reading
  (:func:`mmavcl.datasets.video_dataset.naming_worker_files`); a train
  dataloader that yields no batch (dataset smaller than the batch with
  ``drop_last``) is explained instead of failing in mmengine's scheduler
  conversion.
* **Missing guarantees are reported** (``build_train_loop``): a training
  run whose config names mmengine's ``CheckpointHook`` or train loops (or
  validates without ``ValRNGGuardHook``) runs them as named and logs one
  warning that lists what is lost (save-before-prune, exact resume) and the
  config line that restores it (:func:`missing_engine_guarantees`).
* **One bad-data decision for all ranks** (``build_train_loop``): the
  train dataloader is built before the loop, and its dataset handed to the
  reporting ``DataReportHook`` (:meth:`DataReportHook.take_over`) before
  any DataLoader worker copies it (an iteration loop starts its workers
  when it is built, before any hook runs): the workers then neither log
  their bad files nor apply ``max_bad_ratio`` to their own reads, and the
  hook stops every rank at the same point.
* **Any default hook can be removed** (``register_default_hooks``):
  ``default_hooks=dict(KEY=None)`` removes mmavcl's default hooks too
  (``nonfinite_guard``, ``data_report``), not only mmengine's six.
* **One non-finite guard** (``register_hooks``): a
  ``NonFiniteLossGuardHook`` config in ``custom_hooks`` is merged into
  ``default_hooks.nonfinite_guard`` (the keys it names win) instead of
  running next to it or dropping the default's settings.
* **Crash safety** (``save_checkpoint``, ``load_or_resume``;
  :mod:`mmavcl.engine.checkpointing`): checkpoints are written to a
  temporary file and renamed atomically (:func:`atomic_path`);
  ``resume=True`` without a path skips truncated/corrupt checkpoints and
  falls back to the newest complete one.
* **Exact resume** (``resume``, ``save_checkpoint``, ``call_hook``): the
  checkpoint's mmavcl resume state is handed to the train loop
  (:mod:`mmavcl.engine.resume`, :mod:`mmavcl.engine.loops`), and the message
  hub is stored as plain data so that checkpoints load weights-only.
* **Channels-last before DDP** (``wrap_model``): with a
  ``ChannelsLast3dHook`` among the custom hooks the weights are converted
  before the model is wrapped, so DDP's gradient buckets take the
  channels-last layout (converted after, every gradient would be copied
  into buckets of the old layout).
* **Environment report** (``__init__``): the versions of the media/audio
  libraries are logged after mmengine's report.
"""
import contextlib
import copy
import glob
import math
import os
import os.path as osp
import shutil
from typing import (Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict
from mmengine.dataset import InfiniteSampler
from mmengine.dist import (broadcast_object_list, get_rank, get_world_size,
                           master_only)
from mmengine.hooks import CheckpointHook, Hook, LoggerHook
from mmengine.model import revert_sync_batchnorm
from mmengine.runner import IterBasedTrainLoop, Runner

from mmavcl.datasets.video_dataset import naming_worker_files
from mmavcl.registry import (RUNNERS, UnknownTypeError, explain_unknown_types,
                             suggest_types)
from mmavcl.utils.checkpoint import trusted_checkpoints
from .checkpointing import (SafeCheckpointHook, WorkDirLock, atomic_path,
                            checkpoint_problem, find_resumable_checkpoint,
                            PreviousRunError, message_hub_from_plain,
                            message_hub_to_plain, move_aside,
                            newest_remote_checkpoint, previous_run_files,
                            remove_stale_temp_files)
from .efficiency import ChannelsLast3dHook, convert_to_channels_last
from .hooks import SafeLoggerHook, ValRNGGuardHook
from .hooks.nonfinite_guard_hook import merge_guard_cfgs
from .hooks.data_report_hook import reporting_hook
from .loops import AVEpochBasedTrainLoop, AVIterBasedTrainLoop
from .resume import RESUME_KEY, collect_resume_state

ConfigType = Union[Dict, Config, ConfigDict]


#: the keys of mmengine's own default hooks (``Runner.register_default_hooks``)
_MMENGINE_DEFAULT_HOOKS = ('runtime_info', 'timer', 'sampler_seed', 'logger',
                           'param_scheduler', 'checkpoint')


class FormatOnceConfig(Config):
    """A :class:`~mmengine.config.Config` that yapf-formats its text once
    per distinct content.

    mmengine's ``Runner`` asks for ``cfg.pretty_text`` in the environment
    log, the dumped config, ``RuntimeInfoHook`` and every checkpoint's
    ``meta`` (six times in a run with two checkpoints), and each call
    re-runs yapf over the whole config: about 0.1 s of CPU for a toy
    config, paid by every rank and every test that builds a runner. The
    text is cached under the config's content, so a changed config is
    formatted again.
    """

    @property
    def pretty_text(self) -> str:
        key = repr(self.to_dict())
        cached = self.__dict__.get('_pretty_text_cache')
        if cached is None or cached[0] != key:
            cached = (key, super().pretty_text)
            # Config.__setattr__ writes into the config's items
            object.__setattr__(self, '_pretty_text_cache', cached)
        return cached[1]

    @classmethod
    def of(cls, cfg: Config) -> 'FormatOnceConfig':
        """``cfg``'s content, file name and settings under this class (the
        two share the items)."""
        other = cls.__new__(cls)
        other.__dict__.update(cfg.__dict__)
        other.__dict__.pop('_pretty_text_cache', None)
        return other


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


def _copy_exists(path: str, new: str, patterns: Sequence[str]) -> bool:
    """Whether ``path``'s bytes equal ``new``'s or those of a file matching
    one of the glob ``patterns``."""
    with open(path, 'rb') as f:
        data = f.read()
    for other in [new] + [p for pattern in patterns
                          for p in sorted(glob.glob(pattern))]:
        if osp.abspath(other) == osp.abspath(path):
            continue
        with open(other, 'rb') as f:
            if f.read() == data:
                return True
    return False


def _free_path(path: str) -> str:
    """``path``, or where it exists ``<stem>.1<ext>``, ``<stem>.2<ext>``
    ...: never a file of another run."""
    stem, ext = osp.splitext(path)
    count = 0
    while osp.lexists(path):
        count += 1
        path = f'{stem}.{count}{ext}'
    return path


def _claim_log_dir(work_dir: str, timestamp: str) -> str:
    """Create ``work_dir/<timestamp>`` and return ``timestamp``; where that
    folder exists, the first free ``<timestamp>_<n>`` (n = 1, 2, ...).

    ``os.mkdir`` fails where the folder exists, also when two processes
    race for the name, so no two callers get the same folder. The names
    still sort by start time (up to 9 runs in one second).
    """
    name, count = timestamp, 0
    while True:
        try:
            os.mkdir(osp.join(work_dir, name))
            return name
        except FileExistsError:
            count += 1
            name = f'{timestamp}_{count}'


def check_train_batches(dataloader) -> None:
    """Explain a train dataloader that yields no batch per epoch.

    mmengine would go on to fail converting epoch-based schedulers with
    ``epoch_length must be a positive integer``, or train zero iterations.
    Infinite samplers fill batches across passes and are left alone.

    Raises:
        ValueError: the dataset is empty, or each rank's share is smaller
            than the batch and ``drop_last`` drops it.
    """
    try:
        num_batches = len(dataloader)
    except TypeError:  # an IterableDataset without a length
        return
    if num_batches > 0:
        return
    dataset = dataloader.dataset
    batch_sampler = getattr(dataloader, 'batch_sampler', None)
    sampler = getattr(batch_sampler, 'sampler', None) or getattr(
        dataloader, 'sampler', None)
    sampler = getattr(sampler, 'sampler', sampler)  # resume's SkipFirst
    size = len(dataset)
    name = type(dataset).__name__
    if size == 0:
        raise ValueError(
            f'train_dataloader: the dataset ({name}) is empty. Check its '
            'ann_file, data_root/data_prefix and any filter_cfg.')
    if isinstance(sampler, InfiniteSampler):
        return
    # the sampler's own count of ranks (DefaultSampler / DistributedSampler)
    world = getattr(sampler, 'world_size', None) or getattr(
        sampler, 'num_replicas', None) or get_world_size()
    try:
        per_rank = len(sampler)
    except TypeError:
        per_rank = math.ceil(size / world)
    batch_size = getattr(batch_sampler, 'batch_size', None) or getattr(
        dataloader, 'batch_size', None)
    drop_last = getattr(batch_sampler, 'drop_last',
                        getattr(dataloader, 'drop_last', None))
    share = f'split over {world} processes each gets {per_rank}, ' \
        if world > 1 else ''
    fewer = ', train on fewer processes' if world > 1 else ''
    raise ValueError(
        f'train_dataloader yields no batch: the dataset ({name}) has {size} '
        f'sample(s), {share}fewer than batch_size={batch_size}, and '
        f'drop_last={drop_last} drops the incomplete batch. Set '
        f'train_dataloader.batch_size to at most {per_rank}, set '
        f'train_dataloader.drop_last=False{fewer}, or add data.')


def check_optimizer_types(optim_wrapper: dict) -> None:
    """Raise :class:`~mmavcl.registry.UnknownTypeError` for an optimizer
    ``type`` the OPTIMIZERS registry does not hold.

    ``optim_wrapper`` is one wrapper config, or a dict of them (several
    optimizers built by a custom constructor).
    """
    from mmengine.registry import OPTIMIZERS as ROOT_OPTIMIZERS
    if 'optimizer' in optim_wrapper or 'type' in optim_wrapper:
        wrappers = {'optim_wrapper': optim_wrapper}
    else:
        wrappers = {f'optim_wrapper.{k}': v for k, v in optim_wrapper.items()
                    if isinstance(v, dict)}
    for path, wrapper in wrappers.items():
        optimizer = wrapper.get('optimizer')
        if not isinstance(optimizer, dict) or \
                not isinstance(optimizer.get('type'), str):
            continue
        # the lookup DefaultOptimWrapperConstructor makes
        with ROOT_OPTIMIZERS.switch_scope_and_registry(None) as registry:
            if registry.get(optimizer['type']) is not None:
                continue
            raise UnknownTypeError(
                optimizer['type'], f'{registry.scope}::{registry.name}',
                suggest_types(optimizer['type'], registry),
                [f'{path}.optimizer'])


def missing_engine_guarantees(train_loop, hooks: Sequence,
                              validates: bool) -> List[str]:
    """What a training run loses because its config names mmengine's engine
    types where mmavcl has its own.

    ``AVRunner`` builds the types a config names; this only reports.

    Args:
        train_loop: the built train loop.
        hooks: the runner's registered hooks.
        validates: whether the run validates during training.

    Returns:
        One line per missing guarantee, each naming the config line that
        restores it; empty when nothing is missing.
    """
    lines = []
    if not isinstance(train_loop,
                      (AVEpochBasedTrainLoop, AVIterBasedTrainLoop)):
        fix = 'AVIterBasedTrainLoop' if isinstance(
            train_loop, IterBasedTrainLoop) else 'AVEpochBasedTrainLoop'
        lines.append(
            f'train_cfg builds {type(train_loop).__name__}: resuming '
            'restarts the interrupted epoch (an iteration loop loads and '
            'drops every batch already trained on) and restores no RNG '
            f"state. Exact resume: train_cfg = dict(type='{fix}', ...) "
            '(same arguments).')
    if any(isinstance(h, CheckpointHook)
           and not isinstance(h, SafeCheckpointHook) for h in hooks):
        lines.append(
            "default_hooks.checkpoint builds mmengine's CheckpointHook: it "
            'deletes the oldest checkpoint before writing the new one (with '
            'max_keep_ckpts=1 a crash while saving leaves no checkpoint) '
            'and saves no per-rank resume state. Save-before-prune and '
            "exact resume: default_hooks.checkpoint = dict(type="
            "'SafeCheckpointHook', ...) (same arguments).")
    if any(isinstance(h, LoggerHook) and not isinstance(h, SafeLoggerHook)
           and getattr(h, 'out_dir', None) for h in hooks):
        lines.append(
            "default_hooks.logger builds mmengine's LoggerHook with an "
            'out_dir: the files it uploads there at the end of a run '
            '(vis_data/scalars.json, vis_data/config.py, the config dump) '
            'have the same keys in every run of this work dir name, so a '
            'resumed or later run overwrites the earlier one\'s. Per-run '
            "keys: default_hooks.logger = dict(type='SafeLoggerHook', ...) "
            '(same arguments).')
    if validates and not any(isinstance(h, ValRNGGuardHook) for h in hooks):
        lines.append(
            'validation runs without ValRNGGuardHook: its random draws '
            'shift the training random stream, so a run resumed after a '
            'validation is not exact. Add default_hooks.val_rng_guard = '
            "dict(type='ValRNGGuardHook').")
    return lines


@RUNNERS.register_module()
class AVRunner(Runner):
    """The runner every mmavcl config uses (``runner_type='mmavcl.AVRunner'``).

    Builds exactly the hooks and loops the config names (see the module
    docstring for where they are named) and adds, through public ``Runner``
    methods:

    * ``train()``, ``val()``, ``test()`` run mmengine's inside
      :func:`~mmavcl.registry.explain_unknown_types` (an unknown ``type``
      in a lazily built part names its key path; only here is the whole
      config at hand) and
      :func:`~mmavcl.datasets.video_dataset.naming_worker_files` (a
      DataLoader worker killed natively is reported with its file);
      ``train()`` also holds the work dir lock (:class:`WorkDirLock`).
    * ``from_cfg`` adapts ``launcher='pytorch'`` to CPU-only machines
      (:func:`adapt_cfg_to_cpu_distributed`); ``wrap_model`` reverts SyncBN
      there and converts to channels-last before DDP.
    * ``build_train_loop`` explains a loader without a batch and warns
      about :func:`missing_engine_guarantees`; ``build_optim_wrapper``
      names an unknown optimizer type.
    * ``setup_env`` gives the run a log dir no other run writes
      (``<timestamp>_<n>`` where ``<timestamp>`` is taken; rank 0 picks,
      all ranks agree).
    * ``dump_config`` keeps every run's config in its log dir;
      ``work_dir/<config name>.py`` (mmengine's dump) is written only by a
      ``train()`` that holds the work dir and passed the previous-run
      check, so a refused run leaves it, like every other file of the
      live or earlier run, as it was (``val()``/``test()`` write it only
      where there is none).
    * ``save_checkpoint`` writes atomically and adds the resume state when
      a checkpoint is saved outside ``SafeCheckpointHook``;
      ``load_checkpoint``/``resume``/``load_or_resume``/``call_hook``
      implement checkpoint trust, crash-safe auto-resume and the
      weights-only message hub.
    """

    def __init__(self, *args, **kwargs) -> None:
        # read before mmengine builds and wraps the model (see wrap_model)
        self._channels_last = _channels_last_hook(kwargs.get('custom_hooks'))
        # mmengine deep-copies the config, which keeps its class
        cfg = kwargs.get('cfg')
        if isinstance(cfg, Config):
            kwargs['cfg'] = FormatOnceConfig.of(cfg)
        elif isinstance(cfg, dict):
            kwargs['cfg'] = FormatOnceConfig(cfg)
        super().__init__(*args, **kwargs)
        self._log_media_env()
        self._check_compile_option()

    @classmethod
    def from_cfg(cls, cfg: ConfigType) -> 'AVRunner':
        cfg = copy.deepcopy(cfg)
        adapt_cfg_to_cpu_distributed(cfg)
        with explain_unknown_types(cfg):  # model, hooks, visualizer, ...
            return super().from_cfg(cfg)

    # Dataloaders, optimizers, schedulers, loops and evaluators are built
    # lazily inside these three; only here is the whole config at hand to
    # name the key path of an unknown type.
    # naming_worker_files: a DataLoader worker killed by a native crash is
    # reported with the file it was reading, not only its pid.
    def train(self) -> torch.nn.Module:
        with explain_unknown_types(self.cfg), naming_worker_files(), \
                self._work_dir_locked():
            return super().train()

    def val(self) -> dict:
        self._dump_config_if_none()
        with explain_unknown_types(self.cfg), naming_worker_files():
            return super().val()

    def test(self) -> dict:
        self._dump_config_if_none()
        with explain_unknown_types(self.cfg), naming_worker_files():
            return super().test()

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """mmengine's, with a ``NonFiniteLossGuardHook`` config in
        ``custom_hooks`` merged into the default one
        (:func:`merge_guard_cfgs`): one guard, the keys the custom config
        names over the default's."""
        default_hooks, custom_hooks, merged = merge_guard_cfgs(
            default_hooks, custom_hooks)
        if merged is not None:
            self.logger.info(
                'The NonFiniteLossGuardHook in custom_hooks is merged into '
                f'the default one (default_hooks): {merged}')
        super().register_hooks(default_hooks, custom_hooks)

    def register_default_hooks(
            self, hooks: Optional[Dict[str, Union[Hook, Dict]]] = None
    ) -> None:
        """mmengine's, where ``None`` also removes a default hook that
        mmengine does not know (``default_hooks=dict(data_report=None)``):
        mmengine 0.10 pops ``None`` only for its own six keys and asserts on
        any other."""
        if hooks is not None:
            hooks = {name: hook for name, hook in hooks.items()
                     if hook is not None or name in _MMENGINE_DEFAULT_HOOKS}
        super().register_default_hooks(hooks)

    def setup_env(self, env_cfg: Dict) -> None:
        """mmengine's, then a log dir of the run's own: rank 0 creates
        ``work_dir/<timestamp>/`` (``os.mkdir``, which fails where the
        folder exists) and, where an earlier run took that name (runs
        started in the same second: a job array, a retried launch), uses
        ``<timestamp>_1``, ``<timestamp>_2`` ... as the run's timestamp
        (its log dir, ``<timestamp>.log``, ``vis_data/<timestamp>.json``,
        the experiment name). Every rank takes rank 0's choice, as
        mmengine's timestamp itself is broadcast from rank 0.
        """
        super().setup_env(env_cfg)
        choice: list = [self._timestamp, None]
        if get_rank() == 0:
            try:
                choice[0] = _claim_log_dir(self._work_dir, self._timestamp)
            except OSError as err:  # reported on every rank, not a hang
                choice[1] = f'cannot create the log dir in ' \
                    f'{self._work_dir}: {err}'
        broadcast_object_list(choice)
        if choice[1] is not None:
            raise RuntimeError(choice[1])
        self._timestamp = choice[0]

    @master_only
    def dump_config(self) -> None:
        """Write the config into the run's log dir
        (``work_dir/<timestamp>/<config name>.py``), which no other run
        writes and ``SafeLoggerHook`` uploads with the logs.

        mmengine's dump to ``work_dir/<config name>.py`` (the latest run's
        config, where tools and users look for it) is left to the start of
        ``train()`` (:meth:`_dump_latest_config`, once the run holds the
        work dir lock and is not refused), and to ``val()``/``test()``
        where the work dir has none yet: mmengine writes it while the
        runner is built, so a run then refused (another live run, an
        earlier run's checkpoints) or a ``tools/test.py`` beside a live
        run replaced the training run's.
        """
        self.cfg.dump(self._own_config_path())

    def _own_config_path(self) -> str:
        name = osp.basename(self.cfg.filename) if self.cfg.filename \
            else f'{self.timestamp}.py'
        return osp.join(self.log_dir, name)

    def _dump_latest_config(self) -> None:
        """Copy this run's config to ``work_dir/<config name>.py`` (rank 0,
        with the work dir lock held, from ``train()``).

        A dump there that no log dir holds a copy of (written by mmengine
        or an older mmavcl) and that differs from this run's is moved into
        ``superseded_<timestamp>/`` first.
        """
        own = self._own_config_path()
        name = osp.basename(own)
        latest = osp.join(self.work_dir, name)
        if osp.isfile(latest) and not _copy_exists(latest, own, [
                osp.join(self.work_dir, '*', name),
                osp.join(self.work_dir, '*', 'vis_data', 'config.py')]):
            aside = _free_path(osp.join(
                self.work_dir, f'superseded_{self.timestamp}', name))
            os.makedirs(osp.dirname(aside), exist_ok=True)
            os.rename(latest, aside)
            self.logger.warning(
                f'{latest}, the config of an earlier run in this work dir, '
                f'differs from this run\'s and has no copy in a log dir: '
                f'moved to {aside}.')
        # a complete file or none under the name, also if killed here
        with atomic_path(latest) as tmp:
            shutil.copyfile(own, tmp)

    @master_only
    def _dump_config_if_none(self) -> None:
        """``val()``/``test()``: write ``work_dir/<config name>.py`` only
        where no run has (``O_EXCL``): it stays the training run's, live
        or finished, and an evaluation-only work dir still gets one."""
        own = self._own_config_path()
        latest = osp.join(self.work_dir, osp.basename(own))
        try:
            fd = os.open(latest, os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, 'wb') as dst, open(own, 'rb') as src:
            shutil.copyfileobj(src, dst)

    def _log_media_env(self) -> None:
        """Log the media/audio library versions next to mmengine's report
        (decoding problems depend on them more than on anything there)."""
        from mmavcl.utils.collect_env import collect_env
        env = collect_env()
        keys = ('mmcv', 'decord', 'av', 'torchaudio', 'kornia', 'mmaction',
                'mmavcl')
        self.logger.info('Media/audio environment:\n    ' + '\n    '.join(
            f'{k}: {env[k]}' for k in keys))

    def _check_compile_option(self) -> None:
        """``compile`` is mmengine's option (whole ``train_step``); say so
        where a config may expect mmavcl's backbone compilation.

        Raises:
            ValueError: ``compile=dict(modules=...)``, the key of mmavcl's
                former ``compile`` handling, which ``torch.compile`` would
                reject only once training starts.
        """
        compile_cfg = self.cfg.get('compile', None)
        if not compile_cfg:
            return
        if isinstance(compile_cfg, dict) and 'modules' in compile_cfg:
            raise ValueError(
                f'compile={dict(compile_cfg)}: `compile` is mmengine\'s '
                'option and compiles the whole train_step; to compile '
                'chosen modules use default_hooks.compile = dict('
                "type='TorchCompileHook', modules=..., backend=...) "
                '(tools/train.py --compile adds it).')
        self.logger.warning(
            f'compile={compile_cfg}: mmengine compiles the whole train_step, '
            'data preprocessor included, which fails on device-side kornia '
            'augmentation (ColorJitter). default_hooks.compile = dict('
            "type='TorchCompileHook') (tools/train.py --compile) compiles "
            'the backbones only.')

    def own_checkpoint_dirs(self) -> List[str]:
        """The directories this run writes checkpoints to: the work dir,
        and ``<out_dir>/<work dir name>`` when the checkpoint hook sets
        ``out_dir`` (local paths only).

        Resume trusts these and no other directory, and auto-resume only
        considers checkpoints inside them.
        """
        if getattr(self, '_own_ckpt_dirs', None) is None:
            dirs = [self.work_dir]
            for hook in self.hooks:
                out = getattr(hook, 'out_dir', None) \
                    if isinstance(hook, CheckpointHook) else None
                if not out or '://' in str(out):
                    continue
                # CheckpointHook.before_train appends the work dir's name;
                # this runs before it (resume happens first), so the hook
                # still holds the configured value.
                out = osp.abspath(str(out))
                if out != self.work_dir:
                    out = osp.join(
                        out, osp.basename(self.work_dir.rstrip(osp.sep)))
                dirs.append(out)
            self._own_ckpt_dirs = list(dict.fromkeys(dirs))
        return self._own_ckpt_dirs

    def remote_checkpoint_dirs(self) -> List[Tuple[str, Optional[dict]]]:
        """The object-store "folders" this run writes checkpoints to
        (``<out_dir>/<work dir name>`` of a checkpoint hook whose
        ``out_dir`` is a URI), each with the hook's ``backend_args``."""
        if getattr(self, '_remote_ckpt_dirs', None) is None:
            name = osp.basename(self.work_dir.rstrip(osp.sep))
            self._remote_ckpt_dirs = [
                # the work dir's name is appended by CheckpointHook's
                # before_train, after this first runs (as in
                # own_checkpoint_dirs)
                (f'{str(hook.out_dir).rstrip("/")}/{name}',
                 getattr(hook, 'backend_args', None))
                for hook in self.hooks if isinstance(hook, CheckpointHook)
                and '://' in str(getattr(hook, 'out_dir', None) or '')
            ]
        return self._remote_ckpt_dirs

    @contextlib.contextmanager
    def _work_dir_locked(self) -> Iterator[None]:
        """Hold the work dir's lock (rank 0) for the block.

        Rank 0 tells every rank whether it got the lock, so a refused run
        fails on all ranks instead of leaving the others waiting in the
        first collective. With the lock held, nobody else can be saving into
        the run's checkpoint directories, so the temporary files of an
        earlier, killed save can go.
        """
        lock = WorkDirLock(self.work_dir)
        outcome: list = [None]
        local_error: Optional[BaseException] = None
        locked = False
        if get_rank() == 0:
            try:
                locked = lock.acquire()
                self._keep_previous_run()
                # only now: a refused run leaves the live or earlier run's
                # dump as it was
                self._dump_latest_config()
            except Exception as err:  # noqa: B902 (reported on every rank)
                lock.release()
                local_error = err
                outcome[0] = str(err)
        broadcast_object_list(outcome)
        if local_error is not None:
            raise local_error
        if outcome[0] is not None:
            raise RuntimeError(f'rank 0 could not start: {outcome[0]}')
        try:
            if locked:
                removed = remove_stale_temp_files(self.own_checkpoint_dirs())
                if removed:
                    self.logger.warning(
                        f'Removed {len(removed)} temporary file(s) left by '
                        f'an interrupted checkpoint save: {removed}')
            yield
        finally:
            lock.release()

    def _keep_previous_run(self) -> None:
        """Refuse to start a new run (no ``resume``) over the checkpoints of
        an earlier one, which it would overwrite (``iter_4.pth`` ...) or
        repoint (``last_checkpoint``); with ``start_over=True`` in the
        config (``tools/train.py --start-over``) move them aside instead,
        into ``superseded_<time>/`` next to them.

        Raises:
            PreviousRunError: naming the work dir, the files and the ways
                on.
        """
        if self._resume:
            return
        local = self.own_checkpoint_dirs()
        remote = self.remote_checkpoint_dirs()
        found = previous_run_files(local, remote)
        if not found:
            return
        if not self.cfg.get('start_over', False):
            shown = ', '.join(found[:6]) + (
                f' and {len(found) - 6} more' if len(found) > 6 else '')
            raise PreviousRunError(
                f'work dir {self.work_dir} holds the checkpoints of an '
                f'earlier run ({shown}). A new run without resume would '
                'overwrite them and repoint last_checkpoint. Continue that '
                'run with --resume (resume=True), give this one another '
                '--work-dir, or start over here with --start-over '
                '(start_over=True in the config, e.g. --cfg-options '
                'start_over=True for tools other than mmavcl\'s): the old '
                'files are then moved into superseded_<time>/ next to '
                'them, not deleted.')
        folder = f'superseded_{self.timestamp}'
        moved = move_aside(previous_run_files(local), folder)
        for out_dir, backend_args in remote:
            moved += move_aside(previous_run_files((), [(out_dir,
                                                         backend_args)]),
                                folder, backend_args)
        self.logger.warning(
            f'start_over=True: moved the {len(moved)} checkpoint file(s) of '
            f'the earlier run in {self.work_dir} aside: {moved}')

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: torch.nn.Module):
        if self.distributed and not torch.cuda.is_available():
            model = revert_sync_batchnorm(model)
        if self._channels_last is not None:
            convert_to_channels_last(model, **self._channels_last)
        return super().wrap_model(model_wrapper_cfg, model)

    def build_train_loop(self, loop):
        if isinstance(loop, dict):
            self._hand_train_data_to_report_hook()
        loop = super().build_train_loop(loop)
        dataloader = getattr(loop, 'dataloader', None)
        if dataloader is not None:
            check_train_batches(dataloader)
        # A warning, not an error: mmengine's types run correctly, they
        # only lack these guarantees, and configs from other OpenMMLab
        # projects name them. Not a silent swap either: what runs is what
        # the config says.
        missing = missing_engine_guarantees(loop, self.hooks,
                                            self._val_loop is not None)
        if missing:
            self.logger.warning(
                'This run uses mmengine types where mmavcl has its own, so '
                'it lacks:\n  - ' + '\n  - '.join(missing))
        return loop

    def _hand_train_data_to_report_hook(self) -> None:
        """Build the train dataloader as the loop would, and hand its
        dataset to the reporting ``DataReportHook`` before the loop exists:
        ``IterBasedTrainLoop.__init__`` starts the DataLoader workers, and
        what the hook sets on the dataset after that (in ``before_train``)
        reaches no worker."""
        hook = reporting_hook(self.hooks)
        if hook is None or self._train_dataloader is None:
            return
        if isinstance(self._train_dataloader, dict):
            # the arguments BaseLoop.__init__ builds it with
            self._train_dataloader = self.build_dataloader(
                self._train_dataloader, seed=self.seed,
                diff_rank_seed=self._randomness_cfg.get(
                    'diff_rank_seed', False))
        hook.take_over(self._train_dataloader.dataset)

    def build_optim_wrapper(self, optim_wrapper):
        # mmengine's DefaultOptimWrapperConstructor looks the optimizer up
        # with a bare `get` and then fails in inspect.signature(None) with
        # "None is not a callable object"; name the key instead.
        if isinstance(optim_wrapper, dict):
            check_optimizer_types(optim_wrapper)
        return super().build_optim_wrapper(optim_wrapper)

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        meta: Optional[dict] = None, **kwargs) -> None:
        """mmengine's ``save_checkpoint``, written atomically.

        The checkpoint goes to a hidden temporary file in ``out_dir`` which
        is fsync'ed and renamed over ``filename`` (:func:`atomic_path`), so
        a crash never leaves a truncated file under a checkpoint name.
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
        with atomic_path(osp.join(out_dir, filename)) as tmp:
            super().save_checkpoint(out_dir, osp.basename(tmp), *args,
                                    meta=meta, **kwargs)

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
        meta = checkpoint.get('meta')
        if isinstance(meta, dict) and 'config' in meta:
            # mmengine's resume() hands meta['config'] to
            # Config.fromstring(..., '.py'), which *executes* it: code
            # inside a file that loaded weights-only. mmengine itself writes
            # the config under 'cfg', so only crafted or ancient files have
            # it; the GPU-count check it fed is lost with it.
            meta.pop('config')
            self.logger.warning(
                f'{filename}: ignoring meta["config"]; mmengine would run it '
                'as Python code on resume.')
        self._loaded_meta = meta if isinstance(meta, dict) else {}
        return checkpoint

    def resume(self, filename: str, *args, **kwargs) -> None:
        # Checkpoints written by AVRunner load weights-only, so resuming
        # needs no trust. Full unpickling (a plain-mmengine checkpoint's
        # HistoryBuffers) is allowed for files inside this run's own
        # checkpoint directories only: a file named from elsewhere
        # (`--resume PATH`, `load_from` + `resume=True`) gets the same
        # weights-only treatment as pretrained weights.
        with trusted_checkpoints(*self.own_checkpoint_dirs()):
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
                choice[0] = newest_remote_checkpoint(
                    self.remote_checkpoint_dirs()) or \
                    find_resumable_checkpoint(
                        self.work_dir, self.own_checkpoint_dirs()[1:])
            except (RuntimeError, OSError) as err:
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
