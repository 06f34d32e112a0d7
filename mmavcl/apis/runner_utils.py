"""Shared glue between the command-line tools and the runner."""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmavcl  # noqa: F401  (checkpoint policy, registries)
from mmavcl.registry import RUNNERS


def load_config(path: str, cfg_options: Optional[dict] = None,
                scope: bool = False) -> Config:
    """``Config.fromfile(path)`` with ``--cfg-options`` merged; with
    ``scope``, the config's default scope (``mmavcl``) made current, for
    tools that build registry types themselves."""
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if scope:
        init_default_scope(cfg.get('default_scope', 'mmavcl'))
    return cfg


def add_launcher_args(parser: argparse.ArgumentParser) -> None:
    """``--launcher`` and ``--local_rank`` (torchrun sets ``LOCAL_RANK``;
    the deprecated ``torch.distributed.launch`` passes ``--local_rank``)."""
    parser.add_argument('--launcher',
                        choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launcher_args(parser: argparse.ArgumentParser,
                        argv: Optional[Sequence[str]] = None
                        ) -> argparse.Namespace:
    """Parse ``argv`` and export ``--local_rank`` as ``LOCAL_RANK`` unless
    the launcher set it already."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_common_args(cfg: Config, args) -> Config:
    """Apply ``--cfg-options``, ``--launcher`` and ``--work-dir``."""
    if getattr(args, 'cfg_options', None):
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config):
    """Build the config's runner (``AVRunner`` unless it names another)."""
    cfg.setdefault('runner_type', 'mmavcl.AVRunner')
    cfg.setdefault('default_scope', 'mmavcl')
    return RUNNERS.build(cfg)


def close_distributed() -> None:
    """Tear down the default process group once every rank is done.

    Left to interpreter shutdown, gloo's worker threads may still hold work
    objects while Python is being finalised, and a rank can abort with
    ``terminate called without an active exception`` (SIGABRT) *after* the
    last checkpoint was written; torchrun then reports the whole run as
    failed (pytorch/pytorch#190489). Call at the end of a successful run.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
