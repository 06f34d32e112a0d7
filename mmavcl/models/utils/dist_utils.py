"""Collectives for contrastive learning that also work without a process group.

Every function here degrades to the identity at world size 1 or when
``torch.distributed`` is not initialised, so debug runs on one device never
need a process group.

Gradient convention of :func:`all_gather_with_grad`
----------------------------------------------------
Each rank computes its loss over its *local* anchors against the *global*
candidates, and DDP then averages parameter gradients over ranks. For the
averaged gradient to equal the gradient of the global-batch loss
``L = (1/W) sum_r L_r``, the gradient reaching a local feature ``x_j`` must be
``sum_r dL_r/dx_j``: its own rank's loss *and* every other rank's loss that
used ``x_j`` as a candidate. So the backward pass all-reduces (sums) the
incoming gradient and keeps the local slice. This is the "GatherLayer"
convention; it is exact, with no extra loss scaling, and
``tests/models/utils/test_dist_utils.py`` checks it against one process holding
the whole batch through a real DDP-wrapped model on a gloo group. Returning
only the local slice of the gradient *without* the reduction (dropping what
other ranks' anchors contributed) under-counts; scaling the loss by ``W`` on
top of the reduction double counts.
"""
from typing import List, Tuple, Union

import torch
import torch.distributed as dist
# ``(rank, world_size)``, ``(0, 1)`` without a process group: mmengine's,
# re-exported here so that algorithms import every collective from one place
from mmengine.dist import get_dist_info
from torch import Tensor

__all__ = ['get_dist_info', 'all_gather_with_grad', 'concat_all_gather']


def _gather_sizes(n: int, device: torch.device) -> List[int]:
    size = torch.tensor([n], device=device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


def _all_gather_padded(x: Tensor, sizes: List[int]) -> List[Tensor]:
    """Gather ``x`` (no gradient) from every rank; ``sizes[r]`` is rank r's
    first dimension. Pads to the largest size because ``all_gather`` needs
    equal shapes, then strips the padding."""
    max_n = max(sizes)
    if x.shape[0] < max_n:
        pad = x.new_zeros((max_n - x.shape[0], ) + tuple(x.shape[1:]))
        x = torch.cat([x, pad], dim=0)
    x = x.contiguous()
    out = [torch.empty_like(x) for _ in sizes]
    dist.all_gather(out, x)
    return [o[:n] for o, n in zip(out, sizes)]


class _GatherWithGrad(torch.autograd.Function):
    """All-gather whose backward sums the gradient over ranks (see module
    docstring) and returns the local slice."""

    @staticmethod
    def forward(ctx, x: Tensor, rank: int, sizes: List[int]) -> Tensor:
        parts = _all_gather_padded(x.detach(), sizes)
        ctx.rank, ctx.sizes = rank, sizes
        # The local slice is ``x`` itself so that no precision is lost.
        parts[rank] = x.detach()
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor):
        # Every rank holds a (sum(sizes), ...) gradient, so all_reduce works
        # even when the per-rank batch sizes differ.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None, None


def all_gather_with_grad(
        x: Tensor,
        return_offset: bool = False) -> Union[Tensor, Tuple[Tensor, int]]:
    """Concatenate ``x`` from all ranks along dim 0, keeping the gradient.

    Args:
        x (Tensor): ``(N, ...)`` local features; ``N`` may differ between
            ranks.
        return_offset (bool): Also return the row where the local slice
            starts in the output (``rank * N`` when all ranks hold ``N``).

    Returns:
        Tensor: ``(sum_r N_r, ...)``. Rows of the local slice keep their graph;
        the backward pass sums the gradients from every rank's loss into the
        local slice (module docstring). At world size 1 this returns ``x``.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return (x, 0) if return_offset else x
    sizes = _gather_sizes(x.shape[0], x.device)
    out = _GatherWithGrad.apply(x, rank, sizes)
    return (out, sum(sizes[:rank])) if return_offset else out


@torch.no_grad()
def concat_all_gather(x: Tensor) -> Tensor:
    """Concatenate ``x`` (``(N, ...)``) from all ranks along dim 0, no grad.

    Returns ``x.detach()`` at world size 1; ``N`` may differ between ranks.
    """
    _, world_size = get_dist_info()
    if world_size == 1:
        return x.detach()
    sizes = _gather_sizes(x.shape[0], x.device)
    return torch.cat(_all_gather_padded(x.detach(), sizes), dim=0)
