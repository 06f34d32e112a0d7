"""VCLR: Video Contrastive Learning with Global Context.

Kuang et al., ICCV Workshops 2021 (arXiv 2108.02722). Code-faithful to the
official implementation (amazon-science/video-contrastive-learning @4fb66c3,
``train_vclr.py``, ``models/Contrast.py``, ``models/resnet_mlp.py``); see
``configs/vclr/README.md`` for every hyperparameter and its source.
"""
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from ..utils import global_pool
from .base import BaseSSLAlgorithm, Inputs

_ORDER_NORMS = ('segments', 'feature', None)


@MODELS.register_module()
class VCLR(BaseSSLAlgorithm):
    r"""Inter-video, intra-video, segment (global context) and order losses.

    A video is cut into K segments. A query tuple :math:`T_q=(q_1..q_K)` and
    a key tuple :math:`T_k=(k_1..k_K)` hold one "frame" per segment (one RGB
    frame for the paper's 2D TSN ResNet-50; a short clip for 3D backbones).
    From :math:`T_q` the anchor :math:`a` is one frame, :math:`a^+` the same
    frame augmented again and :math:`p_2, p_3` the other frames. f is the
    backbone + global pooling; online :math:`\theta`, momentum :math:`\xi`
    (EMA, BN in train mode, shuffle-BN); every embedding is L2-normalised.

    .. math::
        z = h_{inter}(f(\cdot)),\quad u = h_{intra}(f(\cdot)),\quad
        g = h_{seg}\Big(\tfrac1K\sum_t f(T[t])\Big),\quad
        o = [h_{ord}(f(T[1]));\dots;h_{ord}(f(T[K]))]

    .. math::
        \mathcal{L}_{inter} = \frac13\sum_{k^+\in\{a^+,p_2,p_3\}} -\log
          \frac{e^{z_a\cdot z_{k^+}/\tau}}{e^{z_a\cdot z_{k^+}/\tau}
          + \sum_{n\in\mathcal{Q}_{inter}} e^{z_a\cdot n/\tau}}

    .. math::
        \mathcal{L}_{intra} = \frac12\sum_{p\in\{p_2,p_3\}} -\log
          \frac{e^{u_a\cdot u_{a^+}/\tau'}}
               {e^{u_a\cdot u_{a^+}/\tau'} + e^{u_a\cdot u_p/\tau'}}

    .. math::
        \mathcal{L}_{segment} = -\log\frac{e^{g_q\cdot g_k/\tau}}
          {e^{g_q\cdot g_k/\tau} + \sum_{n\in\mathcal{Q}_{seg}}
           e^{g_q\cdot n/\tau}},\qquad
        \mathcal{L}_{order} = \mathrm{CE}\big(W[o_q; o_k],\ y\big)

    .. math::
        \mathcal{L} = \lambda_{inter}\mathcal{L}_{inter}
          + \lambda_{intra}\mathcal{L}_{intra}
          + \lambda_{seg}\mathcal{L}_{segment}
          + \lambda_{ord}\mathcal{L}_{order},\quad \lambda=1 \text{ [CODE]}

    The keys :math:`z_{k^+}, u_{a^+}, u_p, g_k, o_k` come from the momentum
    encoder. Logits use the queues *before* this step's keys are enqueued;
    :math:`\mathcal{Q}_{inter}` receives the keys of :math:`a^+, p_2, p_3`
    and :math:`\mathcal{Q}_{seg}` receives :math:`g_k` (gathered over
    ranks). y in {0..3} = s_q + 2 s_k says which tuples the sampler
    shuffled (``pretext_labels['order']``).

    Official-code quirk (``order_normalize='segments'``, the default): the
    order embeddings ``(B, K, D)`` are L2-normalised over the K segments per
    channel, not per segment; ``'feature'`` normalises each segment's
    D-vector, ``None`` skips it.

    Inputs: ``inputs['video']``, each view ``(B, C, L, H, W)`` (L = 1 for
    the 2D TSN setting), in the order of ``SampleSegments``:

    * ``reuse_query_views=True`` (the official code, where
      :math:`a, p_2, p_3` are the very tensors of the augmented query
      tuple, ``SampleSegments(reuse_query=True)``): 2K + 1 views
      ``[a+, q_1..q_K, k_1..k_K]``; per sample, :math:`a` is
      ``T_q[pretext_labels['query_index_anchor']]`` and :math:`p_j` is
      ``T_q[pretext_labels['query_index_p{j}']]``. :math:`a` and
      :math:`T_q` still go through the online encoder in separate
      forward passes (BN batches of B and K*B), as in the code;
    * ``reuse_query_views=False``: 3K + 1 views
      ``[a, a+, p_2..p_K, q_1..q_K, k_1..k_K]``, the anchors augmented
      independently of the query tuple.

    For K != 3 the sums over :math:`\{a^+, p_2, p_3\}` and
    :math:`\{p_2, p_3\}` run over :math:`\{a^+, p_2..p_K\}` and
    :math:`\{p_2..p_K\}`.

    Args:
        backbone (dict): ``TSNResNet2d`` (paper) or a 3D backbone.
        inter_neck, intra_neck, segment_neck, order_neck (dict): the four
            MLP heads ``(B, C) -> (B, D)`` (2048-2048-128 in the code).
        order_head (dict): classifier on ``(B, 2*K*D)`` with 4 classes.
        num_segments (int): K. Defaults to 3.
        loss_inter, loss_segment (dict): ``InfoNCELoss`` (MoCo form: only
            ``key[i]`` and the queue, ``in_batch_negatives=False``).
            ``normalize=False``: embeddings are already unit length and the
            code uses the raw uniform-initialised queue rows unnormalised.
        loss_intra, loss_order (dict): ``CrossEntropyLoss``. The
            ``loss_weight`` of each of the four loss configs is its
            :math:`\lambda`.
        intra_temperature (float): :math:`\tau'` (``nce_t_intra``).
        queue_len (int): length of both queues (131072 in the code).
        queue_init (str): ``'uniform'`` as the code.
        order_normalize (str | None): see above.
        order_label_key (str): key in ``pretext_labels``.
        reuse_query_views (bool): take :math:`a, p_2..p_K` from the query
            tuple (see Inputs). Defaults to False; the paper configs set
            True.
        **key_encoder_args: ``feat_dim`` (D, 128), ``momentum`` (m,
            ``--alpha`` 0.999), ``end_momentum`` (cosine schedule of m, not
            in the code), ``shuffle_bn`` (every key forward): see
            :meth:`BaseSSLAlgorithm.init_key_encoders`.
    """

    def __init__(self,
                 backbone: dict,
                 inter_neck: dict,
                 intra_neck: dict,
                 segment_neck: dict,
                 order_neck: dict,
                 order_head: dict,
                 num_segments: int = 3,
                 loss_inter: dict = dict(type='InfoNCELoss', temperature=0.1,
                                         in_batch_negatives=False,
                                         normalize=False),
                 loss_intra: dict = dict(type='CrossEntropyLoss'),
                 loss_segment: dict = dict(type='InfoNCELoss',
                                           temperature=0.1,
                                           in_batch_negatives=False,
                                           normalize=False),
                 loss_order: dict = dict(type='CrossEntropyLoss'),
                 intra_temperature: float = 0.1,
                 queue_len: int = 131072,
                 queue_init: str = 'uniform',
                 order_normalize: Optional[str] = 'segments',
                 order_label_key: str = 'order',
                 reuse_query_views: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **key_encoder_args) -> None:
        super().__init__(backbone=backbone, head=order_head,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if order_normalize not in _ORDER_NORMS:
            raise ValueError(f'VCLR: order_normalize must be one of '
                             f'{_ORDER_NORMS}, got {order_normalize!r}')
        self.inter_neck = MODELS.build(inter_neck)
        self.intra_neck = MODELS.build(intra_neck)
        self.segment_neck = MODELS.build(segment_neck)
        self.order_neck = MODELS.build(order_neck)
        self.loss_inter = MODELS.build(loss_inter)
        self.loss_intra = MODELS.build(loss_intra)
        self.loss_segment = MODELS.build(loss_segment)
        self.loss_order = MODELS.build(loss_order)
        self.num_segments = num_segments
        self.intra_temperature = intra_temperature
        self.order_normalize = order_normalize
        self.order_label_key = order_label_key
        self.reuse_query_views = reuse_query_views
        # The whole network, heads included, has a momentum twin [CODE].
        self.init_key_encoders(dict(momentum_encoder=self._online()),
                               queues=['queue_inter', 'queue_segment'],
                               queue_len=queue_len, queue_init=queue_init,
                               **key_encoder_args)

    def _online(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(
            backbone=self.backbone, inter_neck=self.inter_neck,
            intra_neck=self.intra_neck, segment_neck=self.segment_neck,
            order_neck=self.order_neck))

    # ----------------------------------------------------------- encoders
    # Each takes ``net``: the online modules (queries) or their momentum
    # copy (keys, through ``key_forward``), under the same names.
    def _pooled(self, backbone: Callable[[Tensor], Tensor],
                views: List[Tensor]) -> Tensor:
        """Backbone + global pooling of K views in one batch ->
        ``(B, K, C)`` (one BN batch of K*B frames, as TSN mode does)."""
        num, batch = len(views), views[0].shape[0]
        feat = global_pool(backbone(torch.cat(views, dim=0)))
        return feat.reshape(num, batch, -1).transpose(0, 1)

    def _order_embed(self, order_neck: Callable[[Tensor], Tensor],
                     feat: Tensor) -> Tensor:
        """``(B, K, C) -> (B, K*D)`` order embedding."""
        b, k, c = feat.shape
        o = order_neck(feat.reshape(b * k, c)).reshape(b, k, -1)
        if self.order_normalize == 'segments':
            o = F.normalize(o, dim=1)
        elif self.order_normalize == 'feature':
            o = F.normalize(o, dim=2)
        return o.reshape(b, -1)

    def encode_frame(self, x: Tensor, net: nn.Module) -> Dict[str, Tensor]:
        """``z`` (inter) and ``u`` (intra) of one frame view."""
        f = global_pool(net.backbone(x))
        return dict(z=F.normalize(net.inter_neck(f), dim=1),
                    u=F.normalize(net.intra_neck(f), dim=1))

    def encode_tuple(self, views: List[Tensor],
                     net: nn.Module) -> Dict[str, Tensor]:
        """``g`` (segment consensus) and ``o`` (order) of a tuple of K
        views."""
        feat = self._pooled(net.backbone, views)
        g = F.normalize(net.segment_neck(feat.mean(dim=1)), dim=1)
        return dict(g=g, o=self._order_embed(net.order_neck, feat))

    # --------------------------------------------------------------- views
    def split_views(self, inputs: Inputs,
                    data_samples: List[AVDataSample]
                    ) -> Tuple[Tensor, List[Tensor], List[Tensor],
                               List[Tensor]]:
        """``(a, [a+, p_2..p_K], T_q, T_k)``, every tensor
        ``(B, C, L, H, W)``; see the class docstring for the two layouts.
        """
        k = self.num_segments
        num = 2 * k + 1 if self.reuse_query_views else 3 * k + 1
        views = self.get_views(inputs, 'video')
        if len(views) != num:
            layout = ('[a+, q_1..q_K, k_1..k_K], SampleSegments('
                      'reuse_query=True)' if self.reuse_query_views else
                      '[a, a+, p_2..p_K, q_1..q_K, k_1..k_K], '
                      'SampleSegments(reuse_query=False)')
            raise ValueError(
                f'VCLR(reuse_query_views={self.reuse_query_views}) needs '
                f'exactly {num} video views per sample ({layout}), got '
                f'{len(views)}; check the view sampler of the pipeline')
        if not self.reuse_query_views:
            return (views[0], views[1:k + 1], views[k + 1:2 * k + 1],
                    views[2 * k + 1:])
        t_q, t_k = views[1:k + 1], views[k + 1:]
        stacked = torch.stack(t_q, dim=1)  # (B, K, C, L, H, W)
        rows = torch.arange(stacked.shape[0], device=stacked.device)

        def pick(key: str) -> Tensor:
            pos = self.pretext_label(data_samples, key, stacked.device)
            if pos.numel() != stacked.shape[0] or pos.min() < 0 or \
                    pos.max() >= k:
                raise ValueError(f'pretext_labels["{key}"] must index the '
                                 f'{k} query views, got {pos.tolist()}')
            return stacked[rows, pos]

        a = pick('query_index_anchor')
        intra = [pick(f'query_index_p{j}') for j in range(2, k + 1)]
        return a, [views[0]] + intra, t_q, t_k

    # --------------------------------------------------------------- loss
    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        k = self.num_segments
        a, positives, t_q, t_k = self.split_views(inputs, data_samples)

        online = self._online()
        self.momentum_update(self.momentum_encoder, online)
        q_a = self.encode_frame(a, online)
        q_t = self.encode_tuple(t_q, online)
        keys = [self.key_forward(self.encode_frame, x) for x in positives]
        # whole tuples move together through shuffle-BN
        k_t = self.key_forward(self.encode_tuple, t_k)
        queue_inter = self.queue_inter.features()
        queue_segment = self.queue_segment.features()

        losses: Dict[str, Tensor] = {}
        # inter-video: K*B rows, one per positive, against the same queue
        z_keys = torch.cat([key['z'] for key in keys])
        loss, logits, pos = self.loss_inter(
            q_a['z'].repeat(k, 1), z_keys, queue_inter, return_logits=True)
        losses['loss_inter'] = loss
        losses.update(self.monitor_contrast('inter', logits, pos, q_a['z']))

        # intra-video: the same frame must beat the other frames
        u_a = q_a['u']
        l_pos = (u_a * keys[0]['u']).sum(1)
        l_neg = torch.cat([(u_a * key['u']).sum(1) for key in keys[1:]])
        intra_logits = torch.stack([l_pos.repeat(k - 1), l_neg], dim=1) \
            / self.intra_temperature
        zeros = torch.zeros(intra_logits.shape[0], dtype=torch.long,
                            device=intra_logits.device)
        losses['loss_intra'] = self.loss_intra(intra_logits, zeros)
        losses['acc_intra'] = self.cls_accuracy(intra_logits, zeros)

        # segment (global context): TSN consensus of the two tuples
        loss, logits, pos = self.loss_segment(
            q_t['g'], k_t['g'], queue_segment, return_logits=True)
        losses['loss_segment'] = loss
        losses.update(self.monitor_contrast('segment', logits, pos,
                                            q_t['g']))

        # order: which of the two tuples were shuffled (4-way)
        target = self.pretext_label(data_samples, self.order_label_key,
                                    a.device)
        order_logits = self.head(torch.cat([q_t['o'], k_t['o']], dim=1))
        losses['loss_order'] = self.loss_order(order_logits, target)
        losses['acc_order'] = self.cls_accuracy(order_logits, target)

        self.queue_inter.enqueue(z_keys)
        self.queue_segment.enqueue(k_t['g'])
        losses.update(self.monitor_queue('inter', self.queue_inter))
        losses.update(self.monitor_queue('segment', self.queue_segment))
        losses.update(self.monitor_momentum(self.momentum_encoder))
        return losses
