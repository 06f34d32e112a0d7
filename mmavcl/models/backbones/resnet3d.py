"""3D ResNets (R3D, SlowOnly-style R3D-50, R(2+1)D) with MMAction2's keys.

The module tree mirrors MMAction2's ``ResNet3d`` / ``ResNet2Plus1d`` so that a
state dict moves between the two without key surgery (tested in
``tests/models/backbones/test_mmaction_interop.py``)::

    conv1.conv.weight, conv1.bn.*                       stem
    layer{i}.{j}.conv{1,2[,3]}.conv.weight / .bn.*      blocks
    layer{i}.0.downsample.conv.weight / .bn.*           projection shortcut
    ...conv.conv_s / conv.bn_s / conv.conv_t            (2+1)D factorisation
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn as nn
import torch.utils.checkpoint as cp
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import constant_init, kaiming_init
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmavcl.registry import MODELS
from .stage_freezing import StageFreezingMixin

_Triple = Tuple[int, int, int]


def _triple(x: Union[int, Sequence[int]]) -> _Triple:
    if isinstance(x, int):
        return (x, x, x)
    x = tuple(int(v) for v in x)
    if len(x) != 3:
        raise ValueError(f'expected an int or 3 ints, got {x}')
    return x


class Conv2plus1d(nn.Module):
    r"""(2+1)D convolution: spatial ``1 x k_h x k_w`` conv, BN, ReLU, then
    temporal ``k_t x 1 x 1`` conv (Tran et al., CVPR 2018).

    The middle width matches the parameters of a full 3D conv (paper Eq. 1),
    with the temporal kernel taken as 3 as in MMAction2's implementation (so
    shapes, and hence checkpoints, agree with it even for 1x1x1 convs):

    .. math::
        M = \left\lfloor \frac{3\, k_h k_w\, N_{in} N_{out}}
                              {k_h k_w N_{in} + 3 N_{out}} \right\rfloor

    Attribute names ``conv_s``, ``bn_s``, ``conv_t`` follow MMAction2.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int | tuple): ``(k_t, k_h, k_w)``.
        stride (int | tuple): ``(s_t, s_h, s_w)``. Defaults to 1.
        padding (int | tuple): ``(p_t, p_h, p_w)``. Defaults to 0.
        dilation (int | tuple): Spatial dilation is applied to ``conv_s``.
            Defaults to 1.
        bias (bool): Bias in both convs. Defaults to False.
        norm_cfg (dict): Norm of the middle activation. Defaults to BN3d.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Sequence[int]],
                 stride: Union[int, Sequence[int]] = 1,
                 padding: Union[int, Sequence[int]] = 0,
                 dilation: Union[int, Sequence[int]] = 1,
                 bias: bool = False,
                 norm_cfg: Dict = dict(type='BN3d')) -> None:
        super().__init__()
        k, s, p, d = (_triple(kernel_size), _triple(stride), _triple(padding),
                      _triple(dilation))
        area = k[1] * k[2]
        mid = (3 * area * in_channels * out_channels) // (
            area * in_channels + 3 * out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.mid_channels = mid
        self.conv_s = nn.Conv3d(
            in_channels,
            mid, (1, k[1], k[2]),
            stride=(1, s[1], s[2]),
            padding=(0, p[1], p[2]),
            dilation=(1, d[1], d[2]),
            bias=bias)
        self.bn_s = build_norm_layer(norm_cfg, mid)[1]
        self.relu = nn.ReLU(inplace=True)
        self.conv_t = nn.Conv3d(
            mid,
            out_channels, (k[0], 1, 1),
            stride=(s[0], 1, 1),
            padding=(p[0], 0, 0),
            bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_t(self.relu(self.bn_s(self.conv_s(x))))


class ConvBNAct3d(nn.Module):
    """``conv`` -> ``bn`` -> ``activate``: the attribute names of mmcv's
    ``ConvModule``, so keys read ``<name>.conv.weight`` / ``<name>.bn.*``.

    Args:
        in_channels, out_channels (int): Channels.
        kernel_size, stride, padding, dilation: As for ``nn.Conv3d``.
        factorize (bool): Use :class:`Conv2plus1d` instead of ``nn.Conv3d``.
        norm_cfg (dict): Norm config. Defaults to BN3d.
        act_cfg (dict, optional): Activation; None for no activation.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: Union[int, Sequence[int]],
                 stride: Union[int, Sequence[int]] = 1,
                 padding: Union[int, Sequence[int]] = 0,
                 dilation: Union[int, Sequence[int]] = 1,
                 factorize: bool = False,
                 norm_cfg: Dict = dict(type='BN3d'),
                 act_cfg: Optional[Dict] = dict(type='ReLU',
                                                inplace=True)) -> None:
        super().__init__()
        if factorize:
            # MMAction2 builds the middle BN from the conv's own default, so
            # only the norm *type* carries over (eps / momentum do not); doing
            # the same keeps outputs identical after a checkpoint transfer.
            mid_norm = {
                k: v
                for k, v in norm_cfg.items() if k in ('type', 'requires_grad')
            }
            self.conv = Conv2plus1d(in_channels, out_channels, kernel_size,
                                    stride, padding, dilation, False,
                                    mid_norm)
        else:
            self.conv = nn.Conv3d(
                in_channels,
                out_channels,
                _triple(kernel_size),
                stride=_triple(stride),
                padding=_triple(padding),
                dilation=_triple(dilation),
                bias=False)
        self.bn = build_norm_layer(norm_cfg, out_channels)[1]
        self.activate = (
            build_activation_layer(act_cfg) if act_cfg is not None else None)

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.activate(x) if self.activate is not None else x


class BasicBlock3d(nn.Module):
    """Two 3x3x3 (inflated) or 1x3x3 convs with a residual connection.

    The constructor is the block interface :class:`ResNet3d` builds every
    block through; a block of another shape (:class:`Bottleneck3d`,
    ``GLCLBasicBlock3d``) overrides :meth:`build_convs` only and keeps the
    shortcut, the final activation and gradient checkpointing.

    Args:
        inplanes (int): Input channels.
        planes (int): Output channels.
        spatial_stride, temporal_stride (int): Strides of the first conv.
        downsample (nn.Module, optional): Projection shortcut.
        inflate (bool): 3x3x3 convs if True, else 1x3x3.
        inflate_style (str): Read by :class:`Bottleneck3d` only.
        factorize (bool): (2+1)D convs.
        norm_cfg, act_cfg (dict): Norm and activation configs.
        with_cp (bool): Gradient checkpointing of the block.
    """
    expansion = 1

    def __init__(self,
                 inplanes: int,
                 planes: int,
                 spatial_stride: int = 1,
                 temporal_stride: int = 1,
                 downsample: Optional[nn.Module] = None,
                 inflate: bool = True,
                 inflate_style: str = '3x1x1',
                 factorize: bool = False,
                 norm_cfg: Dict = dict(type='BN3d'),
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 with_cp: bool = False) -> None:
        super().__init__()
        self.build_convs(
            inplanes,
            planes,
            stride=(temporal_stride, spatial_stride, spatial_stride),
            inflate=inflate,
            inflate_style=inflate_style,
            factorize=factorize,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.downsample = downsample
        self.relu = build_activation_layer(act_cfg)
        self.with_cp = with_cp

    def build_convs(self, inplanes: int, planes: int,
                    stride: Tuple[int, int, int], inflate: bool,
                    inflate_style: str, factorize: bool, norm_cfg: Dict,
                    act_cfg: Dict) -> None:
        """``conv1`` (with the block's ``(t, s, s)`` stride) and ``conv2``,
        ``planes`` -> ``planes * expansion``; the last one has no
        activation (it comes after the residual sum)."""
        kt, pt = (3, 1) if inflate else (1, 0)
        common = dict(factorize=factorize, norm_cfg=norm_cfg)
        self.conv1 = ConvBNAct3d(
            inplanes,
            planes, (kt, 3, 3),
            stride=stride,
            padding=(pt, 1, 1),
            act_cfg=act_cfg,
            **common)
        self.conv2 = ConvBNAct3d(
            planes, planes, (kt, 3, 3), padding=(pt, 1, 1), act_cfg=None,
            **common)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity

    def forward(self, x: Tensor) -> Tensor:
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._residual, x, use_reentrant=False)
        else:
            out = self._residual(x)
        return self.relu(out)


class Bottleneck3d(BasicBlock3d):
    """1x1x1 -> 3x3 -> 1x1x1 bottleneck; the temporal kernel (inflation)
    goes to the first conv (``'3x1x1'``) or the middle one (``'3x3x3'``).
    The spatial stride sits on the middle conv ("pytorch" style)."""
    expansion = 4

    def build_convs(self, inplanes: int, planes: int,
                    stride: Tuple[int, int, int], inflate: bool,
                    inflate_style: str, factorize: bool, norm_cfg: Dict,
                    act_cfg: Dict) -> None:
        if inflate_style not in ('3x1x1', '3x3x3'):
            raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', "
                             f'got {inflate_style!r}')
        if inflate and inflate_style == '3x1x1':
            k1, p1, k2, p2 = (3, 1, 1), (1, 0, 0), (1, 3, 3), (0, 1, 1)
        elif inflate:
            k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (3, 3, 3), (1, 1, 1)
        else:
            k1, p1, k2, p2 = (1, 1, 1), (0, 0, 0), (1, 3, 3), (0, 1, 1)
        common = dict(factorize=factorize, norm_cfg=norm_cfg)
        self.conv1 = ConvBNAct3d(
            inplanes, planes, k1, padding=p1, act_cfg=act_cfg, **common)
        self.conv2 = ConvBNAct3d(
            planes, planes, k2, stride=stride, padding=p2, act_cfg=act_cfg,
            **common)
        self.conv3 = ConvBNAct3d(
            planes, planes * self.expansion, 1, act_cfg=None, **common)

    def _residual(self, x: Tensor) -> Tensor:
        out = self.conv3(self.conv2(self.conv1(x)))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


@MODELS.register_module()
class ResNet3d(StageFreezingMixin, BaseModule):
    """3D ResNet with MMAction2's ``ResNet3d`` module names and defaults.

    Input ``(B, C, T, H, W)``; output the dense map of the last stage in
    ``out_indices``, ``(B, C', T', H', W')``, or a tuple of maps when
    ``out_indices`` has several entries.

    Common settings (arguments not listed keep their defaults):

    - R3D-18 (Hara et al.; torchvision ``r3d_18`` layout, 33.2 M params):
      ``depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
      with_pool2=False, temporal_strides=(1, 2, 2, 2)``.
    - SlowOnly R3D-50 (Feichtenhofer et al. 2019): ``depth=50,
      conv1_kernel=(1, 7, 7), inflate=(0, 0, 1, 1), with_pool2=False``.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        in_channels (int): Input channels. Defaults to 3.
        base_channels (int): Width of the stem and first stage; stage ``i``
            has ``base_channels * 2**i`` planes. Defaults to 64.
        num_stages (int): 1 to 4. Defaults to 4.
        stage_blocks (tuple, optional): Blocks per stage (overrides depth).
        out_indices (tuple[int]): Stages whose maps are returned.
            Defaults to ``(3, )``.
        spatial_strides (tuple[int]): Per stage. Defaults to ``(1, 2, 2, 2)``.
        temporal_strides (tuple[int]): Per stage. Defaults to
            ``(1, 1, 1, 1)``.
        conv1_kernel (tuple[int]): Stem kernel. Defaults to ``(3, 7, 7)``.
        conv1_stride_s, conv1_stride_t (int): Stem strides. Defaults 2, 1.
        pool1_stride_s, pool1_stride_t (int): Stem max-pool strides.
            Defaults 2, 1.
        with_pool1 (bool): Max-pool after the stem. Defaults to True.
        with_pool2 (bool): Temporal max-pool (2x1x1) after stage 1.
            Defaults to True (MMAction2's default).
        inflate (tuple[int]): Per stage, 1 = temporal kernels in the blocks.
            Defaults to ``(1, 1, 1, 1)``.
        inflate_style (str): Bottleneck inflation ``'3x1x1'`` or
            ``'3x3x3'``. Defaults to ``'3x1x1'``.
        norm_cfg (dict): Norm config, e.g. ``dict(type='SyncBN')``.
            Defaults to BN3d.
        act_cfg (dict): Activation. Defaults to ReLU.
        frozen_stages (int): Freeze the stem (0) and stages ``1..n``;
            -1 freezes nothing. Defaults to -1.
        norm_eval (bool): Keep BN layers in eval mode while training.
            Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        zero_init_residual (bool): Zero the last BN of every block at init.
            Defaults to True.
        init_cfg (dict | list[dict], optional): mmengine init config, e.g.
            ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``.
            It is applied after the default Kaiming init.
    """

    arch_settings = {
        18: (BasicBlock3d, (2, 2, 2, 2)),
        34: (BasicBlock3d, (3, 4, 6, 3)),
        50: (Bottleneck3d, (3, 4, 6, 3)),
        101: (Bottleneck3d, (3, 4, 23, 3)),
        152: (Bottleneck3d, (3, 8, 36, 3)),
    }
    factorize = False

    def __init__(self,
                 depth: int = 50,
                 in_channels: int = 3,
                 base_channels: int = 64,
                 num_stages: int = 4,
                 stage_blocks: Optional[Sequence[int]] = None,
                 out_indices: Sequence[int] = (3, ),
                 spatial_strides: Sequence[int] = (1, 2, 2, 2),
                 temporal_strides: Sequence[int] = (1, 1, 1, 1),
                 conv1_kernel: Sequence[int] = (3, 7, 7),
                 conv1_stride_s: int = 2,
                 conv1_stride_t: int = 1,
                 pool1_stride_s: int = 2,
                 pool1_stride_t: int = 1,
                 with_pool1: bool = True,
                 with_pool2: bool = True,
                 inflate: Sequence[int] = (1, 1, 1, 1),
                 inflate_style: str = '3x1x1',
                 norm_cfg: Dict = dict(type='BN3d', requires_grad=True),
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 zero_init_residual: bool = True,
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in self.arch_settings:
            raise KeyError(f'{type(self).__name__}: invalid depth {depth}, '
                           f'choose from {sorted(self.arch_settings)}')
        if not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages must be in [1, 4], got {num_stages}')
        block, blocks = self.arch_settings[depth]
        blocks = tuple(stage_blocks or blocks)[:num_stages]
        for name, seq in (('spatial_strides', spatial_strides),
                          ('temporal_strides', temporal_strides),
                          ('inflate', inflate)):
            if len(seq) < num_stages:
                raise ValueError(f'{name} needs {num_stages} entries, got '
                                 f'{tuple(seq)}')
        if not out_indices or max(out_indices) >= num_stages or \
                min(out_indices) < 0:
            raise ValueError(f'out_indices must be in [0, {num_stages}), got '
                             f'{tuple(out_indices)}')
        self.depth, self.block = depth, block
        self.stage_blocks = blocks
        self.num_stages = num_stages
        self.out_indices = tuple(out_indices)
        self.with_pool1, self.with_pool2 = with_pool1, with_pool2
        self.frozen_stages, self.norm_eval = frozen_stages, norm_eval
        self.zero_init_residual = zero_init_residual

        k = _triple(conv1_kernel)
        self.conv1 = ConvBNAct3d(
            in_channels,
            base_channels,
            k,
            stride=(conv1_stride_t, conv1_stride_s, conv1_stride_s),
            padding=tuple((v - 1) // 2 for v in k),
            factorize=self.factorize,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.maxpool = nn.MaxPool3d(
            kernel_size=(1, 3, 3),
            stride=(pool1_stride_t, pool1_stride_s, pool1_stride_s),
            padding=(0, 1, 1))
        self.pool2 = nn.MaxPool3d(kernel_size=(2, 1, 1), stride=(2, 1, 1))

        inplanes = base_channels
        self.res_layers = []
        for i, n in enumerate(blocks):
            planes = base_channels * 2**i
            layer = self._make_layer(
                block, inplanes, planes, n, spatial_strides[i],
                temporal_strides[i], bool(inflate[i]), inflate_style,
                norm_cfg, act_cfg, with_cp)
            inplanes = planes * block.expansion
            name = f'layer{i + 1}'
            self.add_module(name, layer)
            self.res_layers.append(name)
        self.feat_dim = inplanes
        self.out_channels = tuple(base_channels * 2**i * block.expansion
                                  for i in self.out_indices)
        self._freeze_stages()

    def _make_layer(self, block, inplanes: int, planes: int, num_blocks: int,
                    spatial_stride: int, temporal_stride: int, inflate: bool,
                    inflate_style: str, norm_cfg: Dict, act_cfg: Dict,
                    with_cp: bool) -> nn.Sequential:
        downsample = None
        if spatial_stride != 1 or temporal_stride != 1 or \
                inplanes != planes * block.expansion:
            downsample = ConvBNAct3d(
                inplanes,
                planes * block.expansion,
                1,
                stride=(temporal_stride, spatial_stride, spatial_stride),
                factorize=self.factorize,
                norm_cfg=norm_cfg,
                act_cfg=None)
        common = dict(
            inflate=inflate,
            inflate_style=inflate_style,
            factorize=self.factorize,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            with_cp=with_cp)
        layers = [
            block(inplanes, planes, spatial_stride, temporal_stride,
                  downsample, **common)
        ]
        for _ in range(1, num_blocks):
            layers.append(
                block(planes * block.expansion, planes, 1, 1, None, **common))
        return nn.Sequential(*layers)

    def _stem(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.maxpool(x) if self.with_pool1 else x

    def forward(self, x: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        """
        Args:
            x (Tensor): ``(B, C, T, H, W)``.

        Returns:
            Tensor | tuple[Tensor]: dense maps ``(B, C_i, T_i, H_i, W_i)`` of
            the stages in ``out_indices``.
        """
        if x.dim() != 5:
            raise ValueError(f'{type(self).__name__} expects (B, C, T, H, W) '
                             f'input, got shape {tuple(x.shape)}')
        x = self._stem(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i == 0 and self.with_pool2:
                x = self.pool2(x)
            if i in self.out_indices:
                outs.append(x)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def init_weights(self) -> None:
        """Kaiming init (fan-out) of convs, unit BN, zero last BN of each
        residual branch (``zero_init_residual``); then ``init_cfg`` (e.g.
        ``Pretrained``) through mmengine."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                kaiming_init(m)
            elif isinstance(m, _BatchNorm):
                constant_init(m, 1)
        if self.zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck3d):
                    constant_init(m.conv3.bn, 0)
                elif isinstance(m, BasicBlock3d):
                    constant_init(m.conv2.bn, 0)
        super().init_weights()


@MODELS.register_module()
class ResNet2Plus1d(ResNet3d):
    """R(2+1)D (Tran et al., CVPR 2018) with MMAction2's ``ResNet2Plus1d``
    keys: every conv, the stem and the shortcut projections included, is a
    :class:`Conv2plus1d`.

    As in MMAction2's ``ResNet2Plus1d.forward``, there is no ``pool2`` (the
    ``with_pool2`` argument is ignored). R(2+1)D-18 from the paper
    (33.2 M parameters without classifier):
    ``depth=18, temporal_strides=(1, 2, 2, 2),
    norm_cfg=dict(type='BN3d', eps=1e-3), zero_init_residual=False``.

    Note that torchvision's ``r2plus1d_18`` (45-channel stem, plain 1x1x1
    shortcut, 31.3 M) is a different model with different keys.
    """
    factorize = True

    def __init__(self, *args, **kwargs) -> None:
        kwargs['with_pool2'] = False
        super().__init__(*args, **kwargs)
