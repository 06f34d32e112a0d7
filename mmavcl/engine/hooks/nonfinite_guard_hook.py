"""Stop or skip when a loss term becomes NaN or Inf.

Design: mmengine hooks run *after* ``model.train_step``, which has already
called ``optim_wrapper.update_params(loss)``; a hook alone sees the NaN only
once the weights are corrupted. So the hook installs a
:class:`NonFiniteLossGuard` on the optim wrapper(s) in ``before_train``: it
wraps that instance's ``update_params`` and refuses the optimizer step when
the loss is not finite. Wrapping the instance (not subclassing) makes it work
with whatever wrapper the config or ``--amp`` chose (``OptimWrapper``,
``AmpOptimWrapper``, ``AutocastOptimWrapper``, the members of an
``OptimWrapperDict``) and needs no change to algorithms.

On a non-finite loss the guard still runs ``backward`` and then drops the
gradients instead of stepping: under DDP every rank must take part in the
gradient all-reduce of every iteration, and the gradient-accumulation
counter must advance. The verdict is all-reduced (max) across ranks so that
all ranks skip together. With gradient accumulation the whole accumulation
window is dropped (its gradients are polluted). AMP's dynamic loss scaler is
left untouched: overflowing *gradients* are its job, the guard only looks at
the (unscaled) loss.
"""
import math
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmavcl.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """Training stopped because a loss term was NaN or Inf."""


class NonFiniteLossGuard:
    """Refuses optimizer steps on non-finite losses for one ``OptimWrapper``.

    Args:
        optim_wrapper (OptimWrapper): the wrapper to guard (in place).
    """

    def __init__(self, optim_wrapper: OptimWrapper) -> None:
        self.optim_wrapper = optim_wrapper
        self._update_params = optim_wrapper.update_params
        self.last_nonfinite = False  # verdict of the latest call
        self.num_skipped = 0
        self._polluted = False  # accumulation window holds bad gradients
        optim_wrapper.update_params = self.update_params

    def uninstall(self) -> None:
        if self.optim_wrapper.__dict__.get('update_params') == \
                self.update_params:
            del self.optim_wrapper.update_params

    @staticmethod
    def _nonfinite(loss: torch.Tensor) -> bool:
        bad = (~torch.isfinite(loss.detach())).any().float().reshape(1)
        if dist.is_available() and dist.is_initialized() and \
                dist.get_world_size() > 1:
            dist.all_reduce(bad, op=dist.ReduceOp.MAX)
        return bool(bad.item() > 0)

    def update_params(self, loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        self.last_nonfinite = self._nonfinite(loss)
        if self.last_nonfinite:
            self._polluted = True
            self.num_skipped += 1
        if not self._polluted:
            return self._update_params(loss, step_kwargs, zero_kwargs)
        ow = self.optim_wrapper
        ow.backward(ow.scale_loss(loss))
        if ow.should_update():
            ow.zero_grad(**(zero_kwargs or {}))
            self._polluted = False


@HOOKS.register_module()
class NonFiniteLossGuardHook(Hook):
    """Detect NaN/Inf loss terms; stop the run or skip the step.

    Every loss term in the train step's outputs (keys containing ``loss``)
    and the total are checked. On a non-finite value the iteration and every
    term are logged, and:

    * ``action='stop'``: the optimizer step has been refused (weights in
      memory are still those of the previous step) and
      :class:`NonFiniteLossError` is raised *before* the checkpoint hook of
      this iteration runs, so the last good checkpoint on disk is never
      overwritten with a broken model. The run exits with an error.
    * ``action='skip'``: the optimizer step is refused and training goes on;
      after ``max_consecutive_skips`` bad iterations in a row the run stops
      as with ``'stop'`` (a model that only produces NaN is not training).
      The forward pass of the bad iteration may already have written into
      the model's state (a feature queue receiving NaN keys, BN running
      statistics, a momentum encoder): with ``restore_state=True`` every
      buffer and every parameter that needs no gradient is copied before
      each iteration and put back when the step is skipped, so a skipped
      iteration leaves the model exactly as it was. The copy costs the
      memory of those tensors once (e.g. 32 MB for a 65536 x 128 queue).

    Either way the message names the files of the batch (this rank's): the
    ``filename`` (else ``video_id``) metainfo of its data samples.

    ``configs/_base_/default_runtime.py`` turns the guard on for every
    config (``default_hooks.nonfinite_guard``, ``action='stop'``). When
    several guards are registered (that one and one from ``custom_hooks``)
    only the last registered acts: the custom one, since mmengine registers
    custom hooks after the default ones.

    Args:
        action (str): ``'stop'``, ``'skip'`` or ``'off'`` (do nothing: how a
            config turns the default guard off, since mmengine 0.10 refuses
            ``None`` for default hooks it does not know). Defaults to
            ``'stop'``.
        max_consecutive_skips (int): limit for ``'skip'``. Defaults to 20.
        restore_state (bool): with ``'skip'``, undo the bad iteration's
            writes to buffers and non-trainable parameters. Defaults to True.
    """

    # Above the default NORMAL hooks and far above CheckpointHook
    # (VERY_LOW): runs first in after_train_iter.
    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'stop',
                 max_consecutive_skips: int = 20,
                 restore_state: bool = True) -> None:
        if action not in ('stop', 'skip', 'off'):
            raise ValueError(
                "NonFiniteLossGuardHook: action must be 'stop' or 'skip' "
                f"(or 'off': no guard), got {action!r}")
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.restore_state = restore_state and action == 'skip'
        self._snapshot: Dict[str, torch.Tensor] = {}
        self.guards: List[NonFiniteLossGuard] = []
        self.consecutive = 0
        self.num_skipped = 0
        self.active = action != 'off'

    def before_train(self, runner) -> None:
        guards = [h for h in runner.hooks
                  if isinstance(h, NonFiniteLossGuardHook)]
        # two guards would each wrap update_params, and the default 'stop'
        # would overrule a config's own 'skip'
        self.active = self.action != 'off' and guards[-1] is self
        self.guards = []
        if not self.active:
            return
        ow = runner.optim_wrapper
        wrappers = ow.values() if isinstance(ow, OptimWrapperDict) else [ow]
        self.guards = [NonFiniteLossGuard(w) for w in wrappers]

    def after_train(self, runner) -> None:
        for g in self.guards:
            g.uninstall()
        if self.num_skipped:
            runner.logger.warning(
                f'NonFiniteLossGuardHook: {self.num_skipped} optimizer '
                'step(s) were skipped because of non-finite losses.')

    @staticmethod
    def _forward_state(runner) -> Dict[str, torch.Tensor]:
        """Buffers and no-grad parameters: what a forward pass may write."""
        model = getattr(runner.model, 'module', runner.model)
        return {
            k: v for k, v in model.state_dict(keep_vars=True).items()
            if not (isinstance(v, torch.nn.Parameter) and v.requires_grad)
        }

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self.restore_state and self.active:
            with torch.no_grad():
                for k, v in self._forward_state(runner).items():
                    if k in self._snapshot and \
                            self._snapshot[k].shape == v.shape:
                        self._snapshot[k].copy_(v)  # reuse the memory
                    else:
                        self._snapshot[k] = v.detach().clone()

    def _restore(self, runner) -> None:
        with torch.no_grad():
            for k, v in self._forward_state(runner).items():
                if k in self._snapshot:
                    v.copy_(self._snapshot[k])

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.active:
            return
        terms = {k: float(v.detach()) if isinstance(v, torch.Tensor) else
                 float(v) for k, v in (outputs or {}).items()
                 if 'loss' in k and _is_number(v)}
        refused = any(g.last_nonfinite for g in self.guards)
        for g in self.guards:
            g.last_nonfinite = False
        bad = [k for k, v in terms.items() if not math.isfinite(v)]
        if not refused and not bad:
            self.consecutive = 0
            return
        it = runner.iter + 1
        detail = ', '.join(f'{k}={v}' for k, v in terms.items())
        where = (f'iteration {it} (epoch {runner.epoch + 1}, batch '
                 f'{batch_idx + 1})')
        what = ('non-finite loss on another rank' if not bad else
                'non-finite loss term(s) ' + ', '.join(bad))
        files = _batch_files(data_batch)
        if files:
            shown = ', '.join(files[:8]) + (
                f' and {len(files) - 8} more' if len(files) > 8 else '')
            where += f' on a batch of {len(files)} file(s): {shown}'
        self.consecutive += 1
        if self.action == 'skip' and \
                self.consecutive <= self.max_consecutive_skips:
            self.num_skipped += 1
            if self.restore_state:
                self._restore(runner)
            runner.logger.warning(
                f'{what} at {where}; optimizer step skipped '
                f'({self.consecutive} in a row). Terms: {detail}')
            return
        reason = '' if self.action == 'stop' else \
            f' ({self.consecutive} consecutive bad iterations)'
        runner.logger.error(
            f'{what} at {where}{reason}; stopping. Terms: {detail}. The '
            'optimizer step was not applied and no checkpoint is written '
            'for this iteration; resume from the last checkpoint with a '
            'lower learning rate or after fixing the data.')
        raise NonFiniteLossError(
            f'{what} at {where}{reason}. Terms: {detail}')


def _batch_files(data_batch) -> List[str]:
    """The distinct ``filename`` (else ``video_id``) metainfo of the data
    samples of ``data_batch``, in batch order; [] for batches without
    data samples."""
    samples = data_batch.get('data_samples') \
        if isinstance(data_batch, dict) else None
    if samples is None:
        return []
    if not isinstance(samples, (list, tuple)):
        samples = [samples]
    names: List[str] = []
    for sample in samples:
        meta = getattr(sample, 'metainfo', sample)
        if not isinstance(meta, dict):
            continue
        name = meta.get('filename') or meta.get('video_id')
        if name and str(name) not in names:
            names.append(str(name))
    return names


def _is_number(v) -> bool:
    if isinstance(v, torch.Tensor):
        return v.numel() == 1
    return isinstance(v, (int, float))
