"""InfoNCE / NT-Xent: in-batch and queue negatives, multiple positives."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS
from ..utils.dist_utils import all_gather_with_grad


def multi_positive_nce(logits: Tensor,
                       pos_mask: Tensor,
                       mode: str = 'milnce') -> Tensor:
    r"""Per-row contrastive loss with any number of positives per row.

    With :math:`s_{ij}` the logits of row :math:`i` and :math:`P(i)` its
    positives (``pos_mask[i]``):

    - ``'milnce'`` (MIL-NCE, Miech et al. 2020):
      :math:`\ell_i = -\log \frac{\sum_{p \in P(i)} e^{s_{ip}}}
      {\sum_j e^{s_{ij}}}`
    - ``'supcon'`` (SupCon "out", Khosla et al. 2020):
      :math:`\ell_i = -\frac{1}{|P(i)|} \sum_{p \in P(i)}
      \log \frac{e^{s_{ip}}}{\sum_j e^{s_{ij}}}`

    Both equal the usual cross entropy when each row has one positive.

    Args:
        logits (Tensor): ``(N, M)``, already divided by the temperature.
        pos_mask (Tensor): ``(N, M)`` bool; every row needs a positive.
        mode (str): ``'milnce'`` or ``'supcon'``.

    Returns:
        Tensor: ``(N,)`` per-row losses.
    """
    if logits.shape != pos_mask.shape:
        raise ValueError(f'logits {tuple(logits.shape)} and pos_mask '
                         f'{tuple(pos_mask.shape)} must have the same shape')
    pos_mask = pos_mask.bool()
    if not bool(pos_mask.any(dim=1).all()):
        raise ValueError('every row of pos_mask needs at least one positive')
    log_z = torch.logsumexp(logits, dim=1)
    if mode == 'milnce':
        pos = torch.logsumexp(logits.masked_fill(~pos_mask, float('-inf')),
                              dim=1)
        return log_z - pos
    if mode == 'supcon':
        log_prob = logits - log_z[:, None]
        n_pos = pos_mask.sum(dim=1)
        return -(log_prob * pos_mask).sum(dim=1) / n_pos
    raise ValueError(f"multi_positive must be 'milnce' or 'supcon', got "
                     f'{mode!r}')


@MODELS.register_module()
class InfoNCELoss(nn.Module):
    r"""InfoNCE (NT-Xent) between queries and keys.

    ``key[i]`` is ``query[i]``'s positive. For local query :math:`q_i` the
    candidate set :math:`C` is

    - with ``in_batch_negatives``: the keys of the **global** batch, gathered
      with :func:`all_gather_with_grad` (SimCLR / CLIP style), plus the queue;
    - otherwise: only its own key :math:`k_i` plus the queue (MoCo style).

    With :math:`s_{ic} = \hat q_i \cdot \hat c / \tau` (hats: L2-normalised
    when ``normalize``) and :math:`P(i)` the positives of row :math:`i`
    (its own key, plus queue entries flagged in ``queue_pos_mask``):

    .. math::
        L_{q \to k} = \frac{1}{N} \sum_i \ell_i, \qquad
        \ell_i = -\log \frac{\sum_{p \in P(i)} e^{s_{ip}}}
                                {\sum_{c \in C} e^{s_{ic}}}
        \quad (\text{MIL-NCE; SupCon averages } \log \text{ over } P(i)).

    ``row_negatives`` ``(N, H, D)`` adds to row :math:`i` only its own
    :math:`H` extra negatives :math:`\{r_{ih}\}_h` (e.g. synthetic hard
    negatives mixed for that query), so :math:`C_i = C \cup \{r_{ih}\}_h`
    differs per row; they are appended after the queue columns, are never
    positives and are not gathered across ranks (they belong to the local
    query).

    ``symmetric`` returns :math:`\frac{1}{2}(L_{q \to k} + L_{k \to q})`, where
    :math:`L_{k \to q}` swaps the roles of queries and keys over the in-batch
    candidates (the queue, being key-space memory, is only used by
    :math:`q \to k`).

    The loss is computed in fp32 with autocast disabled, so it is safe under
    fp16/bf16 mixed precision.

    Args:
        temperature (float): :math:`\tau`. Defaults to 0.1.
        symmetric (bool): Average both directions. Needs
            ``in_batch_negatives`` and no queue. Defaults to False.
        multi_positive (str): ``'milnce'`` (log of summed positives) or
            ``'supcon'`` (mean of per-positive logs). Defaults to ``'milnce'``.
        in_batch_negatives (bool): Use the other keys of the global batch as
            negatives. Defaults to True.
        normalize (bool): L2-normalise queries, keys and queue. Defaults to
            True.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 symmetric: bool = False,
                 multi_positive: str = 'milnce',
                 in_batch_negatives: bool = True,
                 normalize: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'InfoNCELoss temperature must be > 0, got '
                             f'{temperature}')
        if multi_positive not in ('milnce', 'supcon'):
            raise ValueError(f"InfoNCELoss multi_positive must be 'milnce' or "
                             f"'supcon', got {multi_positive!r}")
        if symmetric and not in_batch_negatives:
            raise ValueError('InfoNCELoss(symmetric=True) needs '
                             'in_batch_negatives=True: with only its own key '
                             'as candidate the reverse direction is constant')
        self.temperature = temperature
        self.symmetric = symmetric
        self.multi_positive = multi_positive
        self.in_batch_negatives = in_batch_negatives
        self.normalize = normalize
        self.loss_weight = loss_weight

    def _logits(self, anchor: Tensor, cands: Tensor, offset: int,
                queue: Optional[Tensor],
                queue_pos_mask: Optional[Tensor],
                row_negatives: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor]:
        n = anchor.shape[0]
        rows = torch.arange(n, device=anchor.device)
        if self.in_batch_negatives:
            logits = anchor @ cands.t()
            pos_mask = torch.zeros_like(logits, dtype=torch.bool)
            pos_mask[rows, rows + offset] = True
        else:
            logits = (anchor * cands).sum(dim=1, keepdim=True)
            pos_mask = torch.ones_like(logits, dtype=torch.bool)
        if queue is not None:
            logits = torch.cat([logits, anchor @ queue.t()], dim=1)
            if queue_pos_mask is None:
                queue_pos_mask = torch.zeros(
                    n, queue.shape[0], dtype=torch.bool, device=anchor.device)
            pos_mask = torch.cat([pos_mask, queue_pos_mask.bool()], dim=1)
        if row_negatives is not None:
            # (N, D) x (N, H, D) -> (N, H): row i against its own H only,
            # one batched contraction instead of a loop over the rows.
            own = torch.einsum('nd,nhd->nh', anchor, row_negatives)
            logits = torch.cat([logits, own], dim=1)
            pos_mask = torch.cat([pos_mask, torch.zeros_like(
                own, dtype=torch.bool)], dim=1)
        return logits / self.temperature, pos_mask

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        queue: Optional[Tensor] = None,
        queue_pos_mask: Optional[Tensor] = None,
        return_logits: bool = False,
        row_negatives: Optional[Tensor] = None
    ) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
        """
        Args:
            query (Tensor): ``(N, D)`` local queries (they keep their graph).
            key (Tensor): ``(N, D)``; ``key[i]`` is the positive of
                ``query[i]``. Detach it yourself for a momentum encoder.
            queue (Tensor, optional): ``(K, D)`` extra candidates, negatives
                unless flagged in ``queue_pos_mask``.
            queue_pos_mask (Tensor, optional): ``(N, K)`` bool, True where a
                queue entry is an extra positive of a query.
            return_logits (bool): Also return the ``q -> k`` logits
                ``(N, M)`` (divided by the temperature) and their positive
                mask, e.g. for :func:`contrastive_accuracy`.
            row_negatives (Tensor, optional): ``(N, H, D)``; ``[i]`` are
                extra negatives of ``query[i]`` alone (class docstring).
                Their logits are the last ``H`` columns.

        Returns:
            Tensor | tuple: the weighted scalar loss, or
            ``(loss, logits, pos_mask)``.
        """
        if query.dim() != 2 or query.shape != key.shape:
            raise ValueError(f'InfoNCELoss expects query and key of the same '
                             f'shape (N, D), got {tuple(query.shape)} and '
                             f'{tuple(key.shape)}')
        if queue is not None:
            if queue.dim() != 2 or queue.shape[1] != query.shape[1]:
                raise ValueError(f'InfoNCELoss queue must be (K, '
                                 f'{query.shape[1]}), got '
                                 f'{tuple(queue.shape)}')
            if self.symmetric:
                raise ValueError(
                    'InfoNCELoss(symmetric=True) does not take a queue: call '
                    'the loss once per direction with that direction\'s '
                    'queue instead')
        if queue_pos_mask is not None:
            if queue is None:
                raise ValueError('queue_pos_mask given without a queue')
            if tuple(queue_pos_mask.shape) != (query.shape[0],
                                               queue.shape[0]):
                raise ValueError(
                    f'InfoNCELoss queue_pos_mask must be (N, K) = '
                    f'({query.shape[0]}, {queue.shape[0]}), got '
                    f'{tuple(queue_pos_mask.shape)}')
        if row_negatives is not None:
            if self.symmetric:
                raise ValueError('InfoNCELoss(symmetric=True) does not take '
                                 'row_negatives (they are q -> k candidates, '
                                 'like the queue)')
            if row_negatives.dim() != 3 or row_negatives.shape[0] != \
                    query.shape[0] or row_negatives.shape[2] != \
                    query.shape[1]:
                raise ValueError(
                    f'InfoNCELoss row_negatives must be (N, H, D) = '
                    f'({query.shape[0]}, H, {query.shape[1]}), got '
                    f'{tuple(row_negatives.shape)}')
        with torch.autocast(device_type=query.device.type, enabled=False):
            q, k = query.float(), key.float()
            if queue is not None:
                queue = queue.float()
            if self.normalize:
                q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
                if queue is not None:
                    queue = F.normalize(queue, dim=1)
            if row_negatives is not None:
                row_negatives = row_negatives.float()
                if self.normalize:
                    row_negatives = F.normalize(row_negatives, dim=2)
            if self.in_batch_negatives:
                k_all, offset = all_gather_with_grad(k, return_offset=True)
            else:
                k_all, offset = k, 0
            logits, pos_mask = self._logits(q, k_all, offset, queue,
                                            queue_pos_mask, row_negatives)
            loss = multi_positive_nce(logits, pos_mask,
                                      self.multi_positive).mean()
            if self.symmetric:
                q_all, offset = all_gather_with_grad(q, return_offset=True)
                logits_k, pos_k = self._logits(k, q_all, offset, None, None)
                loss_k = multi_positive_nce(logits_k, pos_k,
                                            self.multi_positive).mean()
                loss = 0.5 * (loss + loss_k)
            loss = self.loss_weight * loss
        if return_logits:
            return loss, logits.detach(), pos_mask
        return loss

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, symmetric={self.symmetric}, '
                f'multi_positive={self.multi_positive!r}, '
                f'in_batch_negatives={self.in_batch_negatives}, '
                f'normalize={self.normalize}, loss_weight={self.loss_weight}')
