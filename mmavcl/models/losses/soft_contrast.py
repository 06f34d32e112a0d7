"""Contrastive loss with soft (weighted) targets."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS


@MODELS.register_module()
class SoftTargetContrastLoss(nn.Module):
    r"""Cross entropy between a target distribution over keys and the softmax
    of query-key similarities (CtrlAug's region contrast, where the weights
    are, e.g., the spatio-temporal overlap of two views' regions).

    With :math:`s_{ij} = \hat q_i \cdot \hat k_j / \tau` and the weights
    renormalised per row, :math:`\tilde w_{ij} = w_{ij} / \sum_{j'} w_{ij'}`:

    .. math::
        L = -\frac{1}{|V|} \sum_{i \in V} \sum_j \tilde w_{ij}
            \log \frac{e^{s_{ij}}}{\sum_{j'} e^{s_{ij'}}}

    where :math:`V` are the rows with positive total weight (rows whose
    weights are all zero are skipped; if none is left the loss is 0 and still
    connected to the graph). Computed in fp32.

    Args:
        temperature (float): :math:`\tau`. Defaults to 0.1.
        normalize (bool): L2-normalise queries and keys. Defaults to True.
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 normalize: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'SoftTargetContrastLoss temperature must be > '
                             f'0, got {temperature}')
        self.temperature = temperature
        self.normalize = normalize
        self.loss_weight = loss_weight

    def forward(self, query: Tensor, keys: Tensor, weights: Tensor) -> Tensor:
        """
        Args:
            query (Tensor): ``(N, D)``.
            keys (Tensor): ``(M, D)``.
            weights (Tensor): ``(N, M)``, non-negative target weights.

        Returns:
            Tensor: scalar loss.
        """
        if query.dim() != 2 or keys.dim() != 2 or \
                query.shape[1] != keys.shape[1]:
            raise ValueError(f'SoftTargetContrastLoss expects query (N, D) '
                             f'and keys (M, D), got {tuple(query.shape)} and '
                             f'{tuple(keys.shape)}')
        if tuple(weights.shape) != (query.shape[0], keys.shape[0]):
            raise ValueError(f'SoftTargetContrastLoss weights must be (N, M) '
                             f'= ({query.shape[0]}, {keys.shape[0]}), got '
                             f'{tuple(weights.shape)}')
        if bool((weights < 0).any()):
            raise ValueError('SoftTargetContrastLoss weights must be >= 0')
        with torch.autocast(device_type=query.device.type, enabled=False):
            q, k, w = query.float(), keys.float(), weights.float()
            if self.normalize:
                q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
            log_prob = F.log_softmax(q @ k.t() / self.temperature, dim=1)
            total = w.sum(dim=1)
            valid = total > 0
            w = w / total.clamp(min=torch.finfo(w.dtype).tiny)[:, None]
            per_row = -(w * log_prob).sum(dim=1)
            if bool(valid.any()):
                loss = per_row[valid].mean()
            else:
                loss = per_row.sum() * 0.0
            loss = self.loss_weight * loss
        return loss

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, normalize={self.normalize}, '
                f'loss_weight={self.loss_weight}')
