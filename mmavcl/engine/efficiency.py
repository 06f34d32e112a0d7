"""Training-efficiency switches that mmengine does not provide.

mmengine 0.10.7 already covers mixed precision (``AmpOptimWrapper``; mmavcl
adds :class:`~mmavcl.engine.optim_wrappers.AutocastOptimWrapper` for bf16 on
CPU), ``cudnn.benchmark`` (``env_cfg.cudnn_benchmark``), gradient
accumulation (``optim_wrapper.accumulative_counts``), SyncBN
(``sync_bn='torch'``) and linear LR scaling (``auto_scale_lr``). Two
switches are added here, both hooks named in the config:

* :class:`TorchCompileHook` compiles the backbones (mmengine's own
  ``compile=True`` compiles the whole ``train_step``, which fails on
  mmavcl's device-side augmentation, see :func:`compile_modules`);
* :class:`ChannelsLast3dHook`: mmengine has no channels-last switch.

Why channels-last: cuDNN's fastest Conv3d kernels on tensor-core GPUs (bf16 /
fp16) work on NDHWC data; with NCDHW tensors every convolution pays layout
transposes. Enable it with::

    custom_hooks = [dict(type='ChannelsLast3dHook')]
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmavcl.registry import HOOKS

__all__ = [
    'convert_to_channels_last', 'ChannelsLast3dHook', 'compile_modules',
    'TorchCompileHook'
]


def compile_modules(model: nn.Module,
                    modules: Optional[Union[str, Sequence[str]]] = None,
                    **compile_kwargs) -> List[str]:
    """``torch.compile`` sub-modules of ``model`` in place.

    mmengine's ``compile`` option wraps the whole ``train_step`` (data
    preprocessor, forward, loss parsing, backward and optimizer step) in one
    ``torch.compile``. With mmavcl models that fails: the device-side kornia
    augmentation branches on tensor values (``ColorJitter`` raises
    ``GuardOnDataDependentSymNode`` in torch 2.9), and the time goes into
    the backbones anyway. So each selected sub-module's ``forward`` is
    compiled with :meth:`torch.nn.Module.compile`, which keeps parameter
    names (no ``_orig_mod.`` prefix): checkpoints stay loadable either way.

    Args:
        model: The model (unwrapped from DDP by the caller).
        modules: Attribute names of direct children to compile; ``None``:
            every child whose name ends in ``backbone`` (``backbone``,
            ``audio_backbone``, a recognizer's ``backbone``).
        **compile_kwargs: For ``torch.compile`` (``backend``, ``mode``,
            ``dynamic``, ``fullgraph``, ``options``).

    Returns:
        The names compiled.

    Raises:
        KeyError: a name in ``modules`` is not a child module of ``model``,
            or ``modules=None`` and the model has no ``*backbone`` child.
    """
    children = dict(model.named_children())
    if modules is None:
        names = [n for n in children if n.endswith('backbone')]
        if not names:
            raise KeyError(
                f'compile: {type(model).__name__} has no *backbone child; '
                'name the modules, e.g. TorchCompileHook(modules=[...]), '
                f'from {sorted(children)}')
    else:
        names = [modules] if isinstance(modules, str) else list(modules)
        unknown = [n for n in names if n not in children]
        if unknown:
            raise KeyError(f'compile: {unknown} not among the children of '
                           f'{type(model).__name__}: {sorted(children)}')
    for name in names:
        children[name].compile(**compile_kwargs)
    return names


@HOOKS.register_module()
class TorchCompileHook(Hook):
    """``torch.compile`` the model's backbones before training.

    ``tools/train.py --compile [BACKEND]`` adds it as
    ``default_hooks.compile = dict(type='TorchCompileHook', backend=...)``;
    a config can name it the same way. It compiles in ``before_train``,
    i.e. after the model is wrapped (DDP) and a resume has loaded its
    weights: the point where mmengine's own ``compile`` option compiles.
    Validation during training runs the compiled modules; ``runner.val()``
    and ``runner.test()`` alone are not compiled, as with mmengine.

    Args:
        modules (str | list[str], optional): children of the (unwrapped)
            model to compile; ``None``: every ``*backbone`` child (see
            :func:`compile_modules`).
        **compile_kwargs: for ``torch.compile`` (``backend``, ``mode``,
            ``dynamic``, ``fullgraph``, ``options``).
    """

    # after ChannelsLast3dHook (VERY_HIGH) in before_train; compilation is
    # lazy (first forward), so the order only keeps the log readable
    priority = 'LOW'

    def __init__(self,
                 modules: Optional[Union[str, Sequence[str]]] = None,
                 **compile_kwargs) -> None:
        self.modules = modules
        self.compile_kwargs = compile_kwargs
        self.compiled: List[str] = []

    def before_train(self, runner) -> None:
        if self.compiled:  # a second train() on the same runner
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        self.compiled = compile_modules(model, self.modules,
                                        **self.compile_kwargs)
        runner.logger.info(
            f'torch.compile({self.compile_kwargs}) on {self.compiled}; the '
            'first iterations will be slow while it compiles')


def _to_format(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 5:
        return x.contiguous(memory_format=torch.channels_last_3d)
    if x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _to_format_strides(x: torch.Tensor) -> torch.Tensor:
    """Like :func:`_to_format`, and also with the channels-last strides on
    size-1 dimensions (a 1x1x1 kernel is "channels-last" with either set):
    convolution gradients come with those strides, and a parameter must
    have the strides of its gradient for DDP's bucket to alias it."""
    fmt = {5: torch.channels_last_3d, 4: torch.channels_last}.get(x.dim())
    if fmt is None:
        return x
    out = torch.empty_like(x, memory_format=fmt)
    if out.stride() == x.stride():
        return x
    return out.copy_(x)


def _input_pre_hook(module: nn.Module, args):
    """Give a convolution its input in the matching channels-last layout."""
    if args and isinstance(args[0], torch.Tensor):
        return (_to_format(args[0]), ) + tuple(args[1:])
    return None


def convert_to_channels_last(model: nn.Module,
                             convert_2d: bool = True) -> List:
    """In place: 5-D parameters/buffers to ``channels_last_3d`` (and 4-D ones
    to ``channels_last`` when ``convert_2d``), and a forward pre-hook on
    every ``Conv3d`` (``Conv2d``) that converts its input likewise.

    ``nn.Module.to(memory_format=torch.channels_last_3d)`` cannot be used: it
    fails on the 4-D weights of the 2D audio backbones. Parameters keep their
    identity (``param.data`` is replaced), so an optimizer built before the
    call stays valid; its state created later follows the new layout.

    Converting a model a second time changes nothing and returns the
    first call's handles (``AVRunner`` converts before wrapping the model in
    DDP, then :class:`ChannelsLast3dHook` finds it done).

    Returns:
        The hook handles (``handle.remove()`` undoes the input conversion).
    """
    done = getattr(model, '_channels_last_handles', None)
    if done is not None:
        return done
    dims = (4, 5) if convert_2d else (5, )
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() in dims:
                p.data = _to_format_strides(p.data)
        for mod in model.modules():
            for name, buf in list(mod._buffers.items()):
                if buf is not None and buf.dim() in dims:
                    mod._buffers[name] = _to_format_strides(buf)
    convs = (nn.Conv3d, nn.Conv2d) if convert_2d else (nn.Conv3d, )
    handles = [
        m.register_forward_pre_hook(_input_pre_hook) for m in model.modules()
        if isinstance(m, convs)
    ]
    # a plain attribute: not a parameter, buffer or state_dict entry
    model._channels_last_handles = handles
    return handles


@HOOKS.register_module()
class ChannelsLast3dHook(Hook):
    """Train (and evaluate) 3D CNNs in the ``channels_last_3d`` layout.

    Before training / validation / testing, converts the model's parameters
    and makes every convolution receive channels-last inputs (see
    :func:`convert_to_channels_last`). Results equal the default layout up to
    floating-point reassociation. Helps on CUDA (tensor cores, cuDNN NDHWC
    kernels); on CPU it is usually neutral or slower, so leave it off there.

    Args:
        convert_2d (bool): Also put 2D convolutions (audio backbones, TSN) in
            ``channels_last``. Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, convert_2d: bool = True) -> None:
        self.convert_2d = convert_2d
        self._handles: List = []

    def _convert(self, runner) -> None:
        if self._handles:
            return
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        self._handles = convert_to_channels_last(model, self.convert_2d)

    def before_train(self, runner) -> None:
        self._convert(runner)

    def before_val(self, runner) -> None:
        self._convert(runner)

    def before_test(self, runner) -> None:
        self._convert(runner)
