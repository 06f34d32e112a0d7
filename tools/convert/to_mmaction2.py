"""Export a pretrained backbone for MMAction2 (or any mmengine model).

    python tools/convert/to_mmaction2.py CKPT OUT [--backbone-key backbone]
        [--bare-out OUT_bare.pth] [--trust]

Writes

(a) ``OUT``: ``{'state_dict': {'backbone.<k>': ...}, 'meta': ...}`` for
    ``load_from=OUT`` in an MMAction2 recognizer config (its ``cls_head``
    stays freshly initialised; load non-strictly);
(b) ``--bare-out`` (default ``OUT`` with ``_bare`` before the suffix): the
    bare backbone keys, for ``backbone.pretrained=`` or a backbone-level
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``.

Everything outside the backbone is dropped: feature queues, momentum
encoders, necks, SSL heads, optimizer and message-hub state. The tool prints
what it kept and what it dropped. ``CKPT`` is read with
``weights_only=True``; a full training checkpoint also holds logging state
that needs full unpickling, which is refused unless ``--trust`` says the
file is your own (unpickling can run code).
"""
import argparse
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, List, Tuple

import torch

from mmavcl.utils.checkpoint import safe_torch_load, trusted_checkpoints


def split_backbone(state_dict: Dict[str, torch.Tensor],
                   backbone_key: str = 'backbone'
                   ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Bare backbone weights and the list of dropped keys.

    ``module.`` (DDP) prefixes are ignored. Keys of momentum copies such as
    ``momentum_encoder.backbone.*`` do not start with ``<backbone_key>.``
    and are dropped with the rest.
    """
    prefix = backbone_key.rstrip('.') + '.'
    kept, dropped = OrderedDict(), []
    for k, v in state_dict.items():
        name = k[7:] if k.startswith('module.') else k
        if name.startswith(prefix):
            kept[name[len(prefix):]] = v
        else:
            dropped.append(name)
    return kept, dropped


def load_state_dict(path: str, trust: bool = False) -> Dict[str, torch.Tensor]:
    if trust:
        with trusted_checkpoints(path):
            ckpt = safe_torch_load(path, map_location='cpu')
    else:
        ckpt = safe_torch_load(path, map_location='cpu')
    sd = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict) or not all(
            isinstance(v, torch.Tensor) for v in sd.values()):
        raise TypeError(f'{path}: no state dict of tensors found')
    return sd


def _summary(keys: List[str]) -> str:
    groups = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{g} ({n})' for g, n in sorted(groups.items()))


def convert(src: str, out: str, bare_out: str = None,
            backbone_key: str = 'backbone', trust: bool = False
            ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Write both exports; returns the bare weights and the dropped keys."""
    sd = load_state_dict(src, trust)
    bare, dropped = split_backbone(sd, backbone_key)
    if not bare:
        heads = sorted({k.split('.')[0] for k in sd})
        raise KeyError(f'{src}: no `{backbone_key}.` keys; top-level names '
                       f'are {heads} (use --backbone-key)')
    meta = dict(source=osp.abspath(src), backbone_key=backbone_key,
                converted_by='mmavcl tools/convert/to_mmaction2.py')
    prefixed = OrderedDict(('backbone.' + k, v) for k, v in bare.items())
    torch.save(dict(state_dict=prefixed, meta=meta), out)
    if bare_out is None:
        stem, ext = osp.splitext(out)
        bare_out = f'{stem}_bare{ext or ".pth"}'
    torch.save(bare, bare_out)
    n = sum(v.numel() for v in bare.values())
    print(f'kept {len(bare)} tensors ({n / 1e6:.2f} M values) of '
          f'`{backbone_key}`')
    print(f'dropped {len(dropped)} tensors: {_summary(dropped) or "none"}')
    print(f'wrote {out} (backbone.-prefixed, for load_from=) and '
          f'{bare_out} (bare backbone keys)')
    return bare, dropped


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('checkpoint', help='mmavcl checkpoint (pretraining or '
                   'downstream)')
    p.add_argument('out', help='output for load_from= (backbone.-prefixed)')
    p.add_argument('--bare-out', help='output with bare backbone keys')
    p.add_argument('--backbone-key', default='backbone',
                   help='the backbone inside CKPT, e.g. audio_backbone')
    p.add_argument('--trust', action='store_true',
                   help='CKPT is your own training checkpoint: allow full '
                   'unpickling of its logging state')
    args = p.parse_args(argv)
    convert(args.checkpoint, args.out, args.bare_out, args.backbone_key,
            args.trust)


if __name__ == '__main__':
    main()
