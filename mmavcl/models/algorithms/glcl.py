"""GLCL: Contrastive Learning of Global-Local Video Representations.

Ma, Zeng, McDuff, Song, NeurIPS 2021 (arXiv 2104.05418). The losses follow
the released code (yunyikristy/global_local @75c3c89, ``model.py``), except
that the local time windows are computed explicitly (the code's reshape
pairs the right steps for any integer ratio T_a / T_v, and the wrong ones
otherwise). ``configs/glcl/README.md``
lists every setting with its source.
"""
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample
from ..losses import time_window_bags
from ..utils import last_stage
from .base import BaseSSLAlgorithm, Inputs


@MODELS.register_module()
class GLCL(BaseSSLAlgorithm):
    r"""Global (audio <-> slow pathway) and local (audio <-> fast pathway)
    cross-modal MIL-NCE.

    The video backbone has a slow/global pathway (few frames, wide) and a
    fast/local pathway (all frames, thin) and returns both dense maps. With
    the 1x1 projections :math:`\phi`:

    * global audio :math:`a_i = \mathrm{mean}_\tau \phi^g_a(A_i)(\tau)`,
      slow features :math:`V_j(p) = \mathrm{mean}_t \phi^g_s(S_j)(t, p)`
      per spatial position p, :math:`s_{ij}(p) = a_i \cdot V_j(p) / \tau_g`:

    .. math::
        \mathcal{L}_{global} = \frac1B\sum_i\Big[
          \mathrm{LSE}_{j,p}\{s_{ij}(p)\}\cup\{s_{ji}(p)\}_{j\ne i}
          - \mathrm{LSE}_p\, s_{ii}(p)\Big]

    * audio-guided attention :math:`\alpha_i(p) = \mathrm{softmax}_p\,
      s_{ii}(p)` pools the fast map,
      :math:`v_i(t) = \sum_p \alpha_i(p)\,\phi^l_f(F_i)(t, p)`; local audio
      :math:`A^l_i(\tau) = \phi^l_a(A_i)(\tau)`. The bag of video step
      (i, t) is the audio steps of sample i overlapping it in time,
      :math:`W(t)` (``time_window_bags``: :math:`[t r, (t+1) r)`,
      :math:`r = T_a / T_v`), and every other (sample, step) pair of the
      batch is a negative:

    .. math::
        \mathcal{L}_{local} = \frac{1}{B T_v}\sum_{i,t}\Big[
          \mathrm{LSE}\{v_i(t)\cdot A^l_j(W(t'))\}\cup
                      \{v_j(t')\cdot A^l_i(W(t))\}
          - \mathrm{LSE}_{\tau\in W(t)}\, v_i(t)\cdot A^l_i(\tau)\Big]

    .. math::
        \mathcal{L} = \lambda_g\,\mathcal{L}_{global}
                    + \lambda_l\,\mathcal{L}_{local}
        \qquad (\lambda = 1,\ \tau = 1,\ \text{no L2 norm [CODE]})

    Temperature and L2 normalisation are options of the two ``MILNCELoss``
    configs (off = code-faithful), and so is how often the positive pair
    enters the symmetric denominator: the released code lists it twice (once
    per direction, ``positive_in_denominator='twice'``, set by the paper
    config); ``'once'`` is the loss's default.

    Inputs: ``inputs['video']`` = 1 view ``(B, 3, T, H, W)`` (the backbone
    subsamples the slow pathway), ``inputs['audio']`` = 1 view
    ``(B, 1, F, Ta)`` covering the same time span: the clip's real span
    (``resolve_spans``), its log-mel resized to ``Ta = r T`` steps with
    nearest interpolation (``AVDataPreprocessor`` ``num_steps``; r = 3 in
    the paper config, as in the code), so the window of frame t is exactly
    its own r steps ``[t r, (t + 1) r)`` for any integer r.

    Args:
        backbone (dict): two-pathway video backbone returning
            ``(slow (B, Cs, Ts, H, W), fast (B, Cf, Tf, H, W))``.
        audio_backbone (dict): audio backbone returning ``(B, Ca, Ta')`` (a
            4D map is averaged over frequency).
        slow_proj, fast_proj (dict): 1x1x1 projections of the two pathways
            (512->512 and 64->64 in the code).
        audio_global_proj, audio_local_proj (dict): 1x1 projections of the
            audio sequence (512->512 and 512->64).
        loss_global, loss_local (dict): ``MILNCELoss`` configs; each
            ``loss_weight`` is its :math:`\lambda`.
        local_window (int, optional): audio steps per video step; default
            ``round(Ta' / Tf)``.
        detach_attention (bool): stop the local loss's gradient through the
            attention (the code does not detach).
    """

    def __init__(self,
                 backbone: dict,
                 audio_backbone: dict,
                 slow_proj: dict,
                 fast_proj: dict,
                 audio_global_proj: dict,
                 audio_local_proj: dict,
                 loss_global: dict = dict(type='MILNCELoss', symmetric=True),
                 loss_local: dict = dict(type='MILNCELoss', symmetric=True),
                 local_window: Optional[int] = None,
                 detach_attention: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone=backbone, audio_backbone=audio_backbone,
                         data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.slow_proj = MODELS.build(slow_proj)
        self.fast_proj = MODELS.build(fast_proj)
        self.audio_global_proj = MODELS.build(audio_global_proj)
        self.audio_local_proj = MODELS.build(audio_local_proj)
        self.loss_global = MODELS.build(loss_global)
        self.loss_local = MODELS.build(loss_local)
        self.local_window = local_window
        self.detach_attention = detach_attention

    def audio_sequence(self, audio: Tensor) -> Tensor:
        """Audio backbone output as a sequence ``(B, Ca, Ta')``."""
        feat = last_stage(self.audio_backbone(audio))
        if feat.dim() == 4:  # (B, C, F', T') from a 2D audio backbone
            feat = feat.mean(dim=2)
        return feat

    def video_maps(self, video: Tensor) -> Tuple[Tensor, Tensor]:
        """``(slow, fast)`` dense maps of the two-pathway backbone."""
        feats = self.backbone(video)
        if not isinstance(feats, (tuple, list)) or len(feats) != 2:
            raise TypeError('GLCL needs a two-pathway backbone returning '
                            '(slow, fast) maps')
        return feats

    def loss(self, inputs: Inputs,
             data_samples: List[AVDataSample]) -> Dict[str, Tensor]:
        (video, ) = self.get_views(inputs, 'video', num=1)
        (audio, ) = self.get_views(inputs, 'audio', num=1)
        slow, fast = self.video_maps(video)
        seq = self.audio_sequence(audio)

        # global: audio clip vector vs. slow features at every position
        v_glob = self.slow_proj(slow).mean(dim=2)            # (B, C, H, W)
        b, c, h, w = v_glob.shape
        bags = v_glob.flatten(2).transpose(1, 2)             # (B, HW, C)
        a_glob = self.audio_global_proj(seq).mean(dim=2)     # (B, C)
        losses = {'loss_global': self.loss_global(a_glob, bags)}

        # local: audio-attended fast features vs. audio steps in windows
        attn = torch.einsum('bc,bpc->bp', a_glob, bags).softmax(dim=1)
        if self.detach_attention:
            attn = attn.detach()
        fast = self.fast_proj(fast)                          # (B, Cl, T, H, W)
        if fast.shape[-2:] != (h, w):
            raise ValueError(
                f'GLCL: slow map {h}x{w} and fast map '
                f'{tuple(fast.shape[-2:])} must share the spatial grid')
        v_loc = torch.einsum('bctp,bp->btc', fast.flatten(3), attn)
        a_loc = self.audio_local_proj(seq).transpose(1, 2)   # (B, Ta, Cl)
        t_v, t_a = v_loc.shape[1], a_loc.shape[1]
        windows = time_window_bags(t_v, t_a, self.local_window).to(
            a_loc.device)                                    # (Tv, w)
        local_bags = a_loc[:, windows]                       # (B, Tv, w, Cl)
        anchors = v_loc.reshape(b * t_v, -1)
        local_bags = local_bags.reshape(b * t_v, windows.shape[1], -1)
        losses['loss_local'] = self.loss_local(anchors, local_bags)

        # monitoring: does each anchor's best bag belong to its own pair?
        with torch.no_grad():
            eye = torch.eye(b, dtype=torch.bool, device=video.device)
            sim = torch.einsum('ic,jpc->ijp', a_glob, bags).amax(2)
            losses.update(self.monitor_contrast('global', sim, eye, a_glob))
            sim = torch.einsum('ic,jpc->ijp', anchors, local_bags).amax(2)
            eye = torch.eye(b * t_v, dtype=torch.bool, device=video.device)
            losses.update(self.monitor_contrast('local', sim, eye, anchors))
            losses['attn_max'] = attn.max(dim=1).values.mean()
        return losses
