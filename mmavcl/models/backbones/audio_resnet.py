"""ResNets for audio: 2D over log-mel (frequency x time) and 1D over time
with mel bins as channels (GLCL)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmavcl.registry import MODELS
from .stage_freezing import StageFreezingMixin

_Stride = Union[int, Tuple[int, ...]]


class _ConvBNAct(nn.Module):
    """``conv`` -> ``bn`` -> ``activate`` in 1 or 2 dimensions."""

    def __init__(self, ndim: int, cin: int, cout: int, kernel: int,
                 stride: _Stride, norm_cfg: Dict,
                 act_cfg: Optional[Dict], bias: bool = False) -> None:
        super().__init__()
        conv = nn.Conv1d if ndim == 1 else nn.Conv2d
        self.conv = conv(
            cin, cout, kernel, stride=stride, padding=kernel // 2, bias=bias)
        self.bn = build_norm_layer(norm_cfg, cout)[1]
        self.activate = (
            build_activation_layer(act_cfg) if act_cfg is not None else None)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.activate(x) if self.activate is not None else x


class _BasicBlock(nn.Module):
    """Two kernel-3 convs and a residual; the shortcut is a bias-free 1x1
    conv + BN when the shape changes or ``projection_shortcut`` asks."""

    def __init__(self, ndim: int, cin: int, cout: int, stride: _Stride,
                 norm_cfg: Dict, act_cfg: Dict, conv_bias: bool = False,
                 projection_shortcut: bool = False) -> None:
        super().__init__()
        self.conv1 = _ConvBNAct(ndim, cin, cout, 3, stride, norm_cfg, act_cfg,
                                conv_bias)
        self.conv2 = _ConvBNAct(ndim, cout, cout, 3, 1, norm_cfg, None,
                                conv_bias)
        has_stride = any(s != 1 for s in (
            stride if isinstance(stride, tuple) else (stride, )))
        # GLCL's code builds its shortcut convs without bias even where the
        # block's own convs have one
        self.downsample = (
            _ConvBNAct(ndim, cin, cout, 1, stride, norm_cfg, None)
            if has_stride or cin != cout or projection_shortcut else None)
        self.relu = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + identity)


class _AudioResNet(StageFreezingMixin, BaseModule):
    """Shared body of :class:`AudioResNet2d` and :class:`AudioResNet1d`."""

    ndim = 2
    arch_settings = {10: (1, 1, 1, 1), 18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self, depth: int, in_channels: int, base_channels: int,
                 conv1_kernel: int, conv1_stride: _Stride, with_maxpool: bool,
                 strides: Sequence[_Stride], output: str, norm_cfg: Dict,
                 act_cfg: Dict, frozen_stages: int, norm_eval: bool,
                 zero_init_residual: bool, init_cfg, conv_bias: bool = False,
                 layer1_projection_shortcut: bool = False,
                 conv_init: str = 'kaiming') -> None:
        super().__init__(init_cfg=init_cfg)
        if conv_init not in ('kaiming', 'xavier_normal'):
            raise ValueError(f"{type(self).__name__}: conv_init must be "
                             f"'kaiming' or 'xavier_normal', got "
                             f'{conv_init!r}')
        self.conv_init = conv_init
        if depth not in self.arch_settings:
            raise KeyError(f'{type(self).__name__}: invalid depth {depth}, '
                           f'choose from {sorted(self.arch_settings)}')
        if output not in self.outputs:
            raise ValueError(f'{type(self).__name__}: output must be one of '
                             f'{self.outputs}, got {output!r}')
        blocks = self.arch_settings[depth]
        if len(strides) != len(blocks):
            raise ValueError(f'strides needs {len(blocks)} entries, got '
                             f'{tuple(strides)}')
        self.output, self.in_channels = output, in_channels
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.zero_init_residual = zero_init_residual
        self.conv1 = _ConvBNAct(self.ndim, in_channels, base_channels,
                                conv1_kernel, conv1_stride, norm_cfg, act_cfg,
                                conv_bias)
        pool = nn.MaxPool1d if self.ndim == 1 else nn.MaxPool2d
        self.maxpool = pool(3, 2, 1) if with_maxpool else None
        cin = base_channels
        self.res_layers = []
        for i, (n, s) in enumerate(zip(blocks, strides)):
            cout = base_channels * 2**i
            layer = nn.Sequential(*[
                _BasicBlock(
                    self.ndim, cin if j == 0 else cout, cout,
                    s if j == 0 else 1, norm_cfg, act_cfg, conv_bias,
                    projection_shortcut=(layer1_projection_shortcut
                                         and i == 0 and j == 0))
                for j in range(n)
            ])
            self.add_module(f'layer{i + 1}', layer)
            self.res_layers.append(f'layer{i + 1}')
            cin = cout
        self.feat_dim = self.out_channels = cin
        self._freeze_stages()

    def _body(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        if self.maxpool is not None:
            x = self.maxpool(x)
        for name in self.res_layers:
            x = getattr(self, name)(x)
        return x

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                if self.conv_init == 'xavier_normal':
                    # as GLCL's code: weights only, biases keep PyTorch's
                    # default uniform init
                    nn.init.xavier_normal_(m.weight)
                else:
                    kaiming_init(m)
            elif isinstance(m, _BatchNorm):
                constant_init(m, 1)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _BasicBlock):
                    constant_init(m.conv2.bn, 0)
        super().init_weights()


@MODELS.register_module()
class AudioResNet2d(_AudioResNet):
    """2D ResNet over a log-mel spectrogram ``(B, 1, F, T)``.

    Outputs (``output``):

    - ``'map'``: the dense map ``(B, C, F', T')`` (default; pooling is the
      neck's job);
    - ``'time'``: per-time features ``(B, C, T')``, averaged over frequency;
    - ``'pooled'``: ``(B, C)``, averaged over frequency and time.

    Module names follow :class:`ResNet3d` (``conv1.conv``, ``conv1.bn``,
    ``layer{i}.{j}.conv{k}.conv/bn``, ``downsample.conv/bn``).

    Args:
        depth (int): 10, 18 or 34 (basic blocks). Defaults to 18.
        in_channels (int): Input channels. Defaults to 1.
        base_channels (int): Stem / first stage width. Defaults to 64.
        conv1_kernel (int): Stem kernel. Defaults to 7.
        conv1_stride (int | tuple): Stem stride ``(s_F, s_T)`` or int.
            Defaults to 2.
        with_maxpool (bool): 3x3/2 max-pool after the stem. Defaults to True.
        strides (list[int | tuple]): Per-stage strides. Defaults to
            ``(1, 2, 2, 2)``.
        output (str): ``'map'``, ``'time'`` or ``'pooled'``.
        norm_cfg (dict): Defaults to BN2d.
        act_cfg (dict): Defaults to ReLU.
        frozen_stages (int): -1 freezes nothing. Defaults to -1.
        norm_eval (bool): BN in eval mode during training. Defaults False.
        zero_init_residual (bool): Defaults to True.
        init_cfg (dict, optional): mmengine init config (``Pretrained``...).
    """
    ndim = 2
    outputs = ('map', 'time', 'pooled')

    def __init__(self,
                 depth: int = 18,
                 in_channels: int = 1,
                 base_channels: int = 64,
                 conv1_kernel: int = 7,
                 conv1_stride: _Stride = 2,
                 with_maxpool: bool = True,
                 strides: Sequence[_Stride] = (1, 2, 2, 2),
                 output: str = 'map',
                 norm_cfg: Dict = dict(type='BN2d'),
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 zero_init_residual: bool = True,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(depth, in_channels, base_channels, conv1_kernel,
                         conv1_stride, with_maxpool, strides, output,
                         norm_cfg, act_cfg, frozen_stages, norm_eval,
                         zero_init_residual, init_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """
        Args:
            x (Tensor): ``(B, 1, F, T)`` log-mel (``(B, F, T)`` is accepted).

        Returns:
            Tensor: ``(B, C, F', T')``, ``(B, C, T')`` or ``(B, C)``.
        """
        if x.dim() == 3 and self.in_channels == 1:
            x = x.unsqueeze(1)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'AudioResNet2d expects (B, {self.in_channels}, '
                             f'F, T), got {tuple(x.shape)}')
        x = self._body(x)
        if self.output == 'time':
            return x.mean(dim=2)
        if self.output == 'pooled':
            return x.mean(dim=(2, 3))
        return x


@MODELS.register_module()
class AudioResNet1d(_AudioResNet):
    """1D ResNet over time with mel bins as input channels (GLCL's audio
    encoder: ResNet-18 widths 64-128-256-512, conv1 kernel 7, basic blocks of
    kernel 3, LeakyReLU and, with the default strides of 1, no temporal
    downsampling, so ``T' = T``).

    The defaults reproduce the released ``resnet1d.py`` (yunyikristy/
    global_local @75c3c89): every conv except the shortcuts has a bias; the
    first block of ``layer1`` has a 1x1 conv + BN shortcut although its shape
    does not change (the code passes that stage a stride of 2, which its
    convs ignore but its shortcut test does not); Xavier-normal conv weights;
    no zero-initialised residual BN. 3,887,424 parameters at depth 18 with
    80 mel bins, as the released module.

    Input ``(B, 1, F, T)`` or ``(B, F, T)`` with ``F == in_channels``.

    Outputs (``output``): ``'time'`` / ``'map'`` (the same here)
    ``(B, C, T')``; ``'pooled'`` ``(B, C)``.

    Args:
        depth (int): 10, 18 or 34. Defaults to 18.
        in_channels (int): Number of mel bins. Defaults to 80.
        base_channels (int): Defaults to 64.
        conv1_kernel (int): Defaults to 7.
        conv1_stride (int): Defaults to 1.
        with_maxpool (bool): Defaults to False.
        strides (list[int]): Per-stage strides. Defaults to ``(1, 1, 1, 1)``.
        output (str): ``'time'``, ``'map'`` or ``'pooled'``.
            Defaults to ``'time'``.
        norm_cfg (dict): Defaults to BN1d.
        act_cfg (dict): Defaults to LeakyReLU (slope 0.01).
        frozen_stages, norm_eval, init_cfg: As in :class:`AudioResNet2d`.
        zero_init_residual (bool): Defaults to False.
        conv_bias (bool): Bias in the stem and block convs (never in the
            shortcut convs). Defaults to True.
        layer1_projection_shortcut (bool): 1x1 conv + BN shortcut in the
            first block of ``layer1``. Defaults to True.
        conv_init (str): ``'xavier_normal'`` (weights only) or
            ``'kaiming'`` (fan-out normal, zero bias). Defaults to
            ``'xavier_normal'``.
    """
    ndim = 1
    outputs = ('time', 'map', 'pooled')

    def __init__(self,
                 depth: int = 18,
                 in_channels: int = 80,
                 base_channels: int = 64,
                 conv1_kernel: int = 7,
                 conv1_stride: int = 1,
                 with_maxpool: bool = False,
                 strides: Sequence[int] = (1, 1, 1, 1),
                 output: str = 'time',
                 norm_cfg: Dict = dict(type='BN1d'),
                 act_cfg: Dict = dict(
                     type='LeakyReLU', negative_slope=0.01, inplace=True),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 zero_init_residual: bool = False,
                 conv_bias: bool = True,
                 layer1_projection_shortcut: bool = True,
                 conv_init: str = 'xavier_normal',
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(depth, in_channels, base_channels, conv1_kernel,
                         conv1_stride, with_maxpool, strides, output,
                         norm_cfg, act_cfg, frozen_stages, norm_eval,
                         zero_init_residual, init_cfg, conv_bias,
                         layer1_projection_shortcut, conv_init)

    def forward(self, x: Tensor) -> Tensor:
        """
        Args:
            x (Tensor): ``(B, 1, F, T)`` or ``(B, F, T)``.

        Returns:
            Tensor: ``(B, C, T')`` or ``(B, C)``.
        """
        if x.dim() == 4 and x.shape[1] == 1:
            x = x.squeeze(1)
        if x.dim() != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f'AudioResNet1d expects (B, 1, {self.in_channels}'
                             f', T) or (B, {self.in_channels}, T) (mel bins '
                             f'as channels), got {tuple(x.shape)}')
        x = self._body(x)
        return x.mean(dim=2) if self.output == 'pooled' else x
