"""Extract pooled backbone features once, for retrieval / kNN / linear eval.

    python tools/extract_features.py CONFIG CHECKPOINT --out feats.npz \
        [--split test|train|val] [--prefix backbone.] [--cfg-options ...]
    # distributed: torchrun --nproc_per_node=N tools/extract_features.py \
    #     CONFIG CHECKPOINT --out feats.npz --launcher pytorch

Per-snippet features for temporal action localizers (BMN, ActionFormer
...): with ``--snippets activitynet|thumos14``, ``--out`` is a folder and
one file per video is written from the views of a ``SampleSnippets``
pipeline (a ``tal-features_*`` config; batch size 1), in view order:

    python tools/extract_features.py CONFIG CHECKPOINT --out DIR \
        --snippets activitynet [--temporal-scale 100] [--format csv|npy]

``activitynet``: the sequence rescaled to ``--temporal-scale`` snippets
(BSN/BMN's rescaling), ``<name>.csv`` with a header row (MMAction2's
``LoadLocalizationFeature``); ``thumos14``: every snippet at the config's
stride, ``<name>.npy`` ``(N, C)``. ``DIR/snippet_info.json`` records per
video the snippet count, the frames they cover (``feature_frame``), the
video's frames and fps.

CONFIG's ``model`` must be an ``AVRecognizer`` (a ``benchmarks/`` retrieval
or linear config); ``<split>_dataloader`` is the data. CHECKPOINT is any file
with the backbone's weights under ``--prefix``: a pretraining checkpoint,
``tools/convert/to_mmaction2.py`` output, or bare backbone weights. Writes
``features (M, C)``, ``labels``, ``video_ids``, ``sample_idx`` and
``view_idx`` (one row per view).
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
import torch.distributed as dist
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from torch.distributed.elastic.multiprocessing.errors import record

import mmavcl  # noqa: F401  (checkpoint policy, registries)
from mmavcl.apis.features import extract_features
from mmavcl.apis.runner_utils import (add_launcher_args, close_distributed,
                                      load_config, parse_launcher_args)
from mmavcl.evaluation.functional import (SNIPPET_LAYOUTS, group_snippets,
                                          rescale_snippets, save_features,
                                          snippet_file_name,
                                          write_snippet_file)
from mmavcl.registry import MODELS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Extract backbone features')
    p.add_argument('config', help='config with an AVRecognizer model')
    p.add_argument('checkpoint', help='checkpoint with backbone weights')
    p.add_argument('--out', required=True,
                   help='output .npz (a folder with --snippets)')
    p.add_argument('--snippets', choices=sorted(SNIPPET_LAYOUTS),
                   help='write one per-snippet file per video in this '
                   "localizer layout (the config's SampleSnippets views)")
    p.add_argument('--temporal-scale', type=int, default=100,
                   help='snippets per video of the activitynet layout')
    p.add_argument('--format', choices=('csv', 'npy'),
                   help='file format of --snippets (default: csv for '
                   'activitynet, npy for thumos14)')
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
    if args.snippets is None and not args.out.endswith('.npz'):
        p.error(f'--out {args.out}: must end in .npz')
    if args.snippets is not None and args.out.endswith('.npz'):
        p.error(f'--out {args.out}: with --snippets, --out is a folder')
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
    if args.snippets is not None:
        _check_snippet_loader(args.config, loader_cfg)
    out = extract_features(model, loader, progress=not args.no_progress,
                           keep_meta=args.snippets is not None)
    if out is not None and args.snippets is not None:
        write_snippets(out, args.out, args.snippets, args.temporal_scale,
                       args.format, _snippet_sampler(loader_cfg))
    elif out is not None:  # rank 0
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


def _snippet_sampler(loader_cfg) -> dict:
    steps = [t for t in loader_cfg['dataset'].get('pipeline', [])
             if str(t.get('type', '')).split('.')[-1] == 'SampleSnippets']
    return dict(steps[0]) if steps else {}


def _check_snippet_loader(config: str, loader_cfg) -> None:
    """A snippet loader samples with SampleSnippets, one video a batch
    (the number of snippets varies per video)."""
    if not _snippet_sampler(loader_cfg):
        raise ValueError(f'{config}: --snippets needs a SampleSnippets step '
                         "in the loader's pipeline (a tal-features_* "
                         'benchmark config)')
    if loader_cfg.get('batch_size', 1) != 1:
        raise ValueError(f'{config}: --snippets needs batch_size=1 (videos '
                         'have different snippet counts), got '
                         f'{loader_cfg.get("batch_size")}')


def write_snippets(out: dict, out_dir: str, layout: str, temporal_scale: int,
                   fmt: str = None, sampler: dict = None) -> dict:
    """Write one feature file per video (see the module docstring) and
    ``snippet_info.json``; returns the info."""
    fmt = fmt or SNIPPET_LAYOUTS[layout]
    sampler = sampler or {}
    span = sampler.get('clip_len', 1) * sampler.get('frame_interval', 1)
    stride = sampler.get('stride', 16)
    seqs = group_snippets(out['features'], out['video_ids'],
                          out['view_idx'])
    first = {}
    for i, vid in enumerate(np.asarray(out['video_ids']).astype(str)):
        first.setdefault(vid, i)
    info = {}
    for vid, seq in seqs.items():
        name = snippet_file_name(vid, fmt)
        feats = rescale_snippets(seq, temporal_scale) \
            if layout == 'activitynet' else seq
        write_snippet_file(osp.join(out_dir, name), feats)
        total = int(out['total_frames'][first[vid]])
        info[name] = dict(
            video_id=vid, num_snippets=len(seq), rows=len(feats),
            stride=stride, snippet_frames=span,
            # frames the snippets cover (BMN's `feature_frame`)
            feature_frame=min(total, (len(seq) - 1) * stride + span),
            duration_frame=total, fps=float(out['fps'][first[vid]]))
    # several splits may share one folder (THUMOS14 val + test): merge
    path = osp.join(out_dir, 'snippet_info.json')
    merged = {}
    if osp.isfile(path):
        with open(path) as f:
            merged = json.load(f)
    merged.update(info)
    with open(path, 'w') as f:
        json.dump(merged, f, indent=1)
    print(f'wrote {len(seqs)} {layout} feature files '
          f'({feats.shape[1]}-d, {fmt}) to {out_dir}')
    return info


if __name__ == '__main__':
    # torchrun's summary then shows the failed rank's error (see train.py)
    record(main)()
