"""MIL-NCE over bags of positives (spatial positions or time windows)."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS
from ..utils.dist_utils import all_gather_with_grad, concat_all_gather


def time_window_bags(num_anchor_steps: int,
                     num_target_steps: int,
                     window: Optional[int] = None) -> Tensor:
    r"""Indices of the target time steps paired with each anchor time step.

    Both sequences cover the same time span: anchor step :math:`t` of
    :math:`T_a` covers :math:`[t, t+1) \cdot S / T_a` and target step
    :math:`u` of :math:`T_b` covers :math:`[u, u+1) \cdot S / T_b`. With
    :math:`r = T_b / T_a`, anchor step :math:`t` is centred on target position
    :math:`c_t = (t + 1/2)\,r`; its bag is the ``window`` consecutive target
    steps centred there,

    .. math::
        \text{start}_t = \mathrm{clip}\big(\lfloor c_t - w/2 + 1/2 \rfloor,
                         0,\ T_b - w\big),\qquad
        \text{bag}_t = [\text{start}_t, \text{start}_t + w).

    When :math:`r` is an integer and :math:`w = r` this is exactly the set of
    target steps that overlap anchor step :math:`t`, :math:`[t r, (t+1) r)`
    (GLCL: 32 video steps, 96 audio steps, :math:`r = 3`). The arithmetic is
    done in integers, so no rounding drift appears for long sequences.

    Args:
        num_anchor_steps (int): :math:`T_a`, e.g. video time steps.
        num_target_steps (int): :math:`T_b`, e.g. audio time steps.
        window (int, optional): :math:`w`. Defaults to
            :math:`\max(1, \mathrm{round}(r))`.

    Returns:
        LongTensor: ``(T_a, w)`` target indices, increasing along each row.
    """
    t_a, t_b = int(num_anchor_steps), int(num_target_steps)
    if t_a <= 0 or t_b <= 0:
        raise ValueError(f'time_window_bags needs positive lengths, got '
                         f'num_anchor_steps={t_a}, num_target_steps={t_b}')
    if window is None:
        window = max(1, (2 * t_b + t_a) // (2 * t_a))
    if not 1 <= window <= t_b:
        raise ValueError(f'time_window_bags: window must be in [1, '
                         f'num_target_steps={t_b}], got {window}')
    t = torch.arange(t_a, dtype=torch.long)
    # floor(((2t+1) T_b / (2 T_a)) - w/2 + 1/2) with a common denominator.
    start = torch.div((2 * t + 1) * t_b - window * t_a + t_a,
                      2 * t_a,
                      rounding_mode='floor')
    start = start.clamp(0, t_b - window)
    return start[:, None] + torch.arange(window, dtype=torch.long)[None]


@MODELS.register_module()
class MILNCELoss(nn.Module):
    r"""MIL-NCE (Miech et al., CVPR 2020) with one bag of positives per anchor.

    Anchor :math:`a_i` is paired with bag :math:`\{c_{ip}\}_p`; the bags of the
    other samples are the negatives. With :math:`s_{ij}(p) = a_i \cdot c_{jp}
    / \tau` (L2-normalised first when ``normalize``) and masked entries
    dropped everywhere:

    .. math::
        \ell_i = -\log \frac{\sum_p e^{s_{ii}(p)}}
                           {\sum_j \sum_p e^{s_{ij}(p)}}

    ``symmetric=True`` also counts, as negatives of pair :math:`i`, the other
    anchors against bag :math:`i` (the negative set of the MIL-NCE paper and
    GLCL's global loss, :math:`\mathrm{LSE}_{j,p}\{s_{ij}(p) \cup s_{ji}(p)\}
    - \mathrm{LSE}_p\, s_{ii}(p)`; by default the positives appear once):

    .. math::
        \ell_i = -\log \frac{\sum_p e^{s_{ii}(p)}}
            {\sum_j \sum_p e^{s_{ij}(p)} + \sum_{j \ne i} \sum_p e^{s_{ji}(p)}}

    ``positive_in_denominator='twice'`` (needs ``symmetric=True``) keeps pair
    :math:`i` in both directions, as GLCL's released code does (it
    concatenates ``dot`` and ``dot.T`` over all j, so :math:`s_{ii}(p)`
    appears once per direction):

    .. math::
        \ell_i = -\log \frac{\sum_p e^{s_{ii}(p)}}
            {\sum_j \sum_p e^{s_{ij}(p)} + \sum_j \sum_p e^{s_{ji}(p)}}

    The denominator gains exactly the numerator, so
    :math:`\ell^{once}_i < \ell^{twice}_i \le \ell^{once}_i + \log 2` and
    :math:`\ell^{twice}_i \ge \log 2` (it never reaches 0).

    The loss is the mean of :math:`\ell_i` over local anchors, times
    ``loss_weight``. With ``gather`` the bags (and, if symmetric, the anchors)
    of all ranks are candidates, gathered with gradient. Computed in fp32.

    GLCL's official code uses neither normalisation nor a temperature, hence
    the defaults ``normalize=False``, ``temperature=1``.

    Args:
        temperature (float): :math:`\tau`. Defaults to 1.0.
        normalize (bool): L2-normalise anchors and bag items. Defaults to
            False.
        symmetric (bool): Add the reverse negatives (above). Defaults to False.
        positive_in_denominator (str): ``'once'`` or ``'twice'`` (GLCL's
            code; only with ``symmetric=True``). Defaults to ``'once'``.
        gather (bool): Use the global batch as negatives. Defaults to True.
        loss_weight (float): Multiplier. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 normalize: bool = False,
                 symmetric: bool = False,
                 gather: bool = True,
                 loss_weight: float = 1.0,
                 positive_in_denominator: str = 'once') -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'MILNCELoss temperature must be > 0, got '
                             f'{temperature}')
        if positive_in_denominator not in ('once', 'twice'):
            raise ValueError(f"MILNCELoss positive_in_denominator must be "
                             f"'once' or 'twice', got "
                             f'{positive_in_denominator!r}')
        if positive_in_denominator == 'twice' and not symmetric:
            # Without the reverse direction there is no second copy of the
            # positive pair to keep.
            raise ValueError("MILNCELoss positive_in_denominator='twice' "
                             'needs symmetric=True')
        self.positive_in_denominator = positive_in_denominator
        self.temperature = temperature
        self.normalize = normalize
        self.symmetric = symmetric
        self.gather = gather
        self.loss_weight = loss_weight

    def forward(self,
                anchor: Tensor,
                bags: Tensor,
                bag_mask: Optional[Tensor] = None) -> Tensor:
        """
        Args:
            anchor (Tensor): ``(N, D)``.
            bags (Tensor): ``(N, P, D)``; ``bags[i]`` are the positives of
                ``anchor[i]``.
            bag_mask (Tensor, optional): ``(N, P)`` bool, False for padding
                items that take no part in the loss. Each bag needs one True.

        Returns:
            Tensor: scalar loss.
        """
        if anchor.dim() != 2 or bags.dim() != 3 or \
                bags.shape[0] != anchor.shape[0] or \
                bags.shape[2] != anchor.shape[1]:
            raise ValueError(f'MILNCELoss expects anchor (N, D) and bags '
                             f'(N, P, D), got {tuple(anchor.shape)} and '
                             f'{tuple(bags.shape)}')
        n, p, _ = bags.shape
        if bag_mask is None:
            bag_mask = torch.ones(n, p, dtype=torch.bool, device=bags.device)
        elif tuple(bag_mask.shape) != (n, p):
            raise ValueError(f'MILNCELoss bag_mask must be (N, P) = ({n}, '
                             f'{p}), got {tuple(bag_mask.shape)}')
        bag_mask = bag_mask.bool()
        if not bool(bag_mask.any(dim=1).all()):
            raise ValueError('MILNCELoss: every bag needs one unmasked item')
        with torch.autocast(device_type=anchor.device.type, enabled=False):
            a, c = anchor.float(), bags.float()
            if self.normalize:
                a, c = F.normalize(a, dim=-1), F.normalize(c, dim=-1)
            if self.gather:
                c_all, offset = all_gather_with_grad(c, return_offset=True)
                m_all = concat_all_gather(bag_mask.to(torch.uint8)).bool()
            else:
                c_all, offset, m_all = c, 0, bag_mask
            rows = torch.arange(n, device=a.device)
            neg_inf = float('-inf')
            # s[i, j, p] = a_i . c_jp / tau over the global bags j.
            s = torch.einsum('id,jpd->ijp', a, c_all) / self.temperature
            s = s.masked_fill(~m_all[None], neg_inf)
            pos = torch.logsumexp(s[rows, rows + offset], dim=1)
            terms = [s.flatten(1)]
            if self.symmetric:
                a_all, a_off = (all_gather_with_grad(a, return_offset=True)
                                if self.gather else (a, 0))
                # r[i, j, p] = a_j . c_ip / tau: other anchors vs bag i.
                r = torch.einsum('jd,ipd->ijp', a_all, c) / self.temperature
                r = r.masked_fill(~bag_mask[:, None], neg_inf)
                if self.positive_in_denominator == 'once':
                    # Pair i itself is already in s.
                    r[rows, rows + a_off] = neg_inf
                terms.append(r.flatten(1))
            log_z = torch.logsumexp(torch.cat(terms, dim=1), dim=1)
            loss = self.loss_weight * (log_z - pos).mean()
        return loss

    def extra_repr(self) -> str:
        return (f'temperature={self.temperature}, normalize={self.normalize}, '
                f'symmetric={self.symmetric}, gather={self.gather}, '
                f'loss_weight={self.loss_weight}, positive_in_denominator='
                f'{self.positive_in_denominator!r}')
