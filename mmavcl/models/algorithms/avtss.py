"""AVTSS: Audio-Visual Contrastive Learning with Temporal Self-Supervision.

Jenni, Black, Collomosse, AAAI 2023 (arXiv 2302.07702). Named AVTSS so it is
never confused with Korbar et al.'s 2018 AVTS. No official code exists: the
abstract fixes the ingredients (speed and direction recognition in both
modalities, intra- and inter-modal ordering, v<->v and v<->a contrast with
extra sample-dependent positives and negatives from the evolving feature
space); how each is built here is a reconstruction [RECON] documented in
``configs/avtss/README.md``.
"""
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from ..utils import global_pool
from .base import BaseSSLAlgorithm, Inputs


def neighbour_positives(key: torch.Tensor, queue: torch.Tensor,
                        k: int) -> torch.Tensor:
    """``(N, K)`` bool mask of the ``k`` queue entries nearest to each key
    (cosine), used as extra positives (NNCLR / MSF style) [RECON]."""
    mask = torch.zeros(key.shape[0], queue.shape[0], dtype=torch.bool,
                       device=key.device)
    if k > 0:
        idx = (key @ queue.t()).topk(min(k, queue.shape[0]), dim=1).indices
        mask.scatter_(1, idx, True)
    return mask


def sample_mixing_weights(n: int, num: int, pool: int, device,
                          generator: Optional[torch.Generator] = None
                          ) -> Tuple[torch.Tensor, torch.Tensor,
                                     torch.Tensor]:
    """The random draws of :func:`mix_hard_negatives`, kept apart so that a
    test (or a seeded ``generator``) fixes exactly what gets mixed.

    Drawn in the order ``a``, ``b``, ``lam`` (the order of the code before
    issue #20, so one generator state gives the same negatives as then).

    Returns:
        tuple: ``a``, ``b`` ``(n, num)`` long in ``[0, pool)`` and ``lam``
        ``(n, num, 1)`` uniform in ``[0, 1)``.
    """
    a = torch.randint(pool, (n, num), device=device, generator=generator)
    b = torch.randint(pool, (n, num), device=device, generator=generator)
    lam = torch.rand(n, num, 1, device=device, generator=generator)
    return a, b, lam


def mix_hard_negatives(query: torch.Tensor, queue: torch.Tensor,
                       exclude: torch.Tensor, num: int, pool: int,
                       generator: Optional[torch.Generator] = None
                       ) -> torch.Tensor:
    r"""Synthesise ``num`` hard negatives for each query from the feature
    space (MoCHi-style mixing, Kalantidis et al. 2020) [RECON].

    With :math:`u_{i,1} \dots u_{i,P}` the ``pool`` = P queue entries most
    similar to query :math:`q_i` (cosine; entries flagged in
    ``exclude[i]``, its extra positives, left out) and the draws
    :math:`a_{im}, b_{im} \in [0, P)`, :math:`\lambda_{im} \sim U[0, 1)`
    of :func:`sample_mixing_weights`:

    .. math::
        h_{im} = \frac{\lambda_{im} u_{i,a_{im}} + (1 - \lambda_{im})
                       u_{i,b_{im}}}
                      {\lVert \lambda_{im} u_{i,a_{im}} + (1 - \lambda_{im})
                       u_{i,b_{im}} \rVert},\qquad m = 1 \dots num

    Args:
        query (Tensor): ``(N, D)`` L2-normalised queries.
        queue (Tensor): ``(K, D)`` L2-normalised queue.
        exclude (Tensor): ``(N, K)`` bool, entries never mixed for row i.
            Needs ``K - exclude[i].sum() >= pool`` (else excluded entries
            would be drawn; :class:`AVTSS` checks this at build time).
        num (int): negatives per query; ``<= 0`` gives ``(N, 0, D)``.
        pool (int): P (capped at K).
        generator (torch.Generator, optional): for the draws.

    Returns:
        Tensor: ``(N, num, D)``; row ``i`` holds query i's own negatives,
        L2-normalised and detached (negatives carry no gradient, as MoCo's
        queue).
    """
    n = query.shape[0]
    if num <= 0:
        return query.new_zeros(n, 0, queue.shape[1])
    sim = (query.detach() @ queue.t()).masked_fill(exclude, float('-inf'))
    pool = min(pool, queue.shape[0])
    hard = queue[sim.topk(pool, dim=1).indices]            # (N, pool, D)
    a, b, lam = sample_mixing_weights(n, num, pool, query.device, generator)
    rows = torch.arange(n, device=query.device)[:, None]
    mixed = lam * hard[rows, a] + (1 - lam) * hard[rows, b]
    return F.normalize(mixed, dim=2).detach()


@MODELS.register_module()
class AVTSS(BaseSSLAlgorithm):
    r"""Audio-visual contrast plus temporal self-supervision in both
    modalities.

    Each sample has two video clips :math:`v^1, v^2` of one video and two
    audio clips: :math:`a^1` covers :math:`v^1`'s time span (its
    temporally corresponding audio), :math:`a^2` is placed on its own
    (``SampleTemporalPairs``), so that the inter-modal order is a label of
    its own; the sampler applies a playback speed and direction to each
    and records the labels. With online
    embeddings z (L2-normalised projections), momentum keys
    :math:`\hat z` and per-modality queues :math:`\mathcal{Q}_v,
    \mathcal{Q}_a`:

    .. math::
        \mathcal{L}_{nce}(q, k, \mathcal{Q}) = -\log
        \frac{\sum_{p\in\{k\}\cup N_k(k)} e^{q\cdot p/\tau}}
             {e^{q\cdot k/\tau} + \sum_{n\in\mathcal{Q}\cup H(q)}
              e^{q\cdot n/\tau}}

    where :math:`N_k(k)` are the top-k queue neighbours of the key (extra
    positives) and :math:`H(q)` hard negatives synthesised from the queue
    entries nearest to the query (extra negatives) [RECON]. Both are per
    sample ("sample-dependent" [ABS]): with ``hard_negative_scope='query'``
    (default) row i of the logits ``(N, 1 + K + H)`` holds its key, the
    queue and only its own H synthetic negatives; ``'batch'`` appends every
    local query's negatives to every row, ``(N, 1 + K + N H)``, the code's
    behaviour before issue #20.

    .. math::
        \mathcal{L}_{vv} = \mathcal{L}_{nce}(z_{v^1}, \hat z_{v^2},
        \mathcal{Q}_v),\quad
        \mathcal{L}_{va} = \tfrac12\big[\mathcal{L}_{nce}(z_{v^1},
        \hat z_{a^1}, \mathcal{Q}_a) + \mathcal{L}_{nce}(z_{a^1},
        \hat z_{v^1}, \mathcal{Q}_v)\big]

    Temporal heads on pooled backbone features h (CE, labels from the
    sampler): speed (``len(speeds)`` classes) and direction (2) for every
    clip of both modalities, and 3-way order {before, after, overlapping}
    for the pairs :math:`(v^1, v^2)`, :math:`(a^1, a^2)` and
    :math:`(v^2, a^2)` (inter-modal: as :math:`a^1` shares :math:`v^1`'s
    span, :math:`(v^1, a^2)` would repeat :math:`(a^1, a^2)`). An order
    label of -1 (``ORDER_IGNORE``: the sampler could not make every
    relation possible for the clips' spans) is left out of its loss and
    accuracy, which average over the labelled samples (0 when none):

    .. math::
        \mathcal{L} = \lambda_{vv}\mathcal{L}_{vv} + \lambda_{va}
        \mathcal{L}_{va} + \lambda\,(\mathcal{L}^v_{speed} +
        \mathcal{L}^a_{speed} + \mathcal{L}^v_{dir} + \mathcal{L}^a_{dir}
        + \mathcal{L}^{vv}_{ord} + \mathcal{L}^{aa}_{ord} +
        \mathcal{L}^{va}_{ord})

    (each :math:`\lambda` is the ``loss_weight`` of its loss config:
    ``loss_vv``, ``loss_va`` and ``loss_cls``).

    Labels, all class indices read from ``pretext_labels`` (made by the
    sampler): ``speed_v{i}`` / ``direction_v{i}`` / ``speed_a{i}`` /
    ``direction_a{i}`` for view i (falling back to ``speed_v`` etc. when one
    label holds for every view of the modality), ``order_vv``,
    ``order_aa``, ``order_va`` (:math:`v^2` vs :math:`a^2`).

    Inputs: ``inputs['video']`` = 2 views ``(B, 3, T, H, W)``,
    ``inputs['audio']`` = 2 views ``(B, 1, F, Ta)``.

    Args:
        backbone, neck: video encoder and projection.
        audio_backbone, audio_neck: audio encoder and projection.
        speed_head, direction_head (dict): video pretext heads on
            ``(B, Cv)``; ``audio_speed_head``, ``audio_direction_head`` on
            ``(B, Ca)``.
        order_vv_head, order_aa_head, order_va_head (dict): heads on the
            concatenated pooled features of a pair.
        loss_vv, loss_va (dict): ``InfoNCELoss`` with
            ``in_batch_negatives=False`` of :math:`\mathcal{L}_{vv}` and of
            both directions of :math:`\mathcal{L}_{va}`.
        loss_cls (dict): ``CrossEntropyLoss`` for every temporal head.
        num_neighbours (int): k extra positives from the queue.
        num_hard_negatives (int): H, synthesised negatives per query.
        hard_negative_pool (int): nearest queue entries they are mixed from.
        hard_negative_scope (str): ``'query'``: each query is contrasted
            with its own H only (the docs' and the abstract's reading).
            ``'batch'``: with all ``N * H`` of its rank's local batch (the
            old code; N is the per-GPU batch, nothing is gathered, so the
            count depends on the number of GPUs). Defaults to ``'query'``.
        **key_encoder_args: ``queue_len`` (of each modality's queue),
            ``feat_dim``, ``momentum``, ``end_momentum``, ``shuffle_bn``:
            see :meth:`BaseSSLAlgorithm.init_key_encoders`.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 audio_backbone: dict,
                 audio_neck: dict,
                 speed_head: dict,
                 direction_head: dict,
                 audio_speed_head: dict,
                 audio_direction_head: dict,
                 order_vv_head: dict,
                 order_aa_head: dict,
                 order_va_head: dict,
                 loss_vv: dict = dict(type='InfoNCELoss', temperature=0.1,
                                      in_batch_negatives=False),
                 loss_va: dict = dict(type='InfoNCELoss', temperature=0.1,
                                      in_batch_negatives=False),
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 num_neighbours: int = 5,
                 num_hard_negatives: int = 16,
                 hard_negative_pool: int = 64,
                 hard_negative_scope: str = 'query',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 **key_encoder_args) -> None:
        super().__init__(backbone=backbone, neck=neck,
                         audio_backbone=audio_backbone, audio_neck=audio_neck,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.speed_head = MODELS.build(speed_head)
        self.direction_head = MODELS.build(direction_head)
        self.audio_speed_head = MODELS.build(audio_speed_head)
        self.audio_direction_head = MODELS.build(audio_direction_head)
        self.order_vv_head = MODELS.build(order_vv_head)
        self.order_aa_head = MODELS.build(order_aa_head)
        self.order_va_head = MODELS.build(order_va_head)
        self.loss_vv = MODELS.build(loss_vv)
        self.loss_va = MODELS.build(loss_va)
        self.loss_cls = MODELS.build(loss_cls)
        self.num_neighbours = num_neighbours
        self.num_hard_negatives = num_hard_negatives
        self.hard_negative_pool = hard_negative_pool
        if hard_negative_scope not in ('query', 'batch'):
            raise ValueError(f"AVTSS hard_negative_scope must be 'query' or "
                             f"'batch', got {hard_negative_scope!r}")
        self.hard_negative_scope = hard_negative_scope
        # Set to a seeded torch.Generator to make the mixing draws
        # reproducible (tests); None uses the global RNG.
        self.hard_negative_generator: Optional[torch.Generator] = None
        self.init_key_encoders(
            dict(momentum_video=self._online_video(),
                 momentum_audio=self._online_audio()),
            queues=['queue_video', 'queue_audio'], **key_encoder_args)
        queue_len = self.queue_video.length
        if num_hard_negatives > 0 and \
                hard_negative_pool + num_neighbours > queue_len:
            # topk over the queue with the positives masked to -inf would
            # otherwise pick positives into the pool and mix them into
            # negatives.
            raise ValueError(
                f'AVTSS needs hard_negative_pool + num_neighbours <= '
                f'queue_len, got {hard_negative_pool} + {num_neighbours} > '
                f'{queue_len}')

    def _online_video(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck))

    def _online_audio(self) -> nn.ModuleDict:
        return nn.ModuleDict(dict(backbone=self.audio_backbone,
                                  neck=self.audio_neck))

    # ----------------------------------------------------------- encoders
    def encode(self, x: Tensor, net: nn.Module) -> Dict[str, Tensor]:
        """Pooled feature ``h (B, C)`` and embedding ``z (B, D)`` with
        ``net``'s backbone and neck (one modality, online or momentum)."""
        h = global_pool(net.backbone(x))
        return dict(h=h, z=F.normalize(net.neck(h), dim=1))

    def contrast(self, loss_fn: nn.Module, prefix: str, query: Tensor,
                 key: Tensor, queue: Tensor
                 ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """InfoNCE ``loss_fn`` of ``query (N, D)`` against ``key (N, D)``
        and the ``queue (K, D)``, with the top-k queue neighbours of the key
        as extra positives and H synthesised hard negatives per query;
        returns the loss and its log entries (``acc_``/``std_<prefix>``).

        Logits (before the temperature): ``'query'`` scope ``(N, 1 + K + H)``,
        row i = ``[q_i.k_i, q_i.Q, q_i.h_i1 .. q_i.h_iH]``; ``'batch'`` scope
        ``(N, 1 + K + N H)``, every row against all rows' negatives.
        """
        pos = neighbour_positives(key, queue, self.num_neighbours)
        hard = mix_hard_negatives(query, queue, pos, self.num_hard_negatives,
                                  self.hard_negative_pool,
                                  self.hard_negative_generator)  # (N, H, D)
        if self.hard_negative_scope == 'query':
            loss, logits, pos_mask = loss_fn(
                query, key, queue, pos, return_logits=True,
                row_negatives=hard)
        else:
            hard = hard.flatten(0, 1)                         # (N * H, D)
            cands = torch.cat([queue, hard])
            pos = torch.cat(
                [pos, pos.new_zeros(pos.shape[0], hard.shape[0])], dim=1)
            loss, logits, pos_mask = loss_fn(query, key, cands, pos,
                                             return_logits=True)
        return loss, self.monitor_contrast(prefix, logits, pos_mask, query)

    def view_labels(self, data_samples: List[AVDataSample], task: str,
                    modality: str, num_views: int,
                    device: torch.device) -> List[Tensor]:
        """Per-view labels ``pretext_labels['{task}_{m}{i}']`` (or the
        modality-wide ``'{task}_{m}'``)."""
        out = []
        for i in range(num_views):
            key = f'{task}_{modality}{i}'
            first = (data_samples[0].get('pretext_labels', None) or {})
            if key not in first:
                key = f'{task}_{modality}'
            out.append(self.pretext_label(data_samples, key, device))
        return out

    # --------------------------------------------------------------- loss
    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        v1, v2 = self.get_views(inputs, 'video', num=2)
        a1, a2 = self.get_views(inputs, 'audio', num=2)
        dev = v1.device
        video, audio = self._online_video(), self._online_audio()
        self.momentum_update(self.momentum_video, video)
        self.momentum_update(self.momentum_audio, audio)

        qv1, qv2 = self.encode(v1, video), self.encode(v2, video)
        qa1, qa2 = self.encode(a1, audio), self.encode(a2, audio)
        kv1, kv2 = (self.key_forward(self.encode, v, self.momentum_video)['z']
                    for v in (v1, v2))
        ka1 = self.key_forward(self.encode, a1, self.momentum_audio)['z']
        queue_v = self.queue_video.features()
        queue_a = self.queue_audio.features()

        loss_vv, losses = self.contrast(self.loss_vv, 'vv', qv1['z'], kv2,
                                        queue_v)
        losses['loss_vv'] = loss_vv
        loss_va, logs_va = self.contrast(self.loss_va, 'va', qv1['z'], ka1,
                                         queue_a)
        loss_av, logs_av = self.contrast(self.loss_va, 'av', qa1['z'], kv1,
                                         queue_v)
        losses.update(**logs_va, **logs_av)
        losses['loss_va'] = 0.5 * (loss_va + loss_av)

        hv1, hv2, ha1, ha2 = (q['h'] for q in (qv1, qv2, qa1, qa2))
        heads = {
            ('speed', 'v'): self.speed_head,
            ('direction', 'v'): self.direction_head,
            ('speed', 'a'): self.audio_speed_head,
            ('direction', 'a'): self.audio_direction_head,
        }
        feats = {'v': (hv1, hv2), 'a': (ha1, ha2)}
        for (task, m), head in heads.items():
            labels = self.view_labels(data_samples, task, m, 2, dev)
            logits = head(torch.cat(feats[m]))
            target = torch.cat(labels)
            losses[f'loss_{task}_{m}'] = self.loss_cls(logits, target)
            losses[f'acc_{task}_{m}'] = self.cls_accuracy(logits, target)
        pairs = {'vv': (self.order_vv_head, hv1, hv2),
                 'aa': (self.order_aa_head, ha1, ha2),
                 'va': (self.order_va_head, hv2, ha2)}
        for name, (head, x, y) in pairs.items():
            target = self.pretext_label(data_samples, f'order_{name}', dev)
            logits = head(torch.cat([x, y], dim=1))
            # masked labels (-1) stay out; with none left the term is a
            # zero that keeps the head in the graph (DDP expects its grads)
            keep = target >= 0
            if bool(keep.any()):
                loss = self.loss_cls(logits[keep], target[keep])
                acc = self.cls_accuracy(logits[keep], target[keep])
            else:
                loss, acc = logits.sum() * 0.0, logits.new_zeros(())
            losses[f'loss_order_{name}'] = loss
            losses[f'acc_order_{name}'] = acc

        self.queue_video.enqueue(torch.cat([kv1, kv2]))
        self.queue_audio.enqueue(ka1)
        losses.update(self.monitor_queue('video', self.queue_video))
        losses.update(self.monitor_queue('audio', self.queue_audio))
        losses.update(self.monitor_momentum(self.momentum_video))
        return losses
