"""Projection necks: pooled MLP and 1x1(x1) conv MLP over dense maps."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmavcl.registry import MODELS
from ..utils import last_stage


def _widths(in_channels: int, hid_channels: Union[int, Sequence[int]],
            out_channels: int, num_layers: int) -> Tuple[int, ...]:
    if num_layers < 1:
        raise ValueError(f'num_layers must be >= 1, got {num_layers}')
    if isinstance(hid_channels, int):
        hid = [hid_channels] * (num_layers - 1)
    else:
        hid = list(hid_channels)
        if len(hid) != num_layers - 1:
            raise ValueError(f'hid_channels lists {len(hid)} widths but '
                             f'num_layers={num_layers} needs '
                             f'{num_layers - 1}')
    return (in_channels, *hid, out_channels)


@MODELS.register_module()
class MLPNeck(BaseModule):
    """Global pool, then ``num_layers`` Linear layers (Linear-BN-ReLU between
    them; optional BN after the last, as in SimCLR v2 / MoCo v3).

    Input: ``(B, C)``, a dense map ``(B, C, *S)`` (e.g. ``(B, C, T, H, W)``
    or ``(B, C, F, T)``), or a tuple of such (the last one is used).

    - ``pool_time=False``: pooled over every axis except channels ->
      output ``(B, out)``.
    - ``pool_time=True``: the map is treated as ``(B, C, T, *rest)``; only
      ``rest`` is pooled and the MLP runs per time step -> ``(B, T, out)``
      (BN statistics over ``B * T``). For VCLR's per-frame order features or
      GLCL's per-step features. With ``time_dim`` the time axis of 4-D audio
      maps ``(B, C, F, T)`` can be chosen (``time_dim=3``).

    Args:
        in_channels (int): Input channels ``C``.
        hid_channels (int | list[int]): Hidden width(s). Defaults to 2048.
        out_channels (int): Output size. Defaults to 128.
        num_layers (int): Linear layers (1 = a single linear projection).
            Defaults to 2.
        norm_cfg (dict, optional): Norm after hidden linears, e.g.
            ``dict(type='BN1d')``; None for no norm. Defaults to None.
        act_cfg (dict): Activation. Defaults to ReLU.
        with_last_bn (bool): Affine-free BN after the output layer.
            Defaults to False.
        with_bias (bool): Bias in the linear layers. Defaults to True.
        pool (str): ``'avg'`` or ``'max'`` pooling. Defaults to ``'avg'``.
        pool_time (bool): Keep a time axis (see above). Defaults to False.
        time_dim (int): Index of the time axis of the input map when
            ``pool_time``. Defaults to 2.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: Union[int, Sequence[int]] = 2048,
                 out_channels: int = 128,
                 num_layers: int = 2,
                 norm_cfg: Optional[Dict] = None,
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 with_last_bn: bool = False,
                 with_bias: bool = True,
                 pool: str = 'avg',
                 pool_time: bool = False,
                 time_dim: int = 2,
                 init_cfg: Optional[Dict] = dict(
                     type='Normal', std=0.01, layer='Linear')) -> None:
        super().__init__(init_cfg=init_cfg)
        if pool not in ('avg', 'max'):
            raise ValueError(f"MLPNeck pool must be 'avg' or 'max', got "
                             f'{pool!r}')
        widths = _widths(in_channels, hid_channels, out_channels, num_layers)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.pool, self.pool_time, self.time_dim = pool, pool_time, time_dim
        layers = []
        for i in range(num_layers):
            layers.append(nn.Linear(widths[i], widths[i + 1], bias=with_bias))
            if i < num_layers - 1:
                if norm_cfg is not None:
                    layers.append(build_norm_layer(norm_cfg, widths[i + 1])[1])
                layers.append(build_activation_layer(act_cfg))
        if with_last_bn:
            layers.append(nn.BatchNorm1d(out_channels, affine=False))
        self.mlp = nn.Sequential(*layers)

    def _pool(self, x: Tensor, dims: Tuple[int, ...]) -> Tensor:
        if not dims:
            return x
        if self.pool == 'avg':
            return x.mean(dim=dims)
        return x.amax(dim=dims)

    def forward(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """
        Args:
            x (Tensor | tuple[Tensor]): ``(B, C)`` or ``(B, C, *S)``.

        Returns:
            Tensor: ``(B, out)``, or ``(B, T, out)`` with ``pool_time``.
        """
        x = last_stage(x)
        if x.dim() < 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'MLPNeck expects (B, {self.in_channels}, ...), '
                             f'got {tuple(x.shape)}')
        if not self.pool_time:
            x = self._pool(x, tuple(range(2, x.dim())))
            return self.mlp(x)
        if x.dim() < 3 or not 2 <= self.time_dim < x.dim():
            raise ValueError(f'MLPNeck(pool_time=True, time_dim='
                             f'{self.time_dim}) needs a time axis, got '
                             f'{tuple(x.shape)}')
        rest = tuple(d for d in range(2, x.dim()) if d != self.time_dim)
        x = self._pool(x, rest)                       # (B, C, T)
        b, c, t = x.shape
        y = self.mlp(x.transpose(1, 2).reshape(b * t, c))
        return y.view(b, t, -1)


@MODELS.register_module()
class ConvMLPNeck(BaseModule):
    """MLP of 1x1 (1x1x1) convolutions applied at every position of a dense
    map, e.g. GLCL's projection heads. Keeps the map's layout.

    Input ``(B, C, *S)`` with ``len(S) == ndim`` (3 for video ``(T, H, W)``,
    2 for log-mel ``(F, T)``, 1 for a time series); output
    ``(B, out, *S)``.

    Args:
        in_channels (int): Input channels.
        hid_channels (int | list[int]): Hidden width(s). Defaults to 512.
        out_channels (int): Output channels. Defaults to 128.
        num_layers (int): Conv layers. Defaults to 2.
        ndim (int): Spatial/temporal dims of the map (1, 2 or 3).
            Defaults to 3.
        norm_cfg (dict, optional): Norm after hidden layers, e.g.
            ``dict(type='BN3d')``. Defaults to None.
        act_cfg (dict): Activation. Defaults to ReLU.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: Union[int, Sequence[int]] = 512,
                 out_channels: int = 128,
                 num_layers: int = 2,
                 ndim: int = 3,
                 norm_cfg: Optional[Dict] = None,
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if ndim not in (1, 2, 3):
            raise ValueError(f'ConvMLPNeck ndim must be 1, 2 or 3, got {ndim}')
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
        widths = _widths(in_channels, hid_channels, out_channels, num_layers)
        self.in_channels, self.out_channels, self.ndim = (in_channels,
                                                          out_channels, ndim)
        layers = []
        for i in range(num_layers):
            layers.append(conv(widths[i], widths[i + 1], kernel_size=1))
            if i < num_layers - 1:
                if norm_cfg is not None:
                    layers.append(build_norm_layer(norm_cfg, widths[i + 1])[1])
                layers.append(build_activation_layer(act_cfg))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """
        Args:
            x (Tensor | tuple[Tensor]): ``(B, C, *S)``.

        Returns:
            Tensor: ``(B, out, *S)``.
        """
        x = last_stage(x)
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'ConvMLPNeck(ndim={self.ndim}) expects (B, '
                f'{self.in_channels}' + ', *' * self.ndim + f'), got '
                f'{tuple(x.shape)}')
        return self.mlp(x)
