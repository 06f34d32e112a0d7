"""S3D-G: separable 3D Inception with feature gating (Xie et al. 2018)."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmavcl.registry import MODELS


class _Unit3d(nn.Module):
    """Conv3d (no bias) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel=(1, 1, 1), stride=1,
                 padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class _SepConv3d(nn.Module):
    """``1 x k x k`` spatial then ``k_t x 1 x 1`` temporal conv, each with
    BN + ReLU (the "separable" convolution of S3D)."""

    def __init__(self, cin: int, cout: int, k: int, k_t: Optional[int] = None,
                 stride: int = 1) -> None:
        super().__init__()
        k_t = k if k_t is None else k_t
        self.conv_s = _Unit3d(cin, cout, (1, k, k), (1, stride, stride),
                              (0, k // 2, k // 2))
        self.conv_t = _Unit3d(cout, cout, (k_t, 1, 1), (stride, 1, 1),
                              (k_t // 2, 0, 0))

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_t(self.conv_s(x))


class SelfGating(nn.Module):
    r"""Feature gating of S3D-G: :math:`y = \sigma(W \bar x + b) \odot x`,
    with :math:`\bar x` the ``(T, H, W)`` average of ``x`` ``(B, C, T, H, W)``
    and one gate per channel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        gate = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4))))
        return x * gate[:, :, None, None, None]


class _InceptionBlock(nn.Module):
    """Four branches (1x1x1; 1x1x1 -> sep 3; 1x1x1 -> sep 3; pool -> 1x1x1),
    each gated, concatenated along channels."""

    def __init__(self, cin: int, b0: int, b1_mid: int, b1: int, b2_mid: int,
                 b2: int, b3: int, gating: bool) -> None:
        super().__init__()
        self.branch0 = _Unit3d(cin, b0)
        self.branch1 = nn.Sequential(_Unit3d(cin, b1_mid),
                                     _SepConv3d(b1_mid, b1, 3))
        self.branch2 = nn.Sequential(_Unit3d(cin, b2_mid),
                                     _SepConv3d(b2_mid, b2, 3))
        self.branch3 = nn.Sequential(
            nn.MaxPool3d(3, stride=1, padding=1), _Unit3d(cin, b3))
        self.gates = nn.ModuleList(
            [SelfGating(c) for c in (b0, b1, b2, b3)]) if gating else None
        self.out_channels = b0 + b1 + b2 + b3

    def forward(self, x: Tensor) -> Tensor:
        outs = [self.branch0(x), self.branch1(x), self.branch2(x),
                self.branch3(x)]
        if self.gates is not None:
            outs = [g(o) for g, o in zip(self.gates, outs)]
        return torch.cat(outs, dim=1)


# (name, in, b0, b1_mid, b1, b2_mid, b2, b3) of Inception-v1 (Szegedy 2015).
_MIXED = [
    ('mixed_3b', 192, 64, 96, 128, 16, 32, 32),
    ('mixed_3c', 256, 128, 128, 192, 32, 96, 64),
    ('mixed_4b', 480, 192, 96, 208, 16, 48, 64),
    ('mixed_4c', 512, 160, 112, 224, 24, 64, 64),
    ('mixed_4d', 512, 128, 128, 256, 24, 64, 64),
    ('mixed_4e', 512, 112, 144, 288, 32, 64, 64),
    ('mixed_4f', 528, 256, 160, 320, 32, 128, 128),
    ('mixed_5b', 832, 256, 160, 320, 32, 128, 128),
    ('mixed_5c', 832, 384, 192, 384, 48, 128, 128),
]
_STAGES = {'mixed_3c': 0, 'mixed_4f': 1, 'mixed_5c': 2}


@MODELS.register_module()
class S3DG(BaseModule):
    """S3D-G video backbone (Xie et al., "Rethinking Spatiotemporal Feature
    Learning", ECCV 2018): Inception-v1 with every 3D conv factorised into a
    spatial ``1 x k x k`` and a temporal ``k x 1 x 1`` conv, and self-gating
    on every Inception branch (and after ``conv_2c``).

    Input ``(B, 3, T, H, W)``; output dense maps. Stage indices for
    ``out_indices``: 0 = ``mixed_3c`` (480 ch, stride 8 spatial / 2
    temporal), 1 = ``mixed_4f`` (832 ch, /16, /4), 2 = ``mixed_5c``
    (1024 ch, /32, /8).

    Args:
        in_channels (int): Defaults to 3.
        gating (bool): Feature gating (S3D-G); False gives plain S3D.
            Defaults to True.
        out_indices (tuple[int]): Defaults to ``(2, )``.
        norm_eval (bool): BN in eval mode during training. Defaults False.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int = 3,
                 gating: bool = True,
                 out_indices: Sequence[int] = (2, ),
                 norm_eval: bool = False,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if not out_indices or min(out_indices) < 0 or max(out_indices) > 2:
            raise ValueError(f'S3DG out_indices must be in [0, 3), got '
                             f'{tuple(out_indices)}')
        self.out_indices, self.norm_eval = tuple(out_indices), norm_eval
        self.conv_1a = _SepConv3d(in_channels, 64, 7, stride=2)
        self.pool_2a = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.conv_2b = _Unit3d(64, 64)
        self.conv_2c = _SepConv3d(64, 192, 3)
        self.gate_2c = SelfGating(192) if gating else None
        self.pool_3a = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.pool_4a = nn.MaxPool3d(3, 2, 1)
        self.pool_5a = nn.MaxPool3d(2, 2, 0, ceil_mode=True)
        for name, *args in _MIXED:
            self.add_module(name, _InceptionBlock(*args, gating=gating))
        self.feat_dim = 1024
        self.out_channels = tuple((480, 832, 1024)[i]
                                  for i in self.out_indices)

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        """
        Args:
            x (Tensor): ``(B, 3, T, H, W)``.

        Returns:
            Tensor | tuple[Tensor]: dense maps of ``out_indices``.
        """
        if x.dim() != 5:
            raise ValueError(f'S3DG expects (B, C, T, H, W), got '
                             f'{tuple(x.shape)}')
        x = self.conv_2c(self.conv_2b(self.pool_2a(self.conv_1a(x))))
        if self.gate_2c is not None:
            x = self.gate_2c(x)
        x = self.pool_3a(x)
        outs = []
        for name, *_ in _MIXED:
            if name == 'mixed_4b':
                x = self.pool_4a(x)
            elif name == 'mixed_5b':
                x = self.pool_5a(x)
            x = getattr(self, name)(x)
            if _STAGES.get(name, -1) in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init(m)
            elif isinstance(m, _BatchNorm):
                constant_init(m, 1)
        super().init_weights()

    def train(self, mode: bool = True) -> 'S3DG':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
