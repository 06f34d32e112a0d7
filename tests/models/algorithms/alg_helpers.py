"""Shared pieces of the algorithm tests: tiny configs, hand-made data
samples, a real OptimWrapper, and reference math written out explicitly."""
import copy
from typing import Dict, List, Sequence

import torch
from mmengine.optim import OptimWrapper

from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample

PLAIN_PREPROCESSOR = dict(type='mmengine.BaseDataPreprocessor')


def tiny_r3d(**kw) -> dict:
    """R3D-18 with 8 base channels (a few k parameters per stage)."""
    cfg = dict(type='ResNet3d', depth=18, base_channels=8)
    cfg.update(kw)
    return cfg


def mlp(in_c: int, out_c: int, hid: int = 16, **kw) -> dict:
    cfg = dict(type='MLPNeck', in_channels=in_c, hid_channels=hid,
               out_channels=out_c)
    cfg.update(kw)
    return cfg


def cls_head(in_c: int, num_classes: int, **kw) -> dict:
    cfg = dict(type='PretextClsHead', in_channels=in_c,
               num_classes=num_classes)
    cfg.update(kw)
    return cfg


def samples(batch: int, labels: Sequence[Dict[str, int]] = None,
            view_meta: Sequence[List[dict]] = None) -> List[AVDataSample]:
    out = []
    for i in range(batch):
        s = AVDataSample(video_id=f'v{i}.mp4')
        if labels is not None:
            s.pretext_labels = dict(labels[i])
        if view_meta is not None:
            s.view_meta = list(view_meta[i])
        out.append(s)
    return out


def optim(model: torch.nn.Module, lr: float = 0.1) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=lr,
                                        momentum=0.9))


def build(cfg: dict):
    model = MODELS.build(copy.deepcopy(cfg))
    model.train()
    return model


def pool(feat) -> torch.Tensor:
    if isinstance(feat, (tuple, list)):
        feat = feat[-1]
    return feat.reshape(feat.shape[0], feat.shape[1], -1).mean(-1)


def unit(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return x / x.pow(2).sum(dim, keepdim=True).sqrt()


def nce_row(pos: torch.Tensor, negs: torch.Tensor) -> torch.Tensor:
    """-log(e^pos / (e^pos + sum e^negs)) for one row (logits already /t)."""
    return torch.logsumexp(torch.cat([pos.reshape(1), negs.reshape(-1)]),
                           0) - pos


def ce_row(logits: torch.Tensor, target: int) -> torch.Tensor:
    return torch.logsumexp(logits, 0) - logits[target]


def close(actual, expected, atol=1e-5, rtol=1e-4):
    torch.testing.assert_close(torch.as_tensor(actual).float(),
                               torch.as_tensor(expected).float(),
                               atol=atol, rtol=rtol)


def tiny_audio(**kw) -> dict:
    """2D audio ResNet-18 over (B, 1, F, T) with 8 base channels."""
    cfg = dict(type='AudioResNet2d', depth=18, base_channels=8)
    cfg.update(kw)
    return cfg
