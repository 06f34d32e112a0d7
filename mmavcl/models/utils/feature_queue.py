"""A FIFO queue of L2-normalised features kept as module buffers."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .dist_utils import concat_all_gather


class FeatureQueue(nn.Module):
    """FIFO memory of ``length`` feature vectors of size ``dim`` (MoCo queue).

    ``queue`` ``(length, dim)`` and the write pointer ``ptr`` ``(1,)`` are
    registered buffers, so both are saved in checkpoints and a resumed run
    continues writing where it stopped (VCLR's official code keeps the pointer
    in a plain attribute and restarts it at 0 on resume).

    Args:
        length (int): Number of stored features ``K``.
        dim (int): Feature size ``D``.
        init (str): ``'normal'``: Gaussian rows, L2-normalised (MoCo).
            ``'uniform'``: i.i.d. ``U(-s, s)`` with ``s = 1 / sqrt(D / 3)``, as
            VCLR's ``MemorySeCo``; each row then has expected squared norm 1
            but is not exactly normalised. Defaults to ``'normal'``.
        gather (bool): Gather keys from all ranks before enqueueing, so every
            rank holds the same queue. Defaults to True.
        normalize (bool): L2-normalise keys on enqueue (idempotent for keys
            that are already normalised). Defaults to True.
    """

    def __init__(self,
                 length: int,
                 dim: int,
                 init: str = 'normal',
                 gather: bool = True,
                 normalize: bool = True) -> None:
        super().__init__()
        if length <= 0 or dim <= 0:
            raise ValueError(f'FeatureQueue needs length > 0 and dim > 0, got '
                             f'length={length}, dim={dim}')
        if init == 'normal':
            queue = F.normalize(torch.randn(length, dim), dim=1)
        elif init == 'uniform':
            bound = 1.0 / math.sqrt(dim / 3)
            queue = torch.rand(length, dim) * (2 * bound) - bound
        else:
            raise ValueError(f"FeatureQueue init must be 'normal' or "
                             f"'uniform', got {init!r}")
        self.length, self.dim = length, dim
        self.gather, self.normalize = gather, normalize
        self.register_buffer('queue', queue)
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))

    def features(self) -> Tensor:
        """Detached copy ``(K, D)`` of the queue.

        Read it before :meth:`enqueue` in the same step; the copy keeps a
        later in-place enqueue from touching a tensor used in the graph.
        """
        return self.queue.detach().clone()

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` ``(N, D)`` (gathered over ranks when ``gather``).

        Key ``k`` of the (gathered) batch goes to row ``(ptr + k) % K``; when
        more than ``K`` keys arrive only the newest ``K`` are kept. The pointer
        then advances by the number of keys, modulo ``K``, so batches need
        not divide the queue length.
        """
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f'FeatureQueue.enqueue expects keys of shape '
                             f'(N, {self.dim}), got {tuple(keys.shape)}')
        keys = keys.detach()
        if self.gather:
            keys = concat_all_gather(keys)
        if self.normalize:
            keys = F.normalize(keys.float(), dim=1)
        keys = keys.to(self.queue.dtype)
        n = keys.shape[0]
        if n == 0:
            return
        ptr = int(self.ptr.item())
        first = max(0, n - self.length)
        rows = (ptr + torch.arange(first, n, device=self.queue.device)) \
            % self.length
        self.queue[rows] = keys[first:]
        self.ptr[0] = (ptr + n) % self.length

    def extra_repr(self) -> str:
        return (f'length={self.length}, dim={self.dim}, gather={self.gather}, '
                f'normalize={self.normalize}')
