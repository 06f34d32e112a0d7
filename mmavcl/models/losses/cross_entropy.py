"""Cross entropy for pretext and downstream classification."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    r"""Softmax cross entropy, computed in fp32.

    .. math::
        L = -\frac{1}{N} \sum_i \log \frac{e^{z_{i, y_i}}}{\sum_c e^{z_{ic}}}

    (with label smoothing :math:`\epsilon` the target is
    :math:`(1-\epsilon)\,\mathbb{1}[c = y_i] + \epsilon / C`).

    Args:
        loss_weight (float): Multiplier. Defaults to 1.0.
        label_smoothing (float): :math:`\epsilon`. Defaults to 0.0.
        class_weight (list[float], optional): Per-class weights.
            Defaults to None.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 label_smoothing: float = 0.0,
                 class_weight: Optional[list] = None) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """
        Args:
            logits (Tensor): ``(N, C)``.
            target (Tensor): ``(N,)`` class indices in ``[0, C)``.

        Returns:
            Tensor: scalar loss.
        """
        if logits.dim() != 2 or target.shape != logits.shape[:1]:
            raise ValueError(f'CrossEntropyLoss expects logits (N, C) and '
                             f'target (N,), got {tuple(logits.shape)} and '
                             f'{tuple(target.shape)}')
        num_classes = logits.shape[1]
        if target.numel() and (int(target.min()) < 0
                               or int(target.max()) >= num_classes):
            raise ValueError(f'CrossEntropyLoss: target values must be in '
                             f'[0, {num_classes}), got min '
                             f'{int(target.min())}, max {int(target.max())}')
        weight = None
        if self.class_weight is not None:
            weight = logits.new_tensor(self.class_weight, dtype=torch.float32)
        with torch.autocast(device_type=logits.device.type, enabled=False):
            loss = F.cross_entropy(
                logits.float(),
                target.long(),
                weight=weight,
                label_smoothing=self.label_smoothing)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, '
                f'label_smoothing={self.label_smoothing}')
