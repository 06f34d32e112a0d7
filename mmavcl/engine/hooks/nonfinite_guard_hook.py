"""Stop or skip when a loss term or the gradient norm goes bad.

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
window is dropped (its gradients are polluted).

A finite loss can still have an exploding gradient, and the step it takes
ruins the weights before any loss turns NaN. So the guard also wraps the
instance's ``step``, which ``update_params`` calls only when an update is
due: it computes the total gradient norm (one reduction over all gradients,
``torch.nn.utils.get_total_norm``) and refuses the step when the norm is not
finite or exceeds ``max_grad_norm``; ``update_params`` then zeroes the
gradients as after any step. With an enabled loss scaler (``AmpOptimWrapper``)
the gradients are still scaled at that point: the norm is divided by the
scale, and a non-finite *scaled* norm is left to the scaler, whose own step
skips it and lowers the scale (that is how dynamic loss scaling probes for
the largest safe scale); without a threshold (``max_grad_norm``,
``max_grad_norm_ratio``) the check is then not run at all.

A fixed ``max_grad_norm`` needs the scale of a sane norm, which depends on
the model, the loss and the batch. ``max_grad_norm_ratio`` needs none: it
refuses a norm above that many times the median norm of the latest applied
steps (``grad_norm_window`` of them, once ``grad_norm_warmup`` steps have
been applied). The median, not the mean or the maximum, so that one large
but accepted step does not raise the reference for the next ``window``
steps. The history is the guard's own and travels in the checkpoint
(``NonFiniteLossGuardHook.before_save_checkpoint``), so that a resumed run
compares against the steps before the resume instead of warming up again.

With ``clip_grad=dict(max_norm=...)`` (clipping by the 2-norm) the wrapper's
``clip_grad_norm_`` would compute the same norm again right after the
check. The guard hands it the norm it has just computed instead (it swaps
the instance's ``clip_func`` for one that clips with a given norm,
``torch.nn.utils.clip_grads_with_norm_``), so an applied step reduces the
gradients once; ``clip_grad_norm_`` itself is that reduction followed by
that clipping, so the gradients and the logged norm are the same. Not
folded, each computing its own: another ``norm_type`` (the guard's norm is
the 2-norm), and an enabled loss scaler, whose ``unscale_`` runs between
the check (on the scaled gradients) and the clipping (on the unscaled
ones).
"""
import functools
import math
import statistics
from collections import deque
from typing import Dict, Iterable, List, Optional, Tuple

import torch
import torch.distributed as dist
from mmengine.dist import all_gather_object, get_world_size
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapper, OptimWrapperDict

from mmavcl.registry import HOOKS
from .data_report_hook import _listed


class NonFiniteLossError(RuntimeError):
    """Training stopped because a loss term was NaN or Inf."""


class ExplodingGradientError(NonFiniteLossError):
    """Training stopped because the gradient norm was NaN, Inf, above
    ``max_grad_norm`` or above ``max_grad_norm_ratio`` times the median of
    the latest steps (a subclass, so handlers of
    :class:`NonFiniteLossError` catch it too)."""


def _any_rank(bad: torch.Tensor) -> torch.Tensor:
    """``bad`` (a float flag tensor) max-reduced over the ranks, in place,
    so that every rank takes the same decision."""
    if dist.is_available() and dist.is_initialized() and \
            dist.get_world_size() > 1:
        dist.all_reduce(bad, op=dist.ReduceOp.MAX)
    return bad


class NonFiniteLossGuard:
    """Refuses optimizer steps on non-finite losses and, before the step,
    on non-finite (or too large) gradient norms, for one ``OptimWrapper``.

    Args:
        optim_wrapper (OptimWrapper): the wrapper to guard (in place).
        param_names (dict, optional): ``id(parameter) -> name`` used to
            name the modules with the largest gradients.
        check_grad_norm (bool): check the total gradient norm before each
            step. Defaults to True.
        max_grad_norm (float, optional): refuse steps whose (unscaled)
            total gradient norm exceeds it. Defaults to None (only
            non-finite norms are refused).
        max_grad_norm_ratio (float, optional): refuse steps whose norm
            exceeds this many times the median norm of the latest
            ``grad_norm_window`` applied steps, once ``grad_norm_warmup``
            steps have been applied. Defaults to None (no relative check).
        grad_norm_window (int): how many applied steps' norms are kept.
            Defaults to 100.
        grad_norm_warmup (int): applied steps before the relative check
            starts. Defaults to 20.
        norm_history (Iterable[float], optional): norms of earlier applied
            steps, oldest first (from a checkpoint, on resume).
    """

    def __init__(self, optim_wrapper: OptimWrapper,
                 param_names: Optional[Dict[int, str]] = None,
                 check_grad_norm: bool = True,
                 max_grad_norm: Optional[float] = None,
                 max_grad_norm_ratio: Optional[float] = None,
                 grad_norm_window: int = 100,
                 grad_norm_warmup: int = 20,
                 norm_history: Optional[Iterable[float]] = None) -> None:
        self.optim_wrapper = optim_wrapper
        self.param_names = param_names or {}
        self.max_grad_norm = max_grad_norm
        # without the plain norm check there is no relative one either
        self.max_grad_norm_ratio = max_grad_norm_ratio \
            if check_grad_norm or max_grad_norm is not None else None
        self.grad_norm_warmup = grad_norm_warmup
        self._update_params = optim_wrapper.update_params
        self._step = optim_wrapper.step
        # (parameters, the 2-norm of their gradients) of this step, for the
        # wrapper's clipping
        self._clip_norm: Optional[Tuple[List[torch.nn.Parameter],
                                        torch.Tensor]] = None
        self.last_nonfinite = False  # verdict of the latest call
        # (total norm, [(module, norm), ...], why) of the latest refused
        # step
        self.last_bad_grad: Optional[Tuple[float, List[Tuple[str, float]],
                                           str]] = None
        # total gradient norms of the latest applied steps, oldest first:
        # the reference of the relative check, and a NaN loss right after a
        # huge one shows which step broke the weights. Kept (and saved in
        # checkpoints) without a ratio too, so that a run resumed with one
        # has its reference at once.
        self.norm_history: deque = deque(norm_history or (),
                                         maxlen=max(3, grad_norm_window))
        self.num_skipped = 0
        self._polluted = False  # accumulation window holds bad gradients
        # what the instance held before (a parameter scheduler wraps ``step``
        # in a counter on the instance), put back by ``uninstall``
        self._replaced: Dict[str, tuple] = {}
        self._install('update_params', self.update_params)
        if check_grad_norm or max_grad_norm is not None:
            # keeps the attributes of the wrapped step (the scheduler's
            # ``_with_counter`` mark, whose absence makes it warn)
            @functools.wraps(self._step)
            def guarded_step(**kwargs):
                return self.step(**kwargs)

            self._install('step', guarded_step)
            if getattr(optim_wrapper, 'clip_func', None) is \
                    torch.nn.utils.clip_grad_norm_:
                self._install('clip_func', self._clip_grad_norm)

    @property
    def recent_norms(self) -> List[float]:
        """The norms of the last three applied steps, oldest first."""
        return list(self.norm_history)[-3:]

    def reference_norm(self) -> Optional[float]:
        """The median norm of the latest applied steps that the relative
        check compares with; None while it is off (no ratio, warm-up, or
        a zero median: gradients that were all zero give no scale)."""
        if self.max_grad_norm_ratio is None or \
                len(self.norm_history) < max(1, self.grad_norm_warmup):
            return None
        return statistics.median(self.norm_history) or None

    def _install(self, name: str, method) -> None:
        self._replaced[name] = (self.optim_wrapper.__dict__.get(name),
                                method)
        setattr(self.optim_wrapper, name, method)

    def uninstall(self) -> None:
        for name, (previous, method) in self._replaced.items():
            if self.optim_wrapper.__dict__.get(name) is not method:
                continue  # replaced again since: not ours to undo
            if previous is None:
                delattr(self.optim_wrapper, name)
            else:
                setattr(self.optim_wrapper, name, previous)

    @staticmethod
    def _nonfinite(loss: torch.Tensor) -> bool:
        bad = (~torch.isfinite(loss.detach())).any().float().reshape(1)
        return bool(_any_rank(bad).item() > 0)

    def _grads(self) -> List[Tuple[torch.nn.Parameter, torch.Tensor]]:
        return [(p, p.grad.detach())
                for group in self.optim_wrapper.optimizer.param_groups
                for p in group['params'] if p.grad is not None]

    def _loss_scale(self) -> Optional[float]:
        """The factor the gradients are multiplied by before the step: the
        loss scaler's scale (``AmpOptimWrapper``), else None."""
        scaler = getattr(self.optim_wrapper, 'loss_scaler', None)
        if scaler is None or not scaler.is_enabled():
            return None
        return float(scaler.get_scale())

    def step(self, **kwargs) -> None:
        """The wrapper's ``step``, refused when the gradient norm is bad
        (``update_params`` zeroes the gradients next either way)."""
        grads = self._grads()
        scale = self._loss_scale()
        if not grads or (scale is not None and self.max_grad_norm is None
                         and self.max_grad_norm_ratio is None):
            return self._step(**kwargs)
        clip = self._foldable_clip(grads, scale)
        norm = torch.nn.utils.get_total_norm(
            [g for _, g in grads],
            foreach=None if clip is None else clip.get('foreach'))
        finite = torch.isfinite(norm)
        if scale is not None:
            if not bool(finite):
                # an overflow of the scaled gradients: the scaler's step
                # skips it and lowers the scale
                return self._step(**kwargs)
            norm = norm / scale
        limit = math.inf if self.max_grad_norm is None else \
            self.max_grad_norm
        reference = self.reference_norm()
        if reference is not None:
            limit = min(limit, self.max_grad_norm_ratio * reference)
        bad = _any_rank(((~finite) | (norm > limit)).float().reshape(1))
        bad, value = torch.cat([bad, norm.reshape(1).to(bad)]).tolist()
        if not self.optim_wrapper.clip_grad_kwargs:  # else clipping logs it
            self.optim_wrapper.message_hub.update_scalar(
                'train/grad_norm', value)
        if bad == 0:
            self.norm_history.append(value)
            # refused steps never get here, so the clipping only ever
            # receives a finite norm (error_if_nonfinite cannot apply)
            if clip is not None:
                self._clip_norm = ([p for p, _ in grads], norm)
            try:
                return self._step(**kwargs)
            finally:
                self._clip_norm = None
        self.last_bad_grad = (value,
                              self._largest_gradients(grads, scale or 1.0),
                              self._why(value, reference))

    def _why(self, norm: float, reference: Optional[float]) -> str:
        """Why a step with this (local) norm was refused: 'non-finite
        gradient norm inf', 'gradient norm 2e+08 above max_grad_norm=1000'
        or 'gradient norm 7e+04 (8e+04 x the median 0.87 of the last 100
        applied steps) above max_grad_norm_ratio=1000'."""
        if not math.isfinite(norm):
            return f'non-finite gradient norm {norm}'
        if self.max_grad_norm is not None and norm > self.max_grad_norm:
            return (f'gradient norm {norm:.3g} above '
                    f'max_grad_norm={self.max_grad_norm:g}')
        if reference is not None and \
                norm > self.max_grad_norm_ratio * reference:
            ratio = self.max_grad_norm_ratio
            return (f'gradient norm {norm:.3g} ({norm / reference:.3g} x '
                    f'the median {reference:.3g} of the last '
                    f'{len(self.norm_history)} applied steps) above '
                    f'max_grad_norm_ratio={ratio:g}')
        # the verdicts are all-reduced: this rank's own norm passed
        return f'gradient norm {norm:.3g} refused on another rank'

    def _foldable_clip(self, grads, scale: Optional[float]) -> Optional[Dict]:
        """The wrapper's ``clip_grad_norm_`` arguments when the norm the
        guard computes is the one that clipping computes: the 2-norm of the
        same gradients, not scaled; else None."""
        if scale is not None or 'clip_func' not in self._replaced:
            return None
        clip = self.optim_wrapper.clip_grad_kwargs
        # mmengine clips only parameters that require a gradient
        if float(clip.get('norm_type', 2.0)) != 2.0 or \
                not all(p.requires_grad for p, _ in grads):
            return None
        return clip

    def _clip_grad_norm(self, parameters, max_norm: float,
                        norm_type: float = 2.0,
                        error_if_nonfinite: bool = False,
                        foreach: Optional[bool] = None) -> torch.Tensor:
        """``torch.nn.utils.clip_grad_norm_`` for the wrapper's
        ``clip_func``, with the norm :meth:`step` has just computed when
        there is one for these parameters (``clip_grad_norm_`` is
        ``get_total_norm`` followed by ``clip_grads_with_norm_``)."""
        known, self._clip_norm = self._clip_norm, None
        parameters = list(parameters)
        if known is None or len(known[0]) != len(parameters) or any(
                p is not q for p, q in zip(known[0], parameters)):
            return torch.nn.utils.clip_grad_norm_(
                parameters, max_norm, norm_type, error_if_nonfinite, foreach)
        torch.nn.utils.clip_grads_with_norm_(parameters, max_norm, known[1],
                                             foreach)
        return known[1]

    def _largest_gradients(self, grads, scale: float,
                           top: int = 5) -> List[Tuple[str, float]]:
        """The ``top`` modules by the (unscaled) norm of their parameters'
        gradients, in float64 so that they show where a float32 total
        overflowed."""
        squares: Dict[str, float] = {}
        for i, (param, grad) in enumerate(grads):
            name = self.param_names.get(id(param), f'param{i}')
            module = name.rpartition('.')[0] or name
            norm = float(grad.double().norm()) / scale
            squares[module] = squares.get(module, 0.0) + norm * norm
        norms = [(m, math.sqrt(v)) for m, v in squares.items()]
        norms.sort(key=lambda mv: math.inf if math.isnan(mv[1]) else mv[1],
                   reverse=True)
        return norms[:top]

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
    """Detect NaN/Inf loss terms and exploding gradients; stop the run or
    skip the step.

    Every loss term in the train step's outputs (keys containing ``loss``)
    and the total are checked, and before each optimizer step the total
    gradient norm: a step whose norm is NaN/Inf (or above ``max_grad_norm``,
    or above ``max_grad_norm_ratio`` times the median norm of the latest
    applied steps) is refused however finite its loss. On a bad loss or
    gradient the iteration, every loss term and (for a gradient) the norm
    and the modules with the largest gradients are logged, and:

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
    ``filename`` (else ``video_id``) metainfo of its data samples; for a bad
    gradient only as context, since the cause may be the model as well.
    Under DDP one rank's batch stops or skips every rank (the verdicts are
    all-reduced), so the ranks then gather their batches and every rank's
    message also lists each rank's files with its loss, largest first.

    ``configs/_base_/default_runtime.py`` turns the guard on for every
    config (``default_hooks.nonfinite_guard``, ``action='stop'``). A guard
    config in ``custom_hooks`` is merged into that one by ``AVRunner``
    (:func:`merge_guard_cfgs`: the keys it names win, the others keep the
    default's values) and one guard runs. Guards registered as hook objects
    are not merged; of several registered guards only the last registered
    acts (mmengine registers custom hooks after the default ones).

    Args:
        action (str): ``'stop'``, ``'skip'`` or ``'off'`` (do nothing; the
            hook stays registered). ``default_hooks=dict(nonfinite_guard=
            None)`` removes the hook instead: ``AVRunner`` accepts it,
            although mmengine 0.10 refuses ``None`` for default hooks it
            does not know. Defaults to ``'stop'``.
        max_consecutive_skips (int): limit for ``'skip'``. Defaults to 20.
        restore_state (bool): with ``'skip'``, undo the bad iteration's
            writes to buffers and non-trainable parameters. Defaults to True.
        check_grad_norm (bool): refuse steps whose total gradient norm is
            NaN/Inf. Costs one reduction over the gradients and one device
            sync per step (docs/reliability.md). ``False`` also turns the
            relative check off (not ``max_grad_norm``). Defaults to True.
        max_grad_norm (float, optional): also refuse steps whose total
            (unscaled) gradient norm exceeds it. Defaults to None: the scale
            of a sane gradient norm depends on the model, the loss and the
            batch, so no default threshold fits all; read ``grad_norm`` in
            the training log and set about 100x its usual value.
        max_grad_norm_ratio (float, optional): also refuse steps whose norm
            exceeds this many times the median norm of the latest
            ``grad_norm_window`` applied steps: a threshold relative to the
            run's own history, so it needs no scale. Off until
            ``grad_norm_warmup`` steps have been applied. Defaults to 1000,
            the value ``default_runtime.py`` names too (docs/reliability.md,
            "Gradient spikes"); None turns the check off.
        grad_norm_window (int): applied steps the median is taken over.
            Defaults to 100.
        grad_norm_warmup (int): applied steps before the relative check
            starts. Defaults to 20.

    The norms of the latest applied steps are saved in every checkpoint
    (``checkpoint['nonfinite_guard']``) and put back on resume, so that the
    relative check goes on against the steps before the resume; a run that
    only loads weights (``load_from``) starts a new history.
    """

    # Above the default NORMAL hooks and far above CheckpointHook
    # (VERY_LOW): runs first in after_train_iter.
    priority = 'ABOVE_NORMAL'

    def __init__(self, action: str = 'stop',
                 max_consecutive_skips: int = 20,
                 restore_state: bool = True,
                 check_grad_norm: bool = True,
                 max_grad_norm: Optional[float] = None,
                 max_grad_norm_ratio: Optional[float] = 1000,
                 grad_norm_window: int = 100,
                 grad_norm_warmup: int = 20) -> None:
        if action not in ('stop', 'skip', 'off'):
            raise ValueError(
                "NonFiniteLossGuardHook: action must be 'stop' or 'skip' "
                f"(or 'off': no guard), got {action!r}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise ValueError(
                'NonFiniteLossGuardHook: max_grad_norm must be a positive '
                f'number or None, got {max_grad_norm!r}')
        if max_grad_norm_ratio is not None and not max_grad_norm_ratio > 1:
            raise ValueError(
                'NonFiniteLossGuardHook: max_grad_norm_ratio must be a number '
                f'above 1 or None, got {max_grad_norm_ratio!r}')
        if not 1 <= grad_norm_warmup <= grad_norm_window:
            raise ValueError(
                'NonFiniteLossGuardHook: need 1 <= grad_norm_warmup <= '
                f'grad_norm_window, got grad_norm_warmup={grad_norm_warmup!r}'
                f', grad_norm_window={grad_norm_window!r}')
        self.max_grad_norm_ratio = max_grad_norm_ratio
        self.grad_norm_window = grad_norm_window
        self.grad_norm_warmup = grad_norm_warmup
        # norm histories from the checkpoint being resumed, one per guard
        self._loaded_history: Optional[List[List[float]]] = None
        self.check_grad_norm = check_grad_norm
        self.max_grad_norm = max_grad_norm
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
        model = getattr(runner.model, 'module', runner.model)
        names = {id(p): n for n, p in model.named_parameters()}
        histories = self._loaded_history
        # after a resume (not after load_from, which starts at iteration 0)
        # and with as many optim wrappers as the run that saved them
        if runner.iter == 0 or histories is None or \
                len(histories) != len(wrappers):
            histories = [None] * len(wrappers)
        self.guards = [
            NonFiniteLossGuard(w, names, self.check_grad_norm,
                               self.max_grad_norm, self.max_grad_norm_ratio,
                               self.grad_norm_window, self.grad_norm_warmup,
                               history)
            for w, history in zip(wrappers, histories)]

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.guards:  # plain floats: loads with weights_only=True
            checkpoint['nonfinite_guard'] = dict(grad_norm_history=[
                list(g.norm_history) for g in self.guards])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # before_train has not run yet on a resume; it hands these over
        state = checkpoint.get('nonfinite_guard') or {}
        self._loaded_history = state.get('grad_norm_history')

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
        bad_grads = [g.last_bad_grad for g in self.guards if g.last_bad_grad]
        for g in self.guards:
            g.last_nonfinite, g.last_bad_grad = False, None
        bad = [k for k, v in terms.items() if not math.isfinite(v)]
        if not refused and not bad and not bad_grads:
            self.consecutive = 0
            return
        it = runner.iter + 1
        detail = ', '.join(f'{k}={v}' for k, v in terms.items())
        where = (f'iteration {it} (epoch {runner.epoch + 1}, batch '
                 f'{batch_idx + 1})')
        files = _batch_files(data_batch)
        shown = _listed(files, 8)
        if refused or bad:
            what = ('non-finite loss on another rank' if not bad else
                    'non-finite loss term(s) ' + ', '.join(bad))
            error = NonFiniteLossError
            if files:
                where += f' on a batch of {len(files)} file(s): {shown}'
            norms = [n for g in self.guards for n in g.recent_norms]
            if norms:
                detail += ('. Gradient norms of the last applied steps: ' +
                           ', '.join(f'{n:.3g}' for n in norms) +
                           ' (a huge one means that step broke the '
                           'weights, and checkpoints saved since hold them)')
        else:
            what = self._describe_gradient(bad_grads)
            error = ExplodingGradientError
            detail += ('. The loss was finite: a diverging model (learning '
                       'rate, normalisation on tiny batches) or an extreme '
                       'input can cause this')
            if files:
                detail += f'; the batch held {len(files)} file(s): {shown}'
        if refused or bad_grads:  # verdicts all-reduced: every rank is here
            detail += _every_rank_batch(terms, files)
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
        raise error(f'{what} at {where}{reason}. Terms: {detail}')

    @staticmethod
    def _describe_gradient(bad_grads) -> str:
        """The largest refused norm and why (``NonFiniteLossGuard._why``),
        with the modules of the largest gradients."""
        _, largest, what = max(bad_grads, key=lambda b: (
            math.inf if math.isnan(b[0]) else b[0]))
        return what + ' (largest: ' + ', '.join(
            f'{m} {v:.3g}' for m, v in largest) + ')'


def _is_guard_cfg(hook) -> bool:
    """Whether ``hook`` is a config dict that builds a
    :class:`NonFiniteLossGuardHook` (``type`` a registered name, scoped or
    not, or the class)."""
    if not isinstance(hook, dict):
        return False
    kind = hook.get('type')
    if isinstance(kind, str):
        kind = HOOKS.get(kind)
    return isinstance(kind, type) and \
        issubclass(kind, NonFiniteLossGuardHook)


def merge_guard_cfgs(default_hooks: Optional[Dict],
                     custom_hooks: Optional[List]
                     ) -> Tuple[Optional[Dict], Optional[List],
                                Optional[Dict]]:
    """Fold the guard configs of ``custom_hooks`` into the default one.

    ``default_runtime.py`` sets ``default_hooks.nonfinite_guard``, and a
    config that declares its own guard in ``custom_hooks`` mostly means to
    change a setting of it. Replacing the default with the custom one would
    drop what the user did not restate (``max_grad_norm_ratio=1000``, a
    derived config's ``max_grad_norm``), and registering both would run two
    guards. So the keys a custom guard names replace the default's (an
    explicit ``None`` included), the keys it leaves out keep the default's
    values, and one guard is registered, under the default's key. Several
    custom guards are applied in order.

    Only config dicts are merged: a guard given as a built hook object, or
    custom guards with no default guard dict (the default removed with
    ``default_hooks=dict(nonfinite_guard=None)``), are registered as they
    are, and then only the last registered guard acts
    (:meth:`NonFiniteLossGuardHook.before_train`).

    Args:
        default_hooks: the runner's ``default_hooks`` (not modified).
        custom_hooks: the runner's ``custom_hooks`` (not modified).

    Returns:
        ``(default_hooks, custom_hooks, merged)``: the hooks to register and
        the merged guard config, or the arguments unchanged and ``None``
        when there was nothing to merge.
    """
    nothing = (default_hooks, custom_hooks, None)
    if not default_hooks or not custom_hooks:
        return nothing
    keys = [k for k, h in default_hooks.items() if _is_guard_cfg(h)]
    mine = [h for h in custom_hooks if _is_guard_cfg(h)]
    if not keys or not mine:
        return nothing
    key = keys[-1]  # the one registered last, the one that would act
    merged = dict(default_hooks[key])
    for hook in mine:
        merged.update(hook)
    default_hooks = dict(default_hooks, **{key: merged})
    custom_hooks = [h for h in custom_hooks if not _is_guard_cfg(h)]
    return default_hooks, custom_hooks, merged


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


def _every_rank_batch(terms: Dict[str, float], files: List[str]) -> str:
    """'. Every rank's batch, largest loss first: rank 1 (loss=4e+22): a.mp4,
    ...; rank 0 (loss=0.165): ...' ('' in one process). The message of each
    rank names its own batch only, and under DDP a bad gradient, or a NaN
    loss, on one rank stops every rank: rank 0's log line would name files
    that are not at fault. A collective: call it on every rank."""
    if get_world_size() < 2:
        return ''
    loss = terms.get('loss', sum(terms.values()) if terms else math.nan)
    gathered = all_gather_object((loss, files))
    order = sorted(range(len(gathered)), key=lambda r: (
        -math.inf if math.isnan(gathered[r][0]) else -gathered[r][0], r))
    return ". Every rank's batch, largest loss first: " + '; '.join(
        f'rank {r} (loss={gathered[r][0]:.3g})' +
        (': ' + _listed(gathered[r][1], 4) if gathered[r][1] else '')
        for r in order)


def _is_number(v) -> bool:
    if isinstance(v, torch.Tensor):
        return v.numel() == 1
    return isinstance(v, (int, float))
