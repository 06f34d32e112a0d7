"""Parameters and FLOPs of a config's backbone at its input size.

    python tools/analysis/get_flops.py CONFIG [--shape 3 16 112 112]
"""
import argparse

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import DictAction
from mmengine.model import revert_sync_batchnorm

from mmavcl.apis.runner_utils import load_config
from mmavcl.registry import MODELS


def backbone_cfgs(model_cfg) -> dict:
    """Every ``*backbone*`` entry of a model config, by name."""
    return {k: v for k, v in model_cfg.items()
            if 'backbone' in k and isinstance(v, dict) and 'type' in v}


def main(argv=None):
    parser = argparse.ArgumentParser(description='Backbone params and FLOPs')
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs='+',
                        help='input shape without batch, e.g. 3 16 112 112 '
                        '(default: the config\'s `input_shape`, else that)')
    parser.add_argument('--backbone', default=None,
                        help='which backbone of a multi-backbone model')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, scope=True)
    found = backbone_cfgs(cfg.model)
    if not found:
        raise KeyError(f'{args.config}: model has no `backbone` entry')
    name = args.backbone or next(iter(found))
    if name not in found:
        raise KeyError(f'--backbone {name}: choose one of {sorted(found)}')
    shape = args.shape or cfg.get('input_shape', [3, 16, 112, 112])
    model = revert_sync_batchnorm(MODELS.build(found[name])).eval()
    with torch.no_grad():
        info = get_model_complexity_info(model, inputs=(
            torch.zeros(1, *shape), ), show_table=False, show_arch=False)
    print(f'backbone: {name} ({found[name]["type"]})')
    print(f'input shape: {tuple(shape)}')
    print(f'params: {info["params"] / 1e6:.2f} M')
    print(f'flops: {info["flops"] / 1e9:.2f} GFLOPs')


if __name__ == '__main__':
    main()
