"""Momentum (EMA) copy of an online encoder, built on mmengine's EMA."""
import math
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import ExponentialMovingAverage
from torch.nn.modules.batchnorm import _BatchNorm


class MomentumEncoder(nn.Module):
    r"""Key / target encoder updated as an exponential moving average.

    .. math::
        \xi \leftarrow m\,\xi + (1 - m)\,\theta

    where :math:`\xi` are the momentum weights, :math:`\theta` the online
    weights and :math:`m` the momentum (MoCo: 0.999). mmengine's
    ``ExponentialMovingAverage`` does the averaging; its ``momentum`` is the
    weight of the *new* value, so it receives :math:`1 - m`.

    With ``end_momentum`` set, :math:`m` follows the cosine schedule of BYOL,

    .. math::
        m_k = m_{end} - (m_{end} - m_0)\,\frac{\cos(\pi k / K) + 1}{2},

    given the current iteration :math:`k` and the total :math:`K` in
    :meth:`update`.

    Call :meth:`update` once per iteration *before* the key forward pass. The
    first call copies the online weights (mmengine's EMA starts from a copy),
    which also picks up weights that ``init_weights()`` or a pretrained
    checkpoint loaded into the online encoder after this module was built.
    Buffers (BN running statistics) are copied from the online encoder on
    every update (mmengine's ``update_buffers=False``, as mmpretrain's MoCo).

    Args:
        online (nn.Module): The online encoder to copy (e.g. backbone + neck).
        momentum (float): :math:`m_0` in [0, 1]. Defaults to 0.999.
        end_momentum (float, optional): Final momentum of the cosine schedule;
            None keeps :math:`m` constant. Defaults to None.
        bn_train (bool): Keep BatchNorm layers in train mode (batch
            statistics) while the rest of the copy runs in eval mode, as the
            MoCo/VCLR key encoders do. If False the copy is always in eval
            mode. Defaults to True.
    """

    def __init__(self,
                 online: nn.Module,
                 momentum: float = 0.999,
                 end_momentum: Optional[float] = None,
                 bn_train: bool = True) -> None:
        super().__init__()
        for name, value in (('momentum', momentum),
                            ('end_momentum', end_momentum)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f'MomentumEncoder: {name} must be in [0, 1], '
                                 f'got {value}')
        # mmengine asserts 0 < momentum < 1 at construction; m in {0, 1} is
        # legal here (1 freezes the copy), so build with a placeholder.
        self.ema = ExponentialMovingAverage(online, momentum=0.5)
        self.base_momentum = momentum
        self.end_momentum = end_momentum
        self.bn_train = bn_train
        self.momentum = momentum
        self._set_momentum(momentum)
        self.train(online.training)

    @property
    def module(self) -> nn.Module:
        """The averaged copy of the online encoder."""
        return self.ema.module

    def _set_momentum(self, m: float) -> None:
        self.momentum = float(m)
        self.ema.momentum = 1.0 - self.momentum

    def train(self, mode: bool = True) -> 'MomentumEncoder':
        super().train(mode)
        self.ema.module.eval()
        if mode and self.bn_train:
            for m in self.ema.module.modules():
                if isinstance(m, _BatchNorm):
                    m.train()
        return self

    @torch.no_grad()
    def forward(self, *args, **kwargs):
        """Run the momentum copy without building a graph."""
        return self.ema.module(*args, **kwargs)

    @torch.no_grad()
    def update(self,
               online: nn.Module,
               cur_iter: Optional[int] = None,
               max_iters: Optional[int] = None) -> None:
        """Move the copy towards ``online``.

        Args:
            online (nn.Module): The online encoder (same structure).
            cur_iter (int, optional): Current iteration, for the schedule.
            max_iters (int, optional): Total iterations, for the schedule.
        """
        if self.end_momentum is not None:
            if cur_iter is None or max_iters is None or max_iters <= 0:
                raise ValueError('MomentumEncoder with end_momentum needs '
                                 'cur_iter and max_iters > 0 in update()')
            progress = min(max(cur_iter / max_iters, 0.0), 1.0)
            m = self.end_momentum - (self.end_momentum - self.base_momentum) \
                * (math.cos(math.pi * progress) + 1) / 2
            self._set_momentum(m)
        self.ema.update_parameters(online)
