"""The base class of every self-supervised algorithm in mmavcl.

An algorithm is ``backbone(s) -> neck(s) -> head(s) -> loss modules``. The
base class builds the optional parts, runs the two modes mmengine asks for
(``'loss'`` while training, ``'tensor'`` for features) and offers the few
helpers every method needs (momentum copies, monitoring values, reading
views and pretext labels with errors that name the offending sample). A
subclass writes :meth:`BaseSSLAlgorithm.loss` and nothing else.

Monitoring values travel in the dict returned by ``loss()`` under names that
do not contain ``'loss'``: mmengine's ``parse_losses`` logs every entry but
sums only the keys containing ``'loss'``, so accuracies, embedding std,
queue pointers and the momentum are logged without being back-propagated.
Logged values are averaged over ranks (:meth:`BaseSSLAlgorithm.parse_losses`):
mmengine logs rank 0 only, which would show a 1/world share of the batch.
"""
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple,
                    TypeVar, Union)

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from ..data_preprocessors import build_data_preprocessor
from ..utils import (FeatureQueue, MomentumEncoder, batch_shuffle_ddp,
                     batch_unshuffle_ddp, contrastive_accuracy, embedding_std,
                     global_pool)

Inputs = Dict[str, List[Tensor]]
# What an encoder returns: one tensor, or named tensors (plus shapes).
EncoderOut = TypeVar('EncoderOut', Tensor, Dict[str, Any])


def embed(backbone: nn.Module, neck: nn.Module, x: Tensor) -> Tensor:
    r"""The L2-normalised projected clip embedding every contrastive method
    starts from, :math:`z = g(\mathrm{pool}(f(x))) / \lVert\cdot\rVert`
    (``(B, *) -> (B, D)``), with backbone f and neck g."""
    return F.normalize(neck(global_pool(backbone(x))), dim=1)


def sample_name(sample: AVDataSample, index: int) -> str:
    """``video_id`` of a data sample (metainfo or data field) for errors."""
    vid = sample.metainfo.get('video_id', None) if hasattr(
        sample, 'metainfo') else None
    if vid is None and hasattr(sample, 'get'):
        vid = sample.get('video_id', None)
    return str(vid) if vid is not None else f'#{index} of the batch'


def _unshuffle(out: EncoderOut, idx: Optional[Tensor]) -> EncoderOut:
    """Undo shuffle-BN on an encoder's tensor or on every tensor of its
    dict (other values, e.g. a feature grid's shape, pass through)."""
    if isinstance(out, Tensor):
        return batch_unshuffle_ddp(out, idx)
    return {k: batch_unshuffle_ddp(v, idx) if isinstance(v, Tensor) else v
            for k, v in out.items()}


class BaseSSLAlgorithm(BaseModel, metaclass=ABCMeta):
    r"""Backbone(s), neck(s), head(s) and losses of a self-supervised method.

    Args:
        backbone (dict): video backbone config; its input is
            ``(B, C, T, H, W)``.
        neck (dict, optional): neck applied to the video backbone output.
        head (dict, optional): a head (most methods name theirs explicitly).
        audio_backbone (dict, optional): audio backbone over ``(B, 1, F, T)``
            log-mel (or ``(B, L)`` waveform) inputs.
        audio_neck (dict, optional): neck applied to the audio backbone.
        data_preprocessor (dict, optional): defaults to
            ``AVDataPreprocessor``.
        init_cfg (dict, optional): mmengine initialisation config.

    Modes of :meth:`forward`:

    * ``'loss'``: ``loss(inputs, data_samples)``, a dict of named loss terms
      (keys with ``'loss'``) and monitoring values (keys without).
    * ``'tensor'``: :meth:`extract_feat`, backbone maps of every view.

    Key encoders (MoCo, VCLR, CtrlAug, AVTSS): the online modules
    :math:`\theta` are grouped by name (``_online()`` in each method, an
    ``nn.ModuleDict``), :meth:`build_momentum_encoder` makes their EMA copy
    :math:`\xi` under the same names, :meth:`momentum_update` moves
    :math:`\xi \leftarrow m\xi + (1-m)\theta` and :meth:`key_forward`
    runs one encoder function on :math:`\xi` without gradient (with
    shuffle-BN when ``self.shuffle_bn``). A method writes each encoder once,
    ``encode(x, net)`` reading ``net.backbone``, ``net.neck``, ..., and
    calls it with the online group for queries and through
    :meth:`key_forward` for keys. The arguments these methods share
    (``queue_len``, ``feat_dim``, ``momentum``, ``end_momentum``,
    ``shuffle_bn``) are read in one place, :meth:`init_key_encoders`.
    """

    #: Shuffle-BN around every key forward (set by methods with a momentum
    #: encoder from their ``shuffle_bn`` argument).
    shuffle_bn: bool = False

    def __init__(self,
                 backbone: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 audio_backbone: Optional[dict] = None,
                 audio_neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=build_data_preprocessor(data_preprocessor),
            init_cfg=init_cfg)
        self.backbone = self.build_optional(backbone)
        self.neck = self.build_optional(neck)
        self.head = self.build_optional(head)
        self.audio_backbone = self.build_optional(audio_backbone)
        self.audio_neck = self.build_optional(audio_neck)

    # ------------------------------------------------------------ building
    @staticmethod
    def build_optional(cfg: Optional[Union[dict, nn.Module]]
                       ) -> Optional[nn.Module]:
        """Build a registered module from ``cfg``; ``None`` stays ``None``."""
        if cfg is None or isinstance(cfg, nn.Module):
            return cfg
        return MODELS.build(cfg)

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    @property
    def with_head(self) -> bool:
        return self.head is not None

    @property
    def with_audio(self) -> bool:
        return self.audio_backbone is not None

    # -------------------------------------------------------- key encoders
    @staticmethod
    def build_momentum_encoder(online: nn.ModuleDict,
                               momentum: float = 0.999,
                               end_momentum: Optional[float] = None,
                               bn_train: bool = True) -> MomentumEncoder:
        """EMA copy of the named online modules; the copy's modules are
        reached by the same names (``encoder.module.backbone``).

        ``online`` is built on the fly from modules the algorithm already
        registers under its own names, so their parameters are not
        registered twice.
        """
        return MomentumEncoder(online, momentum=momentum,
                               end_momentum=end_momentum, bn_train=bn_train)

    def init_key_encoders(self,
                          encoders: Dict[str, nn.ModuleDict],
                          queues: Sequence[str] = (),
                          allow_no_queue: bool = False,
                          *,
                          queue_len: int = 65536,
                          feat_dim: int = 128,
                          queue_init: str = 'normal',
                          momentum: float = 0.999,
                          end_momentum: Optional[float] = None,
                          shuffle_bn: bool = True) -> None:
        """The MoCo parts of a method with key encoders, from the
        key-encoder arguments of its constructor.

        The keyword-only arguments are what a config sets on the model
        (``model = dict(type='MoCoVideo', queue_len=..., momentum=...)``);
        each method takes them as ``**key_encoder_args`` and passes them on
        here, so they are read, defaulted and documented once. Sets:

        * ``self.<name>`` for each ``name: online`` of ``encoders``: the
          momentum copy of ``online`` (:meth:`build_momentum_encoder`);
        * ``self.<name>`` for each name of ``queues``: a
          :class:`~mmavcl.models.utils.FeatureQueue` of ``queue_len`` keys
          ``(queue_len, feat_dim)``;
        * ``self.shuffle_bn``.

        Encoders are built before queues, each group in the order given,
        which is the order of their entries in a checkpoint.

        Args:
            encoders (dict[str, nn.ModuleDict]): attribute name -> the
                online modules its copy follows (the method's ``_online()``).
            queues (Sequence[str]): attribute names of the queues.
            allow_no_queue (bool): ``queue_len <= 0`` sets every queue to
                ``None`` (for a method that can contrast without one);
                otherwise it is an error.
            queue_len (int): K, keys per queue. Defaults to 65536.
            feat_dim (int): D, the size of a key. Defaults to 128.
            queue_init (str): ``'normal'`` (MoCo) or ``'uniform'`` (VCLR's
                code), see :class:`~mmavcl.models.utils.FeatureQueue`.
            momentum (float): EMA coefficient m. Defaults to 0.999.
            end_momentum (float, optional): m follows a cosine schedule to
                this value; ``None`` keeps it constant.
            shuffle_bn (bool): shuffle-BN around every key forward
                (:meth:`key_forward`). Defaults to True.
        """
        if queues and queue_len <= 0 and not allow_no_queue:
            raise ValueError(f'{type(self).__name__} needs queue_len > 0, '
                             f'got {queue_len}')
        self.shuffle_bn = shuffle_bn
        for name, online in encoders.items():
            setattr(self, name, self.build_momentum_encoder(
                online, momentum, end_momentum))
        for name in queues:
            setattr(self, name, FeatureQueue(queue_len, feat_dim,
                                             init=queue_init)
                    if queue_len > 0 else None)

    @staticmethod
    def momentum_update(encoder: MomentumEncoder,
                        online: nn.ModuleDict) -> None:
        """``xi <- m * xi + (1 - m) * theta`` for one momentum encoder.

        The current iteration (for a momentum schedule) is read from the
        runner's message hub when a runner is driving the model.
        """
        hub = MessageHub.get_current_instance()
        encoder.update(online, cur_iter=hub.get_info('iter'),
                       max_iters=hub.get_info('max_iters'))

    @torch.no_grad()
    def key_forward(self,
                    encode: Callable[[Any, nn.Module], EncoderOut],
                    x: Union[Tensor, Sequence[Tensor]],
                    encoder: Optional[MomentumEncoder] = None
                    ) -> EncoderOut:
        r"""Keys :math:`k = \mathrm{encode}_\xi(x)`: ``encode(x, net)`` run
        on the momentum copy (default ``self.momentum_encoder``), without
        gradient.

        With ``self.shuffle_bn`` the batch is permuted across ranks before
        the forward and the outputs are put back after it (MoCo's
        shuffle-BN: per-rank BN statistics must not tell a key which query
        it belongs to). A list of views of the same samples (a tuple of
        segments) moves as one, under one permutation; every tensor of a
        dict output is put back, other values pass through.
        """
        net = (encoder or self.momentum_encoder).module
        if not self.shuffle_bn:
            return encode(x, net)
        views = isinstance(x, (list, tuple))
        batch = torch.stack(list(x), dim=1) if views else x
        batch, idx = batch_shuffle_ddp(batch)
        out = encode(list(batch.unbind(1)) if views else batch, net)
        return _unshuffle(out, idx)

    # ------------------------------------------------------------- forward
    def forward(self,
                inputs: Inputs,
                data_samples: Optional[List[AVDataSample]] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, Tensor], Dict[str, List[Tensor]]]:
        """Dispatch to :meth:`loss` or :meth:`extract_feat`.

        Args:
            inputs (dict): ``{'video': [Tensor (B, C, T, H, W)] * V,
                'audio': [Tensor (B, 1, F, Ta)] * A}`` after the data
                preprocessor; either modality may be absent.
            data_samples (list[AVDataSample], optional): one per sample.
            mode (str): ``'loss'`` or ``'tensor'``.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(
            f'{type(self).__name__}.forward: invalid mode "{mode}"; a '
            "self-supervised algorithm supports 'loss' and 'tensor' (use a "
            'Recognizer for predictions)')

    def extract_feat(self, inputs: Inputs) -> Dict[str, list]:
        """Backbone maps of every view: ``{'video': [...], 'audio': [...]}``.
        """
        out = {}
        if self.backbone is not None and inputs.get('video'):
            out['video'] = [self.backbone(v) for v in inputs['video']]
        if self.audio_backbone is not None and inputs.get('audio'):
            out['audio'] = [self.audio_backbone(a) for a in inputs['audio']]
        return out

    @abstractmethod
    def loss(self, inputs: Inputs, data_samples: List[AVDataSample]
             ) -> Dict[str, Tensor]:
        """Named loss terms (``loss_*``) plus monitoring values."""

    def parse_losses(self, losses: Dict[str, Tensor]
                     ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's parsing (the back-propagated total stays this rank's),
        then every logged value averaged over ranks in one ``all_reduce``.

        mmengine logs what rank 0 returns, i.e. the loss of 1/world of the
        global batch; the mean is the loss of the whole batch, less noisy
        by about ``sqrt(world)`` (as mmcv 1.x runners logged it).
        """
        loss, log_vars = super().parse_losses(losses)
        if get_world_size() > 1:
            values = torch.stack([v.detach().float().reshape(())
                                  for v in log_vars.values()])
            all_reduce(values, op='mean')
            log_vars = OrderedDict(zip(log_vars, values.unbind()))
        return loss, log_vars

    # ------------------------------------------------------------- helpers
    def get_views(self, inputs: Inputs, modality: str,
                  num: Optional[int] = None,
                  at_least: Optional[int] = None) -> List[Tensor]:
        """The list of ``modality`` views, checked against what the method
        needs so a wrong pipeline fails with a message saying which."""
        views = inputs.get(modality) if isinstance(inputs, dict) else None
        name = type(self).__name__
        if not views:
            have = sorted(inputs) if isinstance(inputs, dict) else type(inputs)
            raise ValueError(
                f'{name} needs inputs["{modality}"] but the batch has {have}'
                '; check the view sampler / PackAVInputs in the pipeline')
        if num is not None and len(views) != num:
            raise ValueError(
                f'{name} needs exactly {num} {modality} views per sample, got '
                f'{len(views)}; check the view sampler of the pipeline')
        if at_least is not None and len(views) < at_least:
            raise ValueError(
                f'{name} needs at least {at_least} {modality} views per '
                f'sample, got {len(views)}')
        return list(views)

    @staticmethod
    def pretext_label(data_samples: List[AVDataSample], key: str,
                      device: torch.device) -> Tensor:
        """``LongTensor (B,)`` of ``pretext_labels[key]`` made by the sampler.
        """
        labels = []
        for i, sample in enumerate(data_samples or []):
            table = sample.get('pretext_labels', None)
            if table is None or key not in table:
                raise KeyError(
                    f'sample {sample_name(sample, i)}: pretext_labels has no '
                    f'"{key}" (has {sorted(table) if table else None}); the '
                    'view sampler in the pipeline must produce it')
            labels.append(int(table[key]))
        if not labels:
            raise ValueError(f'no data samples to read "{key}" labels from')
        return torch.tensor(labels, dtype=torch.long, device=device)

    @staticmethod
    def monitor_contrast(prefix: str, logits: Tensor,
                         pos_mask: Tensor,
                         embeddings: Optional[Tensor] = None
                         ) -> Dict[str, Tensor]:
        """Top-1 contrastive accuracy (%) and, optionally, the collapse
        indicator ``std`` of L2-normalised embeddings, as log entries."""
        out = {f'acc_{prefix}': contrastive_accuracy(logits.detach(),
                                                     pos_mask)}
        if embeddings is not None:
            out[f'std_{prefix}'] = embedding_std(embeddings.detach())
        return out

    @staticmethod
    def monitor_queue(prefix: str, queue: nn.Module
                      ) -> Dict[str, Tensor]:
        """Write pointer of a ``FeatureQueue`` as a float log entry."""
        return {f'queue_ptr_{prefix}': queue.ptr.detach().float().reshape(())}

    @staticmethod
    def monitor_momentum(encoder: nn.Module,
                         name: str = 'momentum') -> Dict[str, Tensor]:
        return {name: torch.tensor(float(encoder.momentum))}

    @staticmethod
    def cls_accuracy(logits: Tensor, target: Tensor
                     ) -> Tensor:
        """Top-1 accuracy (%) of a pretext classifier, detached."""
        return (logits.detach().argmax(1) == target).float().mean() * 100
