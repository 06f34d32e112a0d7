"""One pathway of GLCL's video encoder, with the block of the released code.

GLCL (Ma et al., NeurIPS 2021; yunyikristy/global_local @75c3c89,
``resnet3d.py``: ``BasicBlock_SF`` / ``ResNet_SF``) builds both pathways from
a basic block that holds **one** 3x3x3 conv and **one** 1x1x1 conv instead
of two 3x3x3 convs. A per-stage ``ksize`` picks which of the two comes first
(and carries the stage's spatial stride): 3 gives 3x3x3 -> 1x1x1, 1 gives
1x1x1 -> 3x3x3. Every block therefore has a temporal kernel of 3, in all
stages of both pathways.

Keys are :class:`ResNet3d`'s (MMAction2's naming); only the kernel shapes
differ. The released code's names map one to one::

    official (ResNet_SF)           mmavcl (GLCLResNet3d)
    conv1.weight, bn1.*            conv1.conv.weight, conv1.bn.*
    layer{i}.{j}.conv{k}.weight    layer{i}.{j}.conv{k}.conv.weight
    layer{i}.{j}.bn{k}.*           layer{i}.{j}.conv{k}.bn.*
    layer{i}.0.downsample.0.weight layer{i}.0.downsample.conv.weight
    layer{i}.0.downsample.1.*      layer{i}.0.downsample.bn.*
"""
from typing import Dict, Sequence, Tuple

from mmavcl.registry import MODELS
from .resnet3d import BasicBlock3d, ConvBNAct3d, ResNet3d


class GLCLBasicBlock3d(BasicBlock3d):
    """GLCL's basic block (``BasicBlock_SF``): one 3x3x3 conv and one 1x1x1
    conv with a residual connection, ``(B, C_in, T, H, W) ->
    (B, C_out, T, H / s, W / s)``.

    The first conv carries the spatial stride ``(1, s, s)`` whichever kernel
    it has, as in the released code. The arguments are :class:`ResNet3d`'s
    block interface; ``inflate`` is read as "the 3x3x3 conv comes first"
    (the released code's ``ksize == 3``), which :class:`GLCLResNet3d` sets
    per stage from ``first_conv_kernels``. ``conv2.bn`` is the block's last
    norm, so ``zero_init_residual`` zeroes it as for :class:`BasicBlock3d`.

    Args:
        inplanes (int): Input channels.
        planes (int): Output channels.
        spatial_stride, temporal_stride (int): Strides of the first conv.
        downsample (nn.Module, optional): Projection shortcut.
        inflate (bool): 3x3x3 -> 1x1x1 if True, 1x1x1 -> 3x3x3 if False.
        inflate_style (str): Ignored (bottleneck-only option of ResNet3d).
        factorize (bool): Must be False; (2+1)D has no meaning here.
        norm_cfg, act_cfg (dict): Norm and activation configs.
        with_cp (bool): Gradient checkpointing of the block.
    """

    def build_convs(self, inplanes: int, planes: int,
                    stride: Tuple[int, int, int], inflate: bool,
                    inflate_style: str, factorize: bool, norm_cfg: Dict,
                    act_cfg: Dict) -> None:
        if factorize:
            raise ValueError('GLCLBasicBlock3d has no (2+1)D form '
                             '(factorize=True)')
        full = dict(kernel_size=(3, 3, 3), padding=(1, 1, 1))
        point = dict(kernel_size=(1, 1, 1), padding=(0, 0, 0))
        first, second = (full, point) if inflate else (point, full)
        self.conv1 = ConvBNAct3d(
            inplanes,
            planes,
            stride=stride,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            **first)
        self.conv2 = ConvBNAct3d(
            planes, planes, norm_cfg=norm_cfg, act_cfg=None, **second)


@MODELS.register_module()
class GLCLResNet3d(ResNet3d):
    """One pathway of GLCL's video encoder (the released ``ResNet_SF``) built
    from :class:`GLCLBasicBlock3d`.

    Input ``(B, C, T, H, W)``; output the dense map ``(B, C', T, H', W')``
    (the released pathways never stride in time).

    Defaults give the **slow / global** pathway of the released code: stem
    1x7x7 stride (1, 2, 2), max-pool 1x3x3/2, widths 64-128-256-512, stage
    spatial strides (1, 2, 2, 1), ``first_conv_kernels=(1, 1, 3, 3)``,
    15.26 M parameters (15,256,128). The **fast / local** pathway is
    ``base_channels=8, conv1_kernel=(5, 7, 7),
    first_conv_kernels=(3, 3, 3, 3)`` (0.24 M, 241,832). Both counts equal
    those of the released modules (measured by building them; checked
    analytically in ``tests/models/backbones/test_glcl_encoders.py``).

    Weights start as in the released code (Kaiming-normal fan-out convs,
    unit BN); ``zero_init_residual`` is off because the code does not use it.

    Every other argument is :class:`ResNet3d`'s; ``inflate`` and
    ``inflate_style`` are replaced by ``first_conv_kernels``. Keys follow
    :class:`ResNet3d` (mapping to the released names in this module's
    docstring), but the block shapes differ from MMAction2's, so these
    weights do not load into an MMAction2 ``ResNet3d``.

    Args:
        depth (int): 18 or 34 (basic blocks). Defaults to 18.
        first_conv_kernels (tuple[int]): Per stage, the kernel of each
            block's first conv, 1 or 3 (the released code's ``ksize``).
            Defaults to ``(1, 1, 3, 3)``.
        base_channels (int): Stem / first stage width. Defaults to 64.
        conv1_kernel (tuple[int]): Stem kernel. Defaults to ``(1, 7, 7)``.
        spatial_strides (tuple[int]): Defaults to ``(1, 2, 2, 1)``.
        temporal_strides (tuple[int]): Defaults to ``(1, 1, 1, 1)``.
        with_pool2 (bool): Defaults to False.
        zero_init_residual (bool): Defaults to False.
        **kwargs: Other :class:`ResNet3d` arguments.
    """

    arch_settings = {
        18: (GLCLBasicBlock3d, (2, 2, 2, 2)),
        34: (GLCLBasicBlock3d, (3, 4, 6, 3)),
    }

    def __init__(self,
                 depth: int = 18,
                 first_conv_kernels: Sequence[int] = (1, 1, 3, 3),
                 base_channels: int = 64,
                 conv1_kernel: Sequence[int] = (1, 7, 7),
                 spatial_strides: Sequence[int] = (1, 2, 2, 1),
                 temporal_strides: Sequence[int] = (1, 1, 1, 1),
                 with_pool2: bool = False,
                 zero_init_residual: bool = False,
                 **kwargs) -> None:
        for key in ('inflate', 'inflate_style'):
            if key in kwargs:
                raise TypeError(f'GLCLResNet3d takes first_conv_kernels, not '
                                f'{key}')
        kernels = tuple(int(k) for k in first_conv_kernels)
        if any(k not in (1, 3) for k in kernels):
            raise ValueError(f'GLCLResNet3d first_conv_kernels must be 1 or '
                             f'3 per stage, got {kernels}')
        self.first_conv_kernels = kernels
        super().__init__(
            depth=depth,
            base_channels=base_channels,
            conv1_kernel=conv1_kernel,
            spatial_strides=spatial_strides,
            temporal_strides=temporal_strides,
            with_pool2=with_pool2,
            # ResNet3d passes each stage's flag to the block, which reads it
            # as "the 3x3x3 conv comes first"
            inflate=tuple(int(k == 3) for k in kernels),
            zero_init_residual=zero_init_residual,
            **kwargs)
