"""Shared glue between the command-line tools and the runner."""
import os.path as osp

from mmengine.config import Config

import mmavcl  # noqa: F401  (checkpoint policy, registries)
from mmavcl.registry import RUNNERS


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
    cfg.setdefault('runner_type', 'AVRunner')
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
