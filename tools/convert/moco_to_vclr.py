"""Turn a MoCo-v2 checkpoint into VCLR's initial weights.

    python tools/convert/moco_to_vclr.py MOCO_CKPT OUT [--depth 50]
        [--prefix module.encoder_q.] [--trust]

VCLR's official run starts from MoCo-v2's 200-epoch ImageNet weights
([README]; [CODE utils/util.py ``load_pretrained``], amazon-science/
video-contrastive-learning @4fb66c3): the query encoder's ResNet trunk
(``module.encoder_q.*`` without ``fc``) initialises the backbone, and
MoCo-v2's projection MLP ``fc`` = Linear(C, C)-ReLU-Linear(C, 128) is
copied into all four heads (``fc_inter``, ``fc_intra``, ``fc_order``,
``fc_tsn``); the momentum encoder then starts as a copy of the whole model.

``OUT`` holds ``{'state_dict': ..., 'meta': ...}`` with mmavcl's VCLR key
names:

* ``backbone.<k>`` for every trunk key ``<k>`` (torchvision layout, BN
  running statistics included), checked against ``TSNResNet2d(depth)``:
  every key present, every shape equal;
* ``{inter,intra,segment,order}_neck.mlp.0.{weight,bias}`` = MoCo's
  ``fc.0`` and ``mlp.2.{weight,bias}`` = ``fc.2`` (``MLPNeck(num_layers=2,
  norm_cfg=None)``: Linear-ReLU-Linear, the layout of VCLR's ``Head``).

Load it with ``model.init_cfg=dict(type='Pretrained', checkpoint=OUT)``
(the TSN config does). MoCo's key encoder (``encoder_k``), its queue and
everything else are dropped; the tool prints what it kept and dropped.
``MOCO_CKPT`` is read with ``weights_only=True`` (the released MoCo files
hold only ``epoch``, ``arch`` and tensors); ``--trust`` allows full
unpickling of a file you made yourself.
"""
import argparse
import os.path as osp
from collections import Counter, OrderedDict
from typing import Dict, List, Sequence, Tuple

import torch

from mmavcl.utils.checkpoint import load_state_dict_file

HEADS = ('inter_neck', 'intra_neck', 'segment_neck', 'order_neck')
MOCO_PREFIX = 'module.encoder_q.'


def moco_to_vclr(state_dict: Dict[str, torch.Tensor],
                 prefix: str = MOCO_PREFIX,
                 heads: Sequence[str] = HEADS
                 ) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """VCLR weights from a MoCo-v2 state dict, and the dropped keys.

    Args:
        state_dict: MoCo-v2's ``state_dict`` (``module.encoder_q.conv1.
            weight`` ...; ``fc.0`` ``(C, C)`` and ``fc.2`` ``(D, C)``).
        prefix: Where the query encoder lives.
        heads: VCLR modules that each receive a copy of ``fc``.

    Returns:
        ``backbone.*`` and ``<head>.mlp.{0,2}.*`` tensors (the four heads
        share MoCo's tensors: they are copied into separate parameters when
        loaded), and the names of the input keys not used.
    """
    out, dropped = OrderedDict(), []
    encoder = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(prefix):
            encoder[key[len(prefix):]] = value
        else:
            dropped.append(key)
    if not encoder:
        tops = sorted({k.split('.')[0] for k in state_dict})
        raise KeyError(f'no `{prefix}` keys (top-level names: {tops}); '
                       'is this a MoCo checkpoint? (see --prefix)')
    fc = {k: encoder.pop(k) for k in list(encoder) if k.startswith('fc.')}
    need = ('fc.0.weight', 'fc.0.bias', 'fc.2.weight', 'fc.2.bias')
    missing = [k for k in need if k not in fc]
    if missing or len(fc) != len(need):
        raise KeyError(
            f'{prefix}fc is not MoCo-v2\'s 2-layer MLP (need {need}, found '
            f'{sorted(fc)}); a MoCo-v1 checkpoint has a single linear fc, '
            'which does not fit VCLR\'s Linear-ReLU-Linear heads')
    hidden, width = fc['fc.0.weight'].shape
    if hidden != width or fc['fc.2.weight'].shape[1] != hidden:
        raise ValueError(f'unexpected MoCo MLP shapes: fc.0 '
                         f'{tuple(fc["fc.0.weight"].shape)}, fc.2 '
                         f'{tuple(fc["fc.2.weight"].shape)}')
    for key, value in encoder.items():
        out['backbone.' + key] = value
    for head in heads:
        for layer in ('0', '2'):
            for p in ('weight', 'bias'):
                out[f'{head}.mlp.{layer}.{p}'] = fc[f'fc.{layer}.{p}']
    return out, dropped


def check_backbone(weights: Dict[str, torch.Tensor], depth: int) -> int:
    """Raise unless the ``backbone.*`` keys are exactly those of
    ``TSNResNet2d(depth)`` with the same shapes; returns the key count."""
    from mmavcl.models.backbones import TSNResNet2d
    ref = TSNResNet2d(depth=depth).state_dict()
    got = {k[len('backbone.'):]: v for k, v in weights.items()
           if k.startswith('backbone.')}
    missing = sorted(set(ref) - set(got))
    extra = sorted(set(got) - set(ref))
    shapes = [f'{k}: {tuple(got[k].shape)} != {tuple(ref[k].shape)}'
              for k in ref if k in got and got[k].shape != ref[k].shape]
    if missing or extra or shapes:
        raise ValueError(
            f'the MoCo trunk does not fit TSNResNet2d(depth={depth}): '
            f'missing {missing[:5]}{"..." if len(missing) > 5 else ""}, '
            f'unexpected {extra[:5]}{"..." if len(extra) > 5 else ""}, '
            f'shape mismatches {shapes[:5]}')
    return len(ref)


def _summary(keys: List[str]) -> str:
    groups = Counter('.'.join(k.split('.')[:2]) for k in keys)
    return ', '.join(f'{g} ({n})' for g, n in sorted(groups.items()))


def convert(src: str, out: str, depth: int = 50,
            prefix: str = MOCO_PREFIX, trust: bool = False
            ) -> 'OrderedDict[str, torch.Tensor]':
    """Write ``out``; returns the converted weights."""
    weights, dropped = moco_to_vclr(load_state_dict_file(src, trust), prefix)
    n_trunk = check_backbone(weights, depth)
    meta = dict(source=osp.abspath(src), prefix=prefix, heads=list(HEADS),
                converted_by='mmavcl tools/convert/moco_to_vclr.py')
    torch.save(dict(state_dict=weights, meta=meta), out)
    print(f'backbone: {n_trunk} tensors of {prefix}* (all of '
          f'TSNResNet2d(depth={depth}))')
    print(f'heads: {prefix}fc.0 / fc.2 copied into {", ".join(HEADS)}')
    print(f'dropped {len(dropped)} tensors: {_summary(dropped) or "none"}')
    print(f'wrote {out}; load it with '
          f'model.init_cfg=dict(type=\'Pretrained\', checkpoint=\'{out}\')')
    return weights


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('checkpoint', help='MoCo-v2 checkpoint, e.g. '
                   'moco_v2_200ep_pretrain.pth.tar')
    p.add_argument('out', help='VCLR initial weights to write')
    p.add_argument('--depth', type=int, default=50,
                   help='ResNet depth of the trunk (checked)')
    p.add_argument('--prefix', default=MOCO_PREFIX,
                   help='where the query encoder lives in the state dict')
    p.add_argument('--trust', action='store_true',
                   help='CKPT is your own file: allow full unpickling')
    args = p.parse_args(argv)
    convert(args.checkpoint, args.out, args.depth, args.prefix, args.trust)


if __name__ == '__main__':
    main()
