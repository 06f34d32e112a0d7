"""Two independent 3D ResNet pathways (GLCL's global/local video encoder)."""
from typing import Dict, Optional, Tuple

from mmengine.model import BaseModule
from torch import Tensor

from mmavcl.registry import MODELS
from .glcl_resnet3d import GLCLResNet3d
from .resnet3d import ResNet3d


@MODELS.register_module()
class TwoPathwayResNet3d(BaseModule):
    """SlowFast-like pair of 3D ResNet pathways **without lateral
    connections** (GLCL, Ma et al. NeurIPS 2021).

    Given ``(B, C, T, H, W)``:

    - the *fast / local* pathway sees ``x[:, :, ::fast_stride]`` and has
      ``beta`` times the width of the slow one (GLCL: all 32 frames, widths
      8-16-32-64, stem kernel 5x7x7);
    - the *slow / global* pathway sees every ``alpha``-th frame of the fast
      input, ``x[:, :, ::alpha * fast_stride]`` (GLCL: 4 of 32 frames, widths
      64-128-256-512, stem kernel 1x7x7).

    Both use stem stride (1, 2, 2), max-pool 1x3x3/2, stage spatial strides
    (1, 2, 2, 1) and no temporal downsampling, so a 112x112 input gives 7x7
    maps (GLCL's released code, METHODS.md section 2). ``block_layout``:

    - ``'glcl'`` (default, the released ``ResNet_SF``): :class:`GLCLResNet3d`
      pathways, whose blocks hold one 3x3x3 and one 1x1x1 conv; the first
      conv's kernel per stage is (1, 1, 3, 3) in the slow pathway and
      (3, 3, 3, 3) in the fast one. Slow 15.26 M + fast 0.24 M parameters
      at depth 18, as in the released modules.
    - ``'mmaction2'`` (our variant): :class:`ResNet3d` pathways with
      MMAction2's two-conv basic block, temporal kernels in stages 3-4 of the
      slow pathway (as in SlowFast) and everywhere in the fast one; slow
      31.8 M + fast 0.52 M parameters. Its ``slow_path.*`` weights load into
      an MMAction2 ``ResNet3d`` with the same arguments.

    ``zero_init_residual`` is off by default in both layouts, as in the
    released code. ``slow_pathway`` / ``fast_pathway`` override any argument
    of either pathway's class (e.g. ``temporal_strides``).

    Keys: ``slow_path.*`` and ``fast_path.*``, each with :class:`ResNet3d`'s
    (MMAction2's) names; the layouts differ only in kernel shapes (the names
    of the released code are mapped in ``glcl_resnet3d.py``).

    Args:
        depth (int): Depth of both pathways. Defaults to 18.
        alpha (int): Frame-rate ratio fast : slow. Defaults to 8.
        beta (float): Channel ratio fast : slow. Defaults to 1/8.
        fast_stride (int): Temporal subsampling of the fast input.
            Defaults to 1.
        slow_channels (int): Slow stem width. Defaults to 64.
        block_layout (str): ``'glcl'`` or ``'mmaction2'``. Defaults to
            ``'glcl'``.
        zero_init_residual (bool): Zero the last BN of every block at init.
            Defaults to False.
        slow_pathway (dict, optional): Extra arguments of the slow pathway.
        fast_pathway (dict, optional): Extra arguments of the fast pathway.
        init_cfg (dict, optional): mmengine init config.
    """

    block_layouts = ('glcl', 'mmaction2')

    def __init__(self,
                 depth: int = 18,
                 alpha: int = 8,
                 beta: float = 1 / 8,
                 fast_stride: int = 1,
                 slow_channels: int = 64,
                 block_layout: str = 'glcl',
                 zero_init_residual: bool = False,
                 slow_pathway: Optional[Dict] = None,
                 fast_pathway: Optional[Dict] = None,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if alpha < 1 or fast_stride < 1:
            raise ValueError(f'alpha and fast_stride must be >= 1, got '
                             f'alpha={alpha}, fast_stride={fast_stride}')
        if block_layout not in self.block_layouts:
            raise ValueError(f'TwoPathwayResNet3d block_layout must be one of '
                             f'{self.block_layouts}, got {block_layout!r}')
        fast_channels = int(round(slow_channels * beta))
        if fast_channels < 1:
            raise ValueError(f'beta={beta} leaves the fast pathway with '
                             f'{fast_channels} channels')
        common = dict(
            depth=depth,
            spatial_strides=(1, 2, 2, 1),
            temporal_strides=(1, 1, 1, 1),
            with_pool2=False,
            zero_init_residual=zero_init_residual)
        slow = dict(common, base_channels=slow_channels,
                    conv1_kernel=(1, 7, 7))
        fast = dict(common, base_channels=fast_channels,
                    conv1_kernel=(5, 7, 7))
        if block_layout == 'glcl':
            pathway = GLCLResNet3d
            slow.update(first_conv_kernels=(1, 1, 3, 3))
            fast.update(first_conv_kernels=(3, 3, 3, 3))
        else:
            pathway = ResNet3d
            slow.update(inflate=(0, 0, 1, 1))
            fast.update(inflate=(1, 1, 1, 1))
        slow.update(slow_pathway or {})
        fast.update(fast_pathway or {})
        self.alpha, self.fast_stride = alpha, fast_stride
        self.block_layout = block_layout
        self.slow_path = pathway(**slow)
        self.fast_path = pathway(**fast)
        self.out_channels = (self.slow_path.feat_dim, self.fast_path.feat_dim)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            x (Tensor): ``(B, C, T, H, W)``, ``T >= alpha * fast_stride``.

        Returns:
            tuple[Tensor, Tensor]: ``(slow, fast)`` dense maps
            ``(B, C_s, T_s, H', W')`` and ``(B, C_f, T_f, H', W')``.
        """
        if x.dim() != 5:
            raise ValueError(f'TwoPathwayResNet3d expects (B, C, T, H, W), '
                             f'got {tuple(x.shape)}')
        if x.shape[2] < self.alpha * self.fast_stride:
            raise ValueError(f'TwoPathwayResNet3d: T={x.shape[2]} frames is '
                             f'fewer than alpha*fast_stride='
                             f'{self.alpha * self.fast_stride}')
        fast = self.fast_path(x[:, :, ::self.fast_stride])
        slow = self.slow_path(x[:, :, ::self.alpha * self.fast_stride])
        return slow, fast
