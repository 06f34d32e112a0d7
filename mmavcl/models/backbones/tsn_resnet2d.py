"""2D ResNet applied to every frame (TSN style), torchvision key layout."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmavcl.registry import MODELS
from .stage_freezing import StageFreezingMixin


class _Basic2d(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int,
                 downsample: Optional[nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class _Bottleneck2d(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int,
                 downsample: Optional[nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        # Stride on the 3x3 conv (torchvision "ResNet v1.5").
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


@MODELS.register_module()
class TSNResNet2d(StageFreezingMixin, BaseModule):
    """A 2D ResNet run on every frame, frames folded into the batch.

    Input ``(B, C, T, H, W)`` is reshaped to ``(B*T, C, H, W)``; the per-frame
    maps come back as a video-shaped dense map ``(B, C', T, H', W')``, so an
    :class:`MLPNeck` pooling over ``(T, H', W')`` gives TSN's average
    consensus of frame features, and ``MLPNeck(pool_time=True)`` gives
    per-frame features (VCLR's order branch). A ``(B, C, H, W)`` image batch
    gives ``(B, C', H', W')``.

    Keys follow torchvision's ``resnet{18,34,50}`` (``conv1``, ``bn1``,
    ``layer1.0.conv1``, ``layer1.0.downsample.0``...), so ImageNet or MoCo-v2
    checkpoints load with ``init_cfg=dict(type='Pretrained', checkpoint=...,
    prefix='module.encoder_q.')`` (the ``fc`` is ignored). ResNet-50 without
    ``fc`` has 23,508,032 parameters.

    Args:
        depth (int): 18, 34 or 50. Defaults to 50.
        in_channels (int): Defaults to 3.
        out_indices (tuple[int]): Stages to return. Defaults to ``(3, )``.
        frozen_stages (int): Freeze stem (0) and stages ``1..n``. Defaults
            to -1.
        norm_eval (bool): BN in eval mode during training. Defaults False.
        zero_init_residual (bool): Zero the last BN of each block.
            Defaults to False (torchvision's default).
        init_cfg (dict, optional): mmengine init config.
    """

    arch_settings = {
        18: (_Basic2d, (2, 2, 2, 2)),
        34: (_Basic2d, (3, 4, 6, 3)),
        50: (_Bottleneck2d, (3, 4, 6, 3)),
    }

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (3, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 zero_init_residual: bool = False,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'TSNResNet2d: invalid depth {depth}, choose from '
                           f'{sorted(self.arch_settings)}')
        if not out_indices or min(out_indices) < 0 or max(out_indices) > 3:
            raise ValueError(f'out_indices must be in [0, 4), got '
                             f'{tuple(out_indices)}')
        block, blocks = self.arch_settings[depth]
        self.out_indices = tuple(out_indices)
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.zero_init_residual = zero_init_residual
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, n in enumerate(blocks):
            planes, stride = 64 * 2**i, (1 if i == 0 else 2)
            down = None
            if stride != 1 or cin != planes * block.expansion:
                down = nn.Sequential(
                    nn.Conv2d(cin, planes * block.expansion, 1, stride,
                              bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            layers = [block(cin, planes, stride, down)]
            cin = planes * block.expansion
            layers += [block(cin, planes, 1, None) for _ in range(1, n)]
            self.add_module(f'layer{i + 1}', nn.Sequential(*layers))
        self.feat_dim = cin
        self.out_channels = tuple(64 * 2**i * block.expansion
                                  for i in self.out_indices)
        self._freeze_stages()

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        """
        Args:
            x (Tensor): ``(B, C, T, H, W)`` or ``(B, C, H, W)``.

        Returns:
            Tensor | tuple[Tensor]: ``(B, C', T, H', W')`` per stage in
            ``out_indices`` (``(B, C', H', W')`` for image input).
        """
        video = x.dim() == 5
        if video:
            b, c, t, h, w = x.shape
            x = x.transpose(1, 2).reshape(b * t, c, h, w)
        elif x.dim() != 4:
            raise ValueError(f'TSNResNet2d expects (B, C, T, H, W) or '
                             f'(B, C, H, W), got {tuple(x.shape)}')
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(4):
            x = getattr(self, f'layer{i + 1}')(x)
            if i in self.out_indices:
                if video:
                    _, c2, h2, w2 = x.shape
                    outs.append(
                        x.view(b, t, c2, h2, w2).transpose(1, 2).contiguous())
                else:
                    outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                kaiming_init(m)
            elif isinstance(m, _BatchNorm):
                constant_init(m, 1)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, _Bottleneck2d):
                    constant_init(m.bn3, 0)
                elif isinstance(m, _Basic2d):
                    constant_init(m.bn2, 0)
        super().init_weights()

    def stem_modules(self) -> list:
        return [self.conv1, self.bn1]
