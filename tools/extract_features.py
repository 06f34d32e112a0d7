"""Extract pooled backbone features once, for retrieval / kNN / linear eval.

    python tools/extract_features.py CONFIG CHECKPOINT --out feats.npz \
        [--split test|train|val] [--prefix backbone.] [--cfg-options ...]
    # distributed: torchrun --nproc_per_node=N tools/extract_features.py \
    #     CONFIG CHECKPOINT --out feats.npz --launcher pytorch

CONFIG's ``model`` must be an ``AVRecognizer`` (a ``benchmarks/`` retrieval
or linear config); ``<split>_dataloader`` is the data. CHECKPOINT is any file
with the backbone's weights under ``--prefix``: a pretraining checkpoint,
``tools/convert/to_mmaction2.py`` output, or bare backbone weights. Writes
``features (M, C)``, ``labels``, ``video_ids``, ``sample_idx`` and
``view_idx`` (one row per view).
"""
import argparse
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import mmavcl  # noqa: F401  (checkpoint policy, registries)
from mmavcl.apis.features import extract_features
from mmavcl.apis.runner_utils import (add_launcher_args, close_distributed,
                                      load_config, parse_launcher_args)
from mmavcl.evaluation.functional import save_features
from mmavcl.registry import MODELS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Extract backbone features')
    p.add_argument('config', help='config with an AVRecognizer model')
    p.add_argument('checkpoint', help='checkpoint with backbone weights')
    p.add_argument('--out', required=True, help='output .npz')
    p.add_argument('--split', default='test',
                   help='use <split>_dataloader of the config (default test)')
    p.add_argument('--prefix', default=None,
                   help='backbone key prefix inside CHECKPOINT (default: '
                   "the model's pretrained_prefix, i.e. backbone.)")
    p.add_argument('--no-progress', action='store_true')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='override config entries')
    add_launcher_args(p)
    args = parse_launcher_args(p, argv)
    if not args.out.endswith('.npz'):
        p.error(f'--out {args.out}: must end in .npz')
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    key = f'{args.split}_dataloader'
    if not cfg.get(key):
        raise KeyError(f'{args.config}: no `{key}` for --split {args.split}')
    if args.launcher != 'none' and not dist.is_initialized():
        if torch.cuda.is_available():
            from mmengine.dist import init_dist
            init_dist(args.launcher)
        else:
            dist.init_process_group('gloo')
    init_default_scope(cfg.get('default_scope', 'mmavcl'))
    if cfg.model.get('type') not in ('AVRecognizer', 'mmavcl.AVRecognizer'):
        raise TypeError(f'{args.config}: model {cfg.model.get("type")} is not '
                        'an AVRecognizer; use a benchmarks/ config')
    model_cfg = cfg.model.copy()
    # init_weights() loads CHECKPOINT into the backbone, checking its keys
    model_cfg['pretrained'] = args.checkpoint
    if args.prefix is not None:
        model_cfg['pretrained_prefix'] = args.prefix
    model = MODELS.build(model_cfg)
    model.init_weights()
    if torch.cuda.is_available():
        model = model.cuda()
    loader_cfg = cfg[key].copy()
    loader_cfg.setdefault('sampler', dict(type='DefaultSampler'))
    loader_cfg['sampler']['shuffle'] = False  # rows in dataset order
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    out = extract_features(model, loader, progress=not args.no_progress)
    if out is not None:  # rank 0
        if osp.dirname(args.out):
            os.makedirs(osp.dirname(args.out), exist_ok=True)
        save_features(args.out, **out,
                      meta=dict(config=args.config,
                                checkpoint=args.checkpoint,
                                split=args.split))
        print(f'wrote {args.out}: {out["features"].shape[0]} rows of '
              f'{out["features"].shape[1]}-d features from '
              f'{len(set(out["video_ids"]))} videos')
    close_distributed()


if __name__ == '__main__':
    main()
