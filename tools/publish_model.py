"""Turn a training checkpoint into a file to publish.

    python tools/publish_model.py IN_FILE OUT_FILE.pth [--trust]

Keeps what inference and fine-tuning need: the model's ``state_dict`` (every
tensor of the model, momentum encoders and queues included, on the CPU) and
the descriptive part of ``meta`` (:data:`KEPT_META`: epoch, iteration, the
config text, seed, experiment name, time, mmengine version, dataset meta).
Drops the optimizer, the parameter schedulers, the message hub (logged
scalars and the loop's runtime state) and mmavcl's resume state (RNG and
loader positions). The result loads with ``torch.load(weights_only=True)``.

It is written as ``OUT_FILE`` with ``-<first 8 hex digits of its sha256>``
put before ``.pth`` (``vclr_k400.pth`` -> ``vclr_k400-1a2b3c4d.pth``), the
OpenMMLab naming that lets a download be checked against its name.

``IN_FILE`` is read weights-only; a full training checkpoint also holds
logging state that needs full unpickling, refused unless ``--trust`` says
the file is your own (unpickling can run code).
"""
import argparse
import hashlib
import os
import os.path as osp
from typing import Dict, Optional

import torch

from mmavcl.utils.checkpoint import safe_torch_load, trusted_checkpoints

KEPT_META = ('epoch', 'iter', 'cfg', 'seed', 'experiment_name', 'time',
             'mmengine_version', 'dataset_meta')


def strip_checkpoint(ckpt: Dict) -> Dict:
    """``{'state_dict': ..., 'meta': ...}`` of a loaded checkpoint, the
    tensors moved to the CPU. A flat dict of tensors is taken as the
    state dict itself."""
    if not isinstance(ckpt, dict):
        raise TypeError(f'expected a dict checkpoint, got {type(ckpt)}')
    state = ckpt.get('state_dict', ckpt)
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise TypeError('no state dict of tensors found')
    meta = {k: v for k, v in (ckpt.get('meta') or {}).items()
            if k in KEPT_META}
    return dict(state_dict={k: v.detach().cpu() for k, v in state.items()},
                meta=meta)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file: str, out_file: str, trust: bool = False) -> str:
    """Write the stripped checkpoint; return its final path
    (``OUT_FILE`` with ``-<sha256[:8]>`` before ``.pth``)."""
    if not out_file.endswith('.pth'):
        raise ValueError(f'{out_file}: OUT_FILE must end with .pth')
    with trusted_checkpoints(*([in_file] if trust else [])):
        ckpt = safe_torch_load(in_file, map_location='cpu')
    try:
        published = strip_checkpoint(ckpt)
    except TypeError as err:
        raise TypeError(f'{in_file}: {err}') from None
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    tmp = out_file + '.tmp'
    torch.save(published, tmp)
    final = f'{out_file[:-len(".pth")]}-{sha256_of(tmp)[:8]}.pth'
    os.replace(tmp, final)
    return final


def main(argv: Optional[list] = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('in_file', help='training checkpoint')
    p.add_argument('out_file', help='output path ending with .pth (the '
                   'sha256 prefix is added before .pth)')
    p.add_argument('--trust', action='store_true',
                   help='allow full unpickling of IN_FILE (only for a file '
                   'you wrote yourself)')
    args = p.parse_args(argv)
    final = publish(args.in_file, args.out_file, args.trust)
    print(f'wrote {final}')
    return final


if __name__ == '__main__':
    main()
