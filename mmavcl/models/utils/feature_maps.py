"""The two ways every model reads a backbone output.

A backbone returns one map, or a tuple of stage maps when several
``out_indices`` are requested (last stage last); necks, heads, algorithms
and the recognizer all take the last stage and pool it the same way.
"""
from typing import Sequence, Union

from torch import Tensor

Feature = Union[Tensor, Sequence[Tensor]]


def last_stage(feat: Feature) -> Tensor:
    """The last entry of a backbone's tuple of stages (or the map itself)."""
    return feat[-1] if isinstance(feat, (tuple, list)) else feat


def global_pool(feat: Feature) -> Tensor:
    """Average the last stage over every axis after the channels.

    Args:
        feat: ``(B, C, *spatial)``, ``(B, C)``, or a tuple of stages.

    Returns:
        Tensor: ``(B, C)``.
    """
    feat = last_stage(feat)
    return feat.flatten(2).mean(dim=2) if feat.dim() > 2 else feat
