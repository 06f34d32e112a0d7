"""Evaluate a checkpoint on a config's test set.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--dump results.pkl] [--cfg-options k=v ...] [--launcher ...]

CHECKPOINT is loaded as weights only (``weights_only=True``; a file that
holds more is refused unless ``MMAVCL_TRUST_CHECKPOINTS=1``). Testing never
resumes: ``resume=True`` in the config or ``--cfg-options`` is ignored with a
warning, because resuming would restore (and, for files that need it,
fully unpickle) training state that a test does not use. A test may run in
the work dir of a training run that is still going: it takes no work dir
lock, since it writes no checkpoints (its logs go to a new timestamped
folder).
"""
import argparse
import logging

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from torch.distributed.elastic.multiprocessing.errors import record

from mmavcl.apis.runner_utils import (add_launcher_args, build_runner,
                                      close_distributed, merge_common_args,
                                      parse_launcher_args)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a model with mmavcl')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument('--dump', type=str,
                        help='dump predictions to a pickle file (.pkl)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries')
    add_launcher_args(parser)
    return parse_launcher_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    merge_common_args(cfg, args)
    if cfg.get('resume', False):
        print_log(
            f'{args.config}: ignoring resume={cfg.resume!r}; tools/test.py '
            f'loads the weights of {args.checkpoint} and never resumes.',
            logger='current', level=logging.WARNING)
    cfg.resume = False
    cfg.load_from = args.checkpoint
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump {args.dump}: must end in .pkl/.pickle')
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict):
            evaluator = [evaluator]
        cfg.test_evaluator = list(evaluator) + [
            dict(type='DumpResults', out_file_path=args.dump)]
    runner = build_runner(cfg)
    runner.test()
    close_distributed()


if __name__ == '__main__':
    # torchrun's summary then shows the failed rank's error (see train.py)
    record(main)()
