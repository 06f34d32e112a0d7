"""Shuffle-BN (MoCo): permute the batch across ranks before a key encoder
with per-rank BatchNorm, so BN statistics cannot leak which key matches which
query. A no-op at world size 1, where BN sees the whole batch anyway."""
from typing import Optional, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

from .dist_utils import concat_all_gather, get_dist_info


def _check_equal_batches(x: Tensor, world_size: int) -> int:
    n = x.shape[0]
    sizes = torch.tensor([n], device=x.device)
    gathered = [torch.zeros_like(sizes) for _ in range(world_size)]
    dist.all_gather(gathered, sizes)
    sizes = [int(s.item()) for s in gathered]
    if len(set(sizes)) != 1:
        raise ValueError(f'batch_shuffle_ddp needs the same batch size on '
                         f'every rank, got {sizes}; use drop_last=True or a '
                         f'sampler that pads to equal shards')
    return n


@torch.no_grad()
def batch_shuffle_ddp(x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """Shuffle a batch across all ranks.

    Args:
        x (Tensor): ``(N, ...)`` local batch (same ``N`` on every rank).

    Returns:
        tuple: ``(x_shuffled (N, ...), idx_unshuffle (world*N,))`` to pass to
        :func:`batch_unshuffle_ddp`. At world size 1: ``(x, None)``.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return x, None
    n = _check_equal_batches(x, world_size)
    x_all = concat_all_gather(x)
    idx_shuffle = torch.randperm(x_all.shape[0], device=x.device)
    # Every rank must use the same permutation.
    dist.broadcast(idx_shuffle, src=0)
    idx_unshuffle = torch.argsort(idx_shuffle)
    idx_this = idx_shuffle.view(world_size, n)[rank]
    return x_all[idx_this], idx_unshuffle


@torch.no_grad()
def batch_unshuffle_ddp(x: Tensor, idx_unshuffle: Optional[Tensor]) -> Tensor:
    """Undo :func:`batch_shuffle_ddp` on the encoder output ``x`` (N, ...)."""
    rank, world_size = get_dist_info()
    if world_size == 1 or idx_unshuffle is None:
        return x
    n = x.shape[0]
    x_all = concat_all_gather(x)
    idx_this = idx_unshuffle.view(world_size, n)[rank]
    return x_all[idx_this]
