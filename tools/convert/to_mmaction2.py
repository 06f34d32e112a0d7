"""Export a pretrained backbone for MMAction2 (or any mmengine model).

    python tools/convert/to_mmaction2.py CKPT OUT [--backbone-key backbone]
        [--bare-out OUT_bare.pth] [--trust] [--allow-glcl-blocks]

Writes

(a) ``OUT``: ``{'state_dict': {'backbone.<k>': ...}, 'meta': ...}`` for
    ``load_from=OUT`` in an MMAction2 recognizer config (its ``cls_head``
    stays freshly initialised; load non-strictly);
(b) ``--bare-out`` (default ``OUT`` with ``_bare`` before the suffix): the
    bare backbone keys, for ``backbone.pretrained=`` (read by MMAction2's
    ``ResNet3d.init_weights()``; that backbone ignores
    ``init_cfg=dict(type='Pretrained', ...)``, see docs/mmaction2.md).

Everything outside the backbone is dropped: feature queues, momentum
encoders, necks, SSL heads, optimizer and message-hub state. The tool prints
what it kept and what it dropped.

GLCL's released video block (``TwoPathwayResNet3d(block_layout='glcl')``:
one 3x3x3 and one 1x1x1 conv per basic block) has MMAction2's key names but
no MMAction2 counterpart, so ``load_from=`` would skip every such conv as a
size mismatch. The tool refuses these weights unless
``--allow-glcl-blocks`` (e.g. to load them into mmavcl's ``GLCLResNet3d``).

``CKPT`` is read with ``weights_only=True``; a full training checkpoint
also holds logging state that needs full unpickling, which is refused unless
``--trust`` says the file is your own (unpickling can run code).
"""
import argparse
import os.path as osp
import re
from collections import Counter, OrderedDict
from typing import Dict, List, Tuple

import torch

from mmavcl.utils.checkpoint import load_state_dict_file


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


def glcl_blocks(state_dict: Dict[str, torch.Tensor]) -> List[str]:
    """Prefixes of basic blocks that pair a 3x3x3 conv with a 1x1x1 one
    (GLCL's ``BasicBlock_SF``). MMAction2's basic blocks have two convs of
    the same kernel; its bottlenecks (which do mix kernels) have a
    ``conv3``, and (2+1)D blocks have no ``conv1.conv.weight``."""
    found = []
    for key, weight in state_dict.items():
        m = re.fullmatch(r'(.*layer\d+\.\d+)\.conv1\.conv\.weight', key)
        if m is None or weight.dim() != 5:
            continue
        block = m.group(1)
        second = state_dict.get(f'{block}.conv2.conv.weight')
        if second is None or f'{block}.conv3.conv.weight' in state_dict:
            continue
        kernels = {tuple(weight.shape[2:]), tuple(second.shape[2:])}
        if kernels == {(1, 1, 1), (3, 3, 3)}:
            found.append(block)
    return found


def _summary(keys: List[str]) -> str:
    groups = Counter(k.split('.')[0] for k in keys)
    return ', '.join(f'{g} ({n})' for g, n in sorted(groups.items()))


def convert(src: str, out: str, bare_out: str = None,
            backbone_key: str = 'backbone', trust: bool = False,
            allow_glcl_blocks: bool = False
            ) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """Write both exports; returns the bare weights and the dropped keys."""
    sd = load_state_dict_file(src, trust)
    bare, dropped = split_backbone(sd, backbone_key)
    if not bare:
        heads = sorted({k.split('.')[0] for k in sd})
        raise KeyError(f'{src}: no `{backbone_key}.` keys; top-level names '
                       f'are {heads} (use --backbone-key)')
    blocks = glcl_blocks(bare)
    if blocks and not allow_glcl_blocks:
        raise ValueError(
            f'{src}: {len(blocks)} blocks of `{backbone_key}` (e.g. '
            f'{blocks[0]}) pair a 3x3x3 with a 1x1x1 conv, GLCL\'s released '
            f'block (TwoPathwayResNet3d(block_layout=\'glcl\')). No '
            f'MMAction2 backbone has this block, so load_from= would skip '
            f'those convs as size mismatches. Fine-tune inside mmavcl '
            f'(configs/benchmarks/r3d-18-2path read the pretraining '
            f'checkpoint directly), pretrain with '
            f'block_layout=\'mmaction2\' for MMAction2, or pass '
            f'--allow-glcl-blocks to write the files anyway (e.g. for '
            f'mmavcl\'s GLCLResNet3d).')
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
    p.add_argument('--allow-glcl-blocks', action='store_true',
                   help='write weights with GLCL\'s 3x3x3 + 1x1x1 block '
                   '(no MMAction2 backbone can load them)')
    args = p.parse_args(argv)
    convert(args.checkpoint, args.out, args.bare_out, args.backbone_key,
            args.trust, args.allow_glcl_blocks)


if __name__ == '__main__':
    main()
