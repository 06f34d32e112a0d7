"""CtrlAug: Controllable Augmentations for Video Representation Learning.

Qian, Lin, See, Li, arXiv 2203.16632 (Visual Intelligence 2(1), 2024). No
official code exists. Verified from the abstract and paper opening: local
clips and global videos of the same video, controllable augmentations that
make the region correspondence between views known exactly, a soft
spatio-temporal region contrast, (adversarial) mutual-information
minimisation against the low-level redundancy shortcut, and a local-global
temporal order dependency task. **Everything about how each term is built
here is a reconstruction [RECON]** (``configs/ctrlaug/README.md``).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from ..utils import GradientReversal, global_pool
from .base import BaseSSLAlgorithm, Inputs, sample_name


# ----------------------------------------------------------------- geometry
def cell_extents(meta: dict, grid: Sequence[int]) -> Tensor:
    """Source-video extent of every feature cell of one view.

    A view with ``time_span (t0, t1)`` (seconds) and ``crop_box
    (x1, y1, x2, y2)`` (source pixels) becomes a ``(T', H', W')`` feature
    grid. Cell ``(t, i, j)`` covers the t-th of T' equal parts of the time
    span (in playback order, so mirrored when the view is ``reversed``),
    the i-th of H' rows of the box and the j-th of W' columns (mirrored
    when the view was ``flip``-ped, which undoes the flip).

    Args:
        meta (dict): one entry of ``AVDataSample.view_meta``.
        grid (tuple[int]): ``(T', H', W')``.

    Returns:
        Tensor: ``(T'*H'*W', 3, 2)`` float64, ``[axis][lo, hi]`` with axes
        (time, y, x), cells in ``(t, i, j)`` row-major order.
    """
    for key in ('time_span', 'crop_box'):
        if key not in meta:
            raise KeyError(f'CtrlAug region contrast needs view_meta["{key}"]'
                           f' (recorded by the view sampler); got keys '
                           f'{sorted(meta)}')
    t0, t1 = (float(v) for v in meta['time_span'])
    x1, y1, x2, y2 = (float(v) for v in meta['crop_box'])
    nt, nh, nw = (int(g) for g in grid)

    def splits(lo, hi, n, mirror):
        edges = torch.linspace(lo, hi, n + 1, dtype=torch.float64)
        seg = torch.stack([edges[:-1], edges[1:]], dim=1)   # (n, 2)
        return seg.flip(0) if mirror else seg

    ts = splits(t0, t1, nt, bool(meta.get('reversed', False)))
    ys = splits(y1, y2, nh, False)
    xs = splits(x1, x2, nw, bool(meta.get('flip', False)))
    t_idx, y_idx, x_idx = torch.meshgrid(
        torch.arange(nt), torch.arange(nh), torch.arange(nw), indexing='ij')
    return torch.stack(
        [ts[t_idx.flatten()], ys[y_idx.flatten()], xs[x_idx.flatten()]],
        dim=1)


def region_overlap_weights(query_meta: dict, query_grid: Sequence[int],
                           key_meta: dict, key_grid: Sequence[int]
                           ) -> Tensor:
    r"""Fraction of each query cell's source volume inside each key cell.

    .. math::
        w_{rs} = \frac{|\mathrm{vol}(r) \cap \mathrm{vol}(s)|}
                      {|\mathrm{vol}(r)|}

    with volumes in source space-time (seconds x pixels x pixels), flips
    undone (see :func:`cell_extents`).

    Returns:
        Tensor: ``(Nq, Nk)`` float64 in [0, 1]; a row sums to the fraction of
        the query cell that the key view covers.
    """
    q = cell_extents(query_meta, query_grid)[:, None]        # (Nq, 1, 3, 2)
    k = cell_extents(key_meta, key_grid)[None]               # (1, Nk, 3, 2)
    inter = (torch.minimum(q[..., 1], k[..., 1]) -
             torch.maximum(q[..., 0], k[..., 0])).clamp(min=0).prod(-1)
    vol = (q[..., 1] - q[..., 0]).prod(-1)
    return inter / vol.clamp(min=torch.finfo(torch.float64).tiny)


# --------------------------------------------------------- MI estimators
@MODELS.register_module()
class CLUBEstimator(nn.Module):
    r"""CLUB upper bound of I(x; y) (Cheng et al., ICML 2020).

    A Gaussian :math:`q_\phi(y|x) = \mathcal{N}(\mu(x), e^{\ell(x)})` is fit
    by maximum likelihood on matched pairs (``fit_loss``, gradients to
    :math:`\phi` only); the encoder minimises

    .. math::
        \hat I = \frac1N\sum_i\Big[\log q_\phi(y_i|x_i)
            - \frac1N\sum_j \log q_\phi(y_j|x_i)\Big]

    with :math:`\phi` frozen (``estimate``, gradients to x and y only).
    Constant terms of the Gaussian log-density cancel and are dropped.
    Calling the module gives the weighted term
    :math:`\lambda_{MI}\hat I` (``loss_weight``), so that CtrlAug's
    ``loss_mi`` config carries :math:`\lambda_{MI}` for either estimator.

    Args:
        in_channels (int): channels of x and y.
        hid_channels (int): hidden size of the mean and log-variance MLPs.
        loss_weight (float): :math:`\lambda_{MI}`.
    """

    def __init__(self, in_channels: int, hid_channels: int = 256,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.mu = nn.Sequential(nn.Linear(in_channels, hid_channels),
                                nn.ReLU(inplace=True),
                                nn.Linear(hid_channels, in_channels))
        self.logvar = nn.Sequential(nn.Linear(in_channels, hid_channels),
                                    nn.ReLU(inplace=True),
                                    nn.Linear(hid_channels, in_channels),
                                    nn.Tanh())

    def _stats(self, x: Tensor, frozen: bool) -> Tuple[Tensor, Tensor]:
        if not frozen:
            return self.mu(x), self.logvar(x)
        params = {k: v.detach() for k, v in self.named_parameters()}
        mu = torch.func.functional_call(self.mu, {
            k[3:]: v for k, v in params.items() if k.startswith('mu.')}, (x, ))
        logvar = torch.func.functional_call(self.logvar, {
            k[7:]: v for k, v in params.items()
            if k.startswith('logvar.')}, (x, ))
        return mu, logvar

    def fit_loss(self, x: Tensor, y: Tensor) -> Tensor:
        """Negative log-likelihood of matched pairs (features detached)."""
        mu, logvar = self._stats(x.detach(), frozen=False)
        return (((mu - y.detach())**2) / logvar.exp() + logvar).sum(1).mean() \
            / 2

    def estimate(self, x: Tensor, y: Tensor) -> Tensor:
        """CLUB estimate with frozen :math:`\\phi`."""
        mu, logvar = self._stats(x, frozen=True)
        pos = -((mu - y)**2 / logvar.exp()).sum(1) / 2
        neg = -((mu[:, None] - y[None])**2 /
                logvar.exp()[:, None]).sum(2).mean(1) / 2
        return (pos - neg).mean()

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """:math:`\\lambda_{MI}\\hat I`, the term the encoder minimises."""
        return self.loss_weight * self.estimate(x, y)


# -------------------------------------------------------------- algorithm
@MODELS.register_module()
class CtrlAug(BaseSSLAlgorithm):
    r"""Global-local contrast with known region correspondence [RECON].

    Views: a global video G (frames spread over the whole video) and N
    local clips :math:`L_1..L_N` (short, consecutive frames), each with
    recorded crop box, time span and flip. The backbone returns an early
    stage (low-level) and the last stage (dense map). Online encoder
    :math:`\theta`, momentum encoder :math:`\xi`.

    **Clip contrast** (MoCo, queue :math:`\mathcal{Q}` of global keys):

    .. math::
        \mathcal{L}_{clip} = \frac1N\sum_n -\log
          \frac{e^{q_{L_n}\cdot k_G/\tau}}{e^{q_{L_n}\cdot k_G/\tau}
          + \sum_{m\in\mathcal{Q}} e^{q_{L_n}\cdot m/\tau}}

    **Soft region contrast**: cells r of a local map (online, projected per
    cell, L2-normalised :math:`z_r`) against the global cells s of every
    video in the batch (momentum, :math:`\hat z_s`), with targets from the
    true source-space overlap :math:`w_{rs}` (zero for other videos):

    .. math::
        \mathcal{L}_{reg} = -\frac{1}{|V|}\sum_{r\in V}\sum_s \tilde w_{rs}
          \log\frac{e^{z_r\cdot\hat z_s/\tau_r}}{\sum_{s'}
          e^{z_r\cdot\hat z_{s'}/\tau_r}},\qquad
          \tilde w_{rs} = \frac{w_{rs}}{\sum_{s'} w_{rs'}}

    (V: local cells that overlap the global view at all.)

    **MI minimisation** between low-level pooled features :math:`h_L, h_G`
    of the two views. ``mi_estimator='adversarial'``: a discriminator D
    behind a gradient-reversal layer tells matched :math:`(h_{L_i},
    h_{G_i})` from mismatched :math:`(h_{L_i}, h_{G_{i+1}})` pairs;
    :math:`\mathcal{L}_{MI} = \mathrm{CE}(D(\mathrm{GRL}[h_L; h_G]), y)`, so D
    learns to detect the shared low-level statistics while the encoder
    learns to remove them. ``'club'``: :math:`\mathcal{L}_{MI} = \hat I_{CLUB}
    (h_L; h_G)` plus the estimator's own likelihood fit
    (``loss_club_fit``).

    **Local-global order**: a head on :math:`[g; l_1; ...; l_N]` (pooled
    backbone features) predicts ``pretext_labels['lg_order']`` (the
    permutation of the shuffled local clips, or the temporal bin of G holding
    the clip).

    .. math::
        \mathcal{L} = \lambda_{clip}\mathcal{L}_{clip}
          + \lambda_{reg}\mathcal{L}_{reg}
          + \lambda_{MI}\mathcal{L}_{MI} + \lambda_{ord}\mathcal{L}_{ord}

    (each :math:`\lambda` is the ``loss_weight`` of its loss config).

    Inputs: ``inputs['video']`` = ``[G, L_1, ..., L_N]``, each
    ``(B, 3, T, H, W)``; ``data_samples[b].view_meta`` in the same order.

    Args:
        backbone (dict): video backbone with ``out_indices`` holding an
            early stage first and the last stage last.
        neck (dict): clip projection ``(B, C) -> (B, D)``.
        region_neck (dict): per-cell projection of dense maps
            ``(B, C, T', H', W') -> (B, D, T', H', W')``.
        order_head (dict): classifier on ``(B, (N+1) C)``.
        mi_discriminator (dict): classifier on ``(B, 2 C_low)`` with 2
            classes (adversarial estimator).
        num_local (int): N.
        loss_clip (dict): ``InfoNCELoss`` (MoCo form).
        loss_region (dict): ``SoftTargetContrastLoss``.
        loss_mi (dict): the MI term: ``CrossEntropyLoss`` of the
            discriminator (``'adversarial'``) or a ``CLUBEstimator`` with
            ``in_channels`` = the low-level channels (``'club'``); its
            ``loss_weight`` is :math:`\lambda_{MI}` either way.
        loss_order (dict): ``CrossEntropyLoss``.
        mi_estimator (str): ``'adversarial'``, ``'club'`` or ``None``.
        grl_lambda (float): gradient-reversal scale.
        order_label_key (str): ``'lg_order'`` (permutation of the shuffled
            local clips, variant a) or ``'lg_bin'`` (temporal bin of G that
            holds the first local clip, variant b).
        low_level_index (int): which backbone output is "low-level".
        **key_encoder_args: ``queue_len`` (of the queue of global keys),
            ``feat_dim`` (D), ``momentum``, ``end_momentum``,
            ``shuffle_bn``: see :meth:`BaseSSLAlgorithm.init_key_encoders`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 region_neck: dict,
                 order_head: dict,
                 mi_discriminator: Optional[dict] = None,
                 num_local: int = 3,
                 loss_clip: dict = dict(type='InfoNCELoss', temperature=0.1,
                                        in_batch_negatives=False),
                 loss_region: dict = dict(type='SoftTargetContrastLoss',
                                          temperature=0.1),
                 loss_mi: dict = dict(type='CrossEntropyLoss',
                                      loss_weight=0.1),
                 loss_order: dict = dict(type='CrossEntropyLoss'),
                 mi_estimator: Optional[str] = 'adversarial',
                 grl_lambda: float = 1.0,
                 order_label_key: str = 'lg_order',
                 low_level_index: int = 0,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **key_encoder_args) -> None:
        super().__init__(backbone=backbone, neck=neck, head=order_head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if mi_estimator not in ('adversarial', 'club', None):
            raise ValueError(f"CtrlAug: mi_estimator must be 'adversarial', "
                             f"'club' or None, got {mi_estimator!r}")
        self.region_neck = MODELS.build(region_neck)
        self.loss_clip = MODELS.build(loss_clip)
        self.loss_region = MODELS.build(loss_region)
        self.loss_order = MODELS.build(loss_order)
        self.mi_estimator = mi_estimator
        self.num_local = num_local
        self.low_level_index = low_level_index
        self.order_label_key = order_label_key
        if mi_estimator == 'adversarial':
            if mi_discriminator is None:
                raise ValueError('CtrlAug(mi_estimator="adversarial") needs '
                                 'mi_discriminator')
            self.grl = GradientReversal(grl_lambda)
            self.mi_discriminator = MODELS.build(mi_discriminator)
            self.loss_mi = MODELS.build(loss_mi)
        elif mi_estimator == 'club':
            # the estimator is the loss: its networks and lambda_MI
            self.club = MODELS.build(loss_mi)
            if not isinstance(self.club, CLUBEstimator):
                raise ValueError(
                    'CtrlAug(mi_estimator="club") needs loss_mi=dict('
                    "type='CLUBEstimator', in_channels=<low-level "
                    f'channels>, loss_weight=...), got {loss_mi}')
        self.init_key_encoders(dict(momentum_encoder=self._online()),
                               queues=['queue'], **key_encoder_args)

    def _online(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck,
                                  region_neck=self.region_neck))

    def _stages(self, feats: Union[Tensor, Sequence[Tensor]]
                ) -> Tuple[Tensor, Tensor]:
        if not isinstance(feats, (tuple, list)) or len(feats) < 2:
            raise TypeError('CtrlAug needs a backbone with at least two '
                            'out_indices (a low-level stage and the last)')
        return feats[self.low_level_index], feats[-1]

    def encode(self, x: Tensor, net: nn.Module) -> Dict[str, Tensor]:
        """Low-level pooled ``h_low``, pooled ``h``, clip embedding ``z``
        and per-cell embeddings ``cells (B, Ncells, D)`` + their ``grid``,
        with ``net``'s modules (online or momentum)."""
        low, last = self._stages(net.backbone(x))
        h = global_pool(last)
        cells = net.region_neck(last)
        return dict(h_low=global_pool(low), h=h,
                    z=F.normalize(net.neck(h), dim=1),
                    cells=F.normalize(cells.flatten(2).transpose(1, 2),
                                      dim=2),
                    grid=tuple(cells.shape[2:]))

    def overlap_targets(self, data_samples: List[AVDataSample],
                        local_view: int, local_grid: Sequence[int],
                        global_grid: Sequence[int],
                        device: torch.device) -> Tensor:
        """Block-diagonal ``(B*Nl, B*Ng)`` overlap weights of local view
        ``local_view`` against the global view (view 0) of every sample."""
        blocks = []
        for i, sample in enumerate(data_samples):
            metas = sample.get('view_meta', None)
            if metas is None or len(metas) != self.num_local + 1:
                raise ValueError(
                    f'sample {sample_name(sample, i)}: CtrlAug needs '
                    f'view_meta for the global view and {self.num_local} '
                    'local clips, got '
                    f'{None if metas is None else len(metas)} entries')
            blocks.append(region_overlap_weights(metas[local_view],
                                                 local_grid, metas[0],
                                                 global_grid))
        weights = torch.block_diag(*blocks)
        return weights.to(device=device, dtype=torch.float32)

    def mi_loss(self, h_l: Tensor, h_g: Tensor) -> Dict[str, Tensor]:
        """:math:`\\lambda_{MI}\\mathcal{L}_{MI}` of low-level features
        ``h_l``, ``h_g`` ``(B, C_low)`` and its log entries (empty without
        an estimator)."""
        if self.mi_estimator == 'adversarial':
            # Matched pairs (label 1) vs. the next sample's global (label 0).
            pairs = torch.cat([torch.cat([h_l, h_g], 1),
                               torch.cat([h_l, h_g.roll(1, 0)], 1)])
            target = torch.cat([torch.ones_like(h_l[:, 0]),
                                torch.zeros_like(h_l[:, 0])]).long()
            logits = self.mi_discriminator(self.grl(pairs))
            return dict(loss_mi=self.loss_mi(logits, target),
                        acc_mi_disc=self.cls_accuracy(logits, target))
        if self.mi_estimator == 'club':
            return dict(loss_mi=self.club(h_l, h_g),
                        loss_club_fit=self.club.fit_loss(h_l, h_g))
        return {}

    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        views = self.get_views(inputs, 'video', num=self.num_local + 1)
        glob, locs = views[0], views[1:]
        online = self._online()
        self.momentum_update(self.momentum_encoder, online)
        q_g = self.encode(glob, online)
        q_l = [self.encode(x, online) for x in locs]
        k_g = self.key_forward(self.encode, glob)
        queue = self.queue.features()
        losses: Dict[str, Tensor] = {}

        clip_terms, region_terms = [], []
        for n, q in enumerate(q_l):
            loss, logits, pos = self.loss_clip(q['z'], k_g['z'], queue,
                                               return_logits=True)
            clip_terms.append(loss)
            if n == 0:
                losses.update(self.monitor_contrast('clip', logits, pos,
                                                    q['z']))
            weights = self.overlap_targets(data_samples, n + 1, q['grid'],
                                           k_g['grid'], glob.device)
            region_terms.append(self.loss_region(
                q['cells'].flatten(0, 1), k_g['cells'].flatten(0, 1),
                weights))
        losses['loss_clip'] = sum(clip_terms) / len(clip_terms)
        losses['loss_region'] = sum(region_terms) / len(region_terms)

        losses.update(self.mi_loss(q_l[0]['h_low'], q_g['h_low']))

        target = self.pretext_label(data_samples, self.order_label_key,
                                    glob.device)
        logits = self.head(torch.cat([q_g['h']] + [q['h'] for q in q_l], 1))
        losses['loss_order'] = self.loss_order(logits, target)
        losses['acc_order'] = self.cls_accuracy(logits, target)

        self.queue.enqueue(k_g['z'])
        losses.update(self.monitor_queue('clip', self.queue))
        losses.update(self.monitor_momentum(self.momentum_encoder))
        return losses
