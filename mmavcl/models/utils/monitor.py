"""Cheap statistics to log during contrastive training."""
import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def contrastive_accuracy(logits: Tensor, pos_mask: Tensor) -> Tensor:
    """Top-1 accuracy (%) of a contrastive task.

    Args:
        logits (Tensor): ``(N, M)`` similarity of each anchor to ``M``
            candidates.
        pos_mask (Tensor): ``(N, M)`` bool, True where a candidate is a
            positive of the anchor.

    Returns:
        Tensor: scalar, ``100 * mean_i [pos_mask[i, argmax_j logits[i, j]]]``.
    """
    if logits.shape != pos_mask.shape:
        raise ValueError(f'contrastive_accuracy: logits {tuple(logits.shape)} '
                         f'and pos_mask {tuple(pos_mask.shape)} differ')
    top1 = logits.argmax(dim=1, keepdim=True)
    hit = pos_mask.bool().gather(1, top1).float()
    return hit.mean() * 100.0


@torch.no_grad()
def embedding_std(z: Tensor) -> Tensor:
    """Collapse monitor: std over the batch of L2-normalised ``z``, averaged
    over dimensions.

    Args:
        z (Tensor): ``(N, D)`` embeddings, ``N >= 2``.

    Returns:
        Tensor: scalar. About ``1 / sqrt(D)`` for embeddings spread over the
        sphere; 0 when all embeddings collapse to one point.
    """
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f'embedding_std expects (N>=2, D), got '
                         f'{tuple(z.shape)}')
    return F.normalize(z.float(), dim=1).std(dim=0).mean()
