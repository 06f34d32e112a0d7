"""Train (pretrain, linear-probe or fine-tune) a model from a config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [auto|PATH]]
        [--start-over] [--trust-checkpoint] [--amp] [--compile [BACKEND]]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher ...]

Checkpoints load ``weights_only`` (``mmavcl.utils.checkpoint``): a run's own
checkpoints resume that way, and only a file inside the run's work dir may
be fully unpickled to resume it. ``--trust-checkpoint`` extends that to the
one file given by ``--resume PATH`` (or the config's ``load_from``), e.g. a
checkpoint you wrote with plain mmengine elsewhere. One run at a time may
train into a work dir (``work_dir/.mmavcl.lock``), and a new run (no
``--resume``) refuses a work dir that holds an earlier run's checkpoints
unless ``--start-over`` moves them aside.
"""
import argparse

from mmengine.config import Config, DictAction
from torch.distributed.elastic.multiprocessing.errors import record

from mmavcl.apis.runner_utils import (add_launcher_args, build_runner,
                                      close_distributed, merge_common_args,
                                      parse_launcher_args)
from mmavcl.utils.checkpoint import trusted_checkpoints


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model with mmavcl')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from PATH, or from the latest checkpoint in the work '
        'dir when given without a value (or as "auto")')
    parser.add_argument(
        '--start-over', action='store_true',
        help='start a new run in a work dir that holds an earlier run\'s '
        'checkpoints: they are moved into superseded_<time>/ next to them '
        '(without this, or --resume, such a run is refused)')
    parser.add_argument(
        '--trust-checkpoint', action='store_true',
        help='allow full unpickling of the file given by --resume PATH (or '
        'the config\'s load_from). Only for a file you wrote yourself: '
        'unpickling a crafted checkpoint runs code. Not needed for '
        'checkpoints written by mmavcl')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision (fp16 AMP on CUDA, bf16 '
                        'autocast on CPU)')
    parser.add_argument(
        '--compile', nargs='?', const='inductor', metavar='BACKEND',
        help='torch.compile the backbones: adds default_hooks.compile = '
        'dict(type="TorchCompileHook", backend=BACKEND) (default backend: '
        'inductor; "aot_eager" or "eager" compile fast, for checking a '
        'model)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR linearly with the total batch')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic cuDNN / algorithms')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. '
                        'model.backbone.depth=34')
    add_launcher_args(parser)
    return parse_launcher_args(parser, argv)


def merge_args(cfg: Config, args) -> Config:
    merge_common_args(cfg, args)
    if args.amp:
        import torch
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper in ('AmpOptimWrapper', 'AutocastOptimWrapper'):
            pass
        elif torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            cfg.optim_wrapper.type = 'AutocastOptimWrapper'
            cfg.optim_wrapper.setdefault('dtype', 'bfloat16')
    if args.compile:
        # A hook named in the config (not mmengine's `compile` option,
        # which compiles the whole train_step): keeps the arguments of a
        # TorchCompileHook the config already names, sets the backend.
        hooks = cfg.get('default_hooks') or {}
        hook = dict(hooks.get('compile') or dict(type='TorchCompileHook'))
        hook['backend'] = args.compile
        cfg.default_hooks = dict(hooks, compile=hook)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.start_over:
        if args.resume is not None:
            raise ValueError('--start-over starts a new run; --resume '
                             'continues one: give one of them')
        cfg.start_over = True
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in \
                cfg.auto_scale_lr:
            raise KeyError(
                f'{args.config}: --auto-scale-lr needs '
                '`auto_scale_lr = dict(base_batch_size=N)` in the config')
        cfg.auto_scale_lr.enable = True
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.seed is not None or args.deterministic:
        randomness = cfg.get('randomness', dict())
        if args.seed is not None:
            randomness['seed'] = args.seed
        randomness['deterministic'] = args.deterministic
        cfg.randomness = randomness
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    trusted = []
    if args.trust_checkpoint:
        if not cfg.get('load_from'):
            raise ValueError(
                f'{args.config}: --trust-checkpoint needs a file to trust: '
                'give --resume PATH or set load_from')
        trusted.append(cfg.load_from)
    runner = build_runner(cfg)
    # scoped to that one path: init_cfg checkpoints and anything else
    # the run loads stay weights-only
    with trusted_checkpoints(*trusted):
        runner.train()
    close_distributed()


if __name__ == '__main__':
    # under torchrun the failed rank writes its exception to an error file,
    # and torchrun's closing summary shows it as the root cause (without:
    # its exit code only, 'error_file: <N/A>'); elsewhere it only turns on
    # faulthandler
    record(main)()
