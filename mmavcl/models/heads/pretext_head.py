"""Classification head for pretext tasks (order, speed, direction, ...)."""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmavcl.registry import MODELS


@MODELS.register_module()
class PretextClsHead(BaseModule):
    """MLP that maps pooled features to pretext-task logits.

    Accepts one feature tensor or a sequence of them, which are concatenated
    along channels (e.g. the two clips of an order pair: ``[f_a, f_b]``).
    Dense inputs ``(B, C, *S)`` are average-pooled first.

    The head only makes logits: an algorithm scores them with its own loss
    config (e.g. ``VCLR.loss_order``), next to the accuracy it logs from
    the same logits.

    Args:
        in_channels (int): Channels after concatenation.
        num_classes (int): Number of pretext classes.
        hid_channels (int | list[int], optional): Hidden widths; None or []
            for a linear head. Defaults to None.
        norm_cfg (dict, optional): Norm after hidden layers, e.g.
            ``dict(type='BN1d')``. Defaults to None.
        act_cfg (dict): Activation. Defaults to ReLU.
        dropout (float): Dropout before the last linear. Defaults to 0.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 hid_channels: Optional[Union[int, Sequence[int]]] = None,
                 norm_cfg: Optional[Dict] = None,
                 act_cfg: Dict = dict(type='ReLU', inplace=True),
                 dropout: float = 0.0,
                 init_cfg: Optional[Dict] = dict(
                     type='Normal', std=0.01, layer='Linear')) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes < 2:
            raise ValueError(f'PretextClsHead needs num_classes >= 2, got '
                             f'{num_classes}')
        if hid_channels is None:
            hid = []
        elif isinstance(hid_channels, int):
            hid = [hid_channels]
        else:
            hid = list(hid_channels)
        self.in_channels, self.num_classes = in_channels, num_classes
        widths = [in_channels, *hid]
        layers = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers.append(nn.Linear(cin, cout))
            if norm_cfg is not None:
                layers.append(build_norm_layer(norm_cfg, cout)[1])
            layers.append(build_activation_layer(act_cfg))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(widths[-1], num_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """
        Args:
            x (Tensor | list[Tensor]): ``(B, C_k)`` or ``(B, C_k, *S)``
                features; concatenated to ``(B, in_channels)``.

        Returns:
            Tensor: logits ``(B, num_classes)``.
        """
        feats = list(x) if isinstance(x, (list, tuple)) else [x]
        feats = [f.mean(dim=tuple(range(2, f.dim()))) if f.dim() > 2 else f
                 for f in feats]
        x = torch.cat(feats, dim=1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'PretextClsHead expects {self.in_channels} '
                             f'channels after concatenation, got '
                             f'{x.shape[1]} (inputs: '
                             f'{[tuple(f.shape) for f in feats]})')
        return self.mlp(x)
