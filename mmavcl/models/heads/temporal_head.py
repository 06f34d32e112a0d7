"""A small temporal head over per-segment features (event localization)."""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmavcl.registry import MODELS

__all__ = ['TemporalSegmentHead']


@MODELS.register_module()
class TemporalSegmentHead(BaseModule):
    """Per-segment logits from a sequence of segment features.

    ``x (B, S, C)`` -> feature standardisation (``BatchNorm1d`` without
    affine, over every segment of the batch: frozen features of different
    encoders and modalities differ in scale by orders of magnitude) ->
    dropout -> a temporal layer -> ``(B, S, K)`` logits:

    * ``'bilstm'``: one bidirectional LSTM layer of ``hidden_channels`` per
      direction, then a linear classifier on each step (the AVE baselines'
      temporal model, one layer);
    * ``'conv'``: ``Conv1d(C, hidden, kernel_size)`` over the segments,
      ReLU, ``Conv1d(hidden, K, 1)``;
    * ``'none'``: a linear classifier on each segment alone (no context).

    The loss is ``loss_cls`` (cross-entropy) over all ``B * S`` segments.

    Args:
        num_classes: Classes ``K`` including background (AVE: 29).
        in_channels: Feature size ``C`` per segment.
        hidden_channels: LSTM width per direction / conv width.
        temporal: ``'bilstm'``, ``'conv'`` or ``'none'``.
        kernel_size: Of the first conv (odd).
        dropout_ratio: Dropout on the standardised features.
        loss_cls: Loss config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 hidden_channels: int = 128,
                 temporal: str = 'bilstm',
                 kernel_size: int = 3,
                 dropout_ratio: float = 0.1,
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temporal not in ('bilstm', 'conv', 'none'):
            raise ValueError(f"temporal must be 'bilstm', 'conv' or 'none', "
                             f'got {temporal!r}')
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.temporal = temporal
        self.norm = nn.BatchNorm1d(in_channels, affine=False)
        self.dropout = nn.Dropout(dropout_ratio)
        if temporal == 'bilstm':
            self.rnn = nn.LSTM(in_channels, hidden_channels, num_layers=1,
                               batch_first=True, bidirectional=True)
            self.fc = nn.Linear(2 * hidden_channels, num_classes)
        elif temporal == 'conv':
            self.conv = nn.Sequential(
                nn.Conv1d(in_channels, hidden_channels, kernel_size,
                          padding=kernel_size // 2), nn.ReLU(inplace=True))
            self.fc = nn.Linear(hidden_channels, num_classes)
        else:
            self.fc = nn.Linear(in_channels, num_classes)
        self.loss_cls = MODELS.build(loss_cls)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, C)`` segment features -> ``(B, S, K)`` logits."""
        if x.dim() != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(f'expected (B, S, {self.in_channels}) segment '
                             f'features, got {tuple(x.shape)}')
        b, s, c = x.shape
        x = self.norm(x.reshape(b * s, c)).reshape(b, s, c)
        x = self.dropout(x)
        if self.temporal == 'bilstm':
            x = self.rnn(x)[0]
        elif self.temporal == 'conv':
            x = self.conv(x.transpose(1, 2)).transpose(1, 2)
        return self.fc(x)

    def loss(self, x: torch.Tensor,
             labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Cross-entropy over every segment; ``labels (B, S)`` long.
        Also logs ``acc_seg`` (segment accuracy of the batch, %)."""
        logits = self(x)
        flat = logits.reshape(-1, self.num_classes)
        target = labels.reshape(-1)
        acc = (flat.argmax(1) == target).float().mean() * 100
        return dict(loss_cls=self.loss_cls(flat, target), acc_seg=acc.detach())
