"""Training-step speed through the mmavcl Runner vs a plain PyTorch loop.

Three numbers for a method config (default: the VCLR toy config):

1. **plain loop**: ``data_preprocessor -> model(mode='loss') -> sum of the
   loss terms -> backward -> optimizer.step -> zero_grad`` on one
   pre-collated batch that already sits on the device;
2. **Runner**: the same model (same initial weights), the same batch (a
   DataLoader that yields it again and again), the same optimizer built from
   the config's ``optim_wrapper``, driven by ``AVRunner``'s
   ``IterBasedTrainLoop`` with a real ``OptimWrapper`` (or
   ``AutocastOptimWrapper`` for ``--precision bf16``) and the config's
   default hooks (logger, timer, visualizer); checkpoints, parameter
   schedulers, custom hooks and validation are left out because the plain
   loop has none. ``runner / plain`` is the framework-overhead ratio
   (target >= 0.95);
3. **data loader**: the config's real ``train_dataloader`` (real decoding)
   with ``--loader-workers`` workers: samples/s, compared with the
   samples/s the training step can consume.

Iterations are timed after ``--warmup`` iterations, in ``--rounds`` ABBA
rounds (plain, runner, runner, plain, ...) so that machine load drifts hit
both alike.

    python tools/analysis/benchmark_train.py [CONFIG] [--data-root DIR]
        [--iters 20] [--device cpu|cuda] [--precision fp32|bf16]
        [--loader-workers 2] [--batch-size B]

Without ``--data-root`` a small toy set is written with
``tools/data/make_toy_dataset.py`` into a temporary folder.
"""
import argparse
import copy
import os.path as osp
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIG = osp.join(ROOT, 'configs/vclr/vclr_r3d-18_toy.py')


def to_device(obj, device: torch.device):
    """Move every tensor in nested lists/tuples/dicts to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def sum_losses(losses: Dict) -> torch.Tensor:
    """Sum of the entries whose key contains ``loss`` (as mmengine does)."""
    total = 0
    for k, v in losses.items():
        if 'loss' not in k:
            continue
        if isinstance(v, (list, tuple)):
            total = total + sum(x.mean() for x in v)
        else:
            total = total + v.mean()
    return total


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """The optimizer the config's optim_wrapper would build (param groups,
    paramwise settings included)."""
    from mmengine.optim import build_optim_wrapper
    ow = copy.deepcopy(cfg.optim_wrapper)
    ow['type'] = 'OptimWrapper'
    for key in ('dtype', 'loss_scale', 'accumulative_counts'):
        ow.pop(key, None)
    return build_optim_wrapper(model, ow).optimizer


def plain_loop(model, batch, cfg, iters: int, warmup: int,
               device: torch.device, precision: str) -> float:
    """Iterations/s of a hand-written training loop."""
    model.train()
    opt = build_optimizer(model, cfg)
    clip = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    cast = torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=precision == 'bf16')
    start = None
    for i in range(warmup + iters):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        data = model.data_preprocessor(batch, True)
        with cast:
            losses = model(**data, mode='loss')
        loss = sum_losses(losses)
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        opt.zero_grad()
    _sync(device)
    return iters / (time.perf_counter() - start)


class RepeatBatch(torch.utils.data.Dataset):
    """``length`` times the same (already collated) batch."""

    def __init__(self, batch, length: int) -> None:
        self.batch = batch
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, idx):
        return self.batch


def _first(items):
    return items[0]


def runner_loop(model, batch, cfg, iters: int, warmup: int,
                device: torch.device, precision: str,
                work_dir: str) -> float:
    """Iterations/s of the same step driven by ``AVRunner``."""
    from mmengine.hooks import Hook

    from mmavcl.engine import AVRunner

    stamps: List[float] = []

    class StampHook(Hook):
        priority = 'LOWEST'

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            _sync(device)
            stamps.append(time.perf_counter())

    total = warmup + iters
    loader = torch.utils.data.DataLoader(
        RepeatBatch(batch, total), batch_size=1, collate_fn=_first)
    ow = copy.deepcopy(cfg.optim_wrapper)
    if precision == 'bf16':
        ow.update(type='AutocastOptimWrapper', dtype='bfloat16')
    hooks = copy.deepcopy(cfg.get('default_hooks', {}))
    hooks['checkpoint'] = None
    hooks['param_scheduler'] = None
    hooks.setdefault('logger', dict(type='LoggerHook'))
    runner = AVRunner(
        model=model,
        work_dir=work_dir,
        train_dataloader=loader,
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=total),
        optim_wrapper=ow,
        default_hooks=hooks,
        custom_hooks=[StampHook()],
        env_cfg=cfg.get('env_cfg', dict()),
        log_processor=cfg.get('log_processor'),
        log_level='WARNING',
        visualizer=cfg.get('visualizer'),
        default_scope='mmavcl',
        randomness=cfg.get('randomness', dict(seed=0)),
        experiment_name=f'bench_{time.time_ns()}')
    runner.train()
    # stamps[warmup - 1] ends the last warm-up iteration
    return iters / (stamps[-1] - stamps[warmup - 1])


def loader_rate(cfg, workers: int, batches: int) -> float:
    """Samples/s of the config's real train dataloader."""
    from mmengine.runner import Runner
    dl_cfg = copy.deepcopy(cfg.train_dataloader)
    dl_cfg['num_workers'] = workers
    dl_cfg['persistent_workers'] = workers > 0
    loader = Runner.build_dataloader(dl_cfg, seed=0)
    it = iter(loader)
    next(it)  # workers started, first batch out
    n = 0
    t = time.perf_counter()
    for _ in range(batches):
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            b = next(it)
        n += len(b['data_samples'])
    return n / (time.perf_counter() - t)


def prepare_cfg(config: str, data_root: Optional[str],
                batch_size: Optional[int], tmp: str):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if data_root is None:
        data_root = osp.join(tmp, 'toy_av')
        sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
        from make_toy_dataset import make_toy_dataset
        make_toy_dataset(data_root, num_per_class=4, workers=1)
    cfg.train_dataloader.dataset.data_root = data_root
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    return cfg


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=DEFAULT_CONFIG)
    parser.add_argument('--data-root', help='dataset root of the config '
                        '(default: a generated toy set)')
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--iters', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=2,
                        help='ABBA rounds of plain/runner measurements')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--precision', default='fp32',
                        choices=['fp32', 'bf16'])
    parser.add_argument('--threads', type=int, default=0,
                        help='torch intra-op threads (0: torch default); 1 '
                        'avoids thread oversubscription on a shared CPU')
    parser.add_argument('--loader-workers', type=int, default=2)
    parser.add_argument('--loader-batches', type=int, default=10)
    return parser.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='.*FileClient.*')
    warnings.filterwarnings('ignore', message='.*should not accept any '
                            'other arguments.*')
    import mmavcl  # noqa: F401
    from mmengine.registry import init_default_scope

    from mmavcl.registry import DATASETS, FUNCTIONS, MODELS
    init_default_scope('mmavcl')
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is available')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = prepare_cfg(args.config, args.data_root, args.batch_size, tmp)
        dl = cfg.train_dataloader
        ds = DATASETS.build(dl.dataset)
        collate = dl.get('collate_fn', dict(type='pseudo_collate'))
        collate = FUNCTIONS.get(collate['type'])
        bs = dl.batch_size
        batch = to_device(collate([ds[i % len(ds)] for i in range(bs)]),
                          device)
        model = MODELS.build(cfg.model).to(device)
        init_state = copy.deepcopy(model.state_dict())
        print(f'config: {osp.relpath(args.config, ROOT)}, batch {bs}, '
              f'device {device}, {args.precision}, {torch.get_num_threads()}'
              f' threads')
        rates = {'plain': [], 'runner': []}
        for r in range(args.rounds):
            order = ('plain', 'runner') if r % 2 == 0 else ('runner',
                                                             'plain')
            for kind in order:
                model.load_state_dict(init_state)
                model.zero_grad(set_to_none=True)
                if kind == 'plain':
                    rate = plain_loop(model, batch, cfg, args.iters,
                                      args.warmup, device, args.precision)
                else:
                    rate = runner_loop(model, batch, cfg, args.iters,
                                       args.warmup, device, args.precision,
                                       osp.join(tmp, f'work_{r}'))
                rates[kind].append(rate)
        plain = sum(rates['plain']) / len(rates['plain'])
        runner = sum(rates['runner']) / len(rates['runner'])
        print(f'plain PyTorch loop: {plain:.2f} it/s '
              f'({plain * bs:.1f} samples/s)')
        print(f'mmavcl Runner: {runner:.2f} it/s ({runner * bs:.1f} '
              f'samples/s)')
        print(f'runner vs plain loop: {runner / plain:.3f}x')
        out = dict(plain_its=plain, runner_its=runner,
                   ratio=runner / plain, batch_size=bs)
        if args.loader_batches > 0:
            lr = loader_rate(cfg, args.loader_workers, args.loader_batches)
            step = runner * bs
            print(f'data loader ({args.loader_workers} workers, real '
                  f'decoding): {lr:.1f} samples/s; training step consumes '
                  f'{step:.1f} samples/s -> '
                  f'{"loader-bound" if lr < step else "compute-bound"}')
            print(f'data loader vs training step: {lr / step:.2f}x')
            out.update(loader_samples_s=lr, step_samples_s=step)
    return out


if __name__ == '__main__':
    main()
