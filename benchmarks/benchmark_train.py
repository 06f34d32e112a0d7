"""Training-step speed through the mmavcl Runner vs a plain PyTorch loop.

What it measures for a method config (default: the VCLR toy config):

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
   samples/s the training step can consume;
4. **data-bound Runner** (``--data-bound-iters N``): the Runner again, now
   fed by that real data loader (``pin_memory``, persistent workers).
   ``GPU busy = data-bound it/s / repeated-batch it/s`` is the share of the
   time the step would keep the device busy if loading cost nothing; on
   CUDA the mean NVML utilization over the same iterations is printed too,
   and on any device the mean time the loop waited for the next batch
   (near zero while busy stays low: the training process's own per-batch
   work, not the workers, is what is missing);
5. **profile** (``--profile N``): milliseconds per step of each phase of
   N plain-loop steps (preprocess, forward, backward, optimizer; CUDA
   events, i.e. device time in stream order, on CUDA) and of the data
   preprocessor's video augmentation (its share of the step), then the top
   operators of ``torch.profiler`` over N more and the time of the
   NCHW<->NHWC layout-conversion kernels among them.
   ``--video-aug-impl`` and ``--channels-last`` set what is profiled.

Iterations are timed after ``--warmup`` iterations, in ``--rounds`` ABBA
rounds (plain, runner, runner, plain, ...) so that machine load drifts hit
both alike.

    python benchmarks/benchmark_train.py [CONFIG] [--data-root DIR]
        [--iters 20] [--device cpu|cuda] [--precision fp32|bf16]
        [--loader-workers 2] [--batch-size B]

``--audio-source sidecar`` reads the audio from WAV sidecars extracted
first with ``tools/data/extract_audio.py`` (docs/benchmarks.md, "Audio from
WAV sidecars"). Without ``--data-root`` a small toy set is written with
``tools/data/make_toy_dataset.py`` into a temporary folder; with
``--videos N`` the data are instead N Kinetics-like files (340x256, 10 s,
30 fps, H.264 + AAC, keyframe every ``--keyint`` frames; ``--video-size``
for re-encoded sets) made by ``bench_utils.make_videos``. The
GPU measurement in docs/benchmarks.md::

    python benchmarks/benchmark_train.py \
        configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py \
        --device cuda --precision bf16 --videos 16 --keyint 30 \
        --loader-workers 8 --data-bound-iters 40
"""
import argparse
import contextlib
import copy
import os.path as osp
import re
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import torch

from bench_utils import ROOT, import_script, make_video_set

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


#: the phases of one training step, as named in ``--profile``'s table
PHASES = ('preprocess', 'forward', 'backward', 'optimizer')


def plain_step_fn(model, cfg, device: torch.device, precision: str,
                  mark: Optional[Callable[[Optional[str]], None]] = None):
    """``step(batch)``: one hand-written training step, its phases marked
    with :func:`torch.profiler.record_function` (free when no profiler
    runs) and, when given, ``mark(phase)`` at the start of each phase and
    ``mark(None)`` at its end (:class:`PhaseTimer`)."""
    from torch.profiler import record_function
    model.train()
    opt = build_optimizer(model, cfg)
    clip = (cfg.optim_wrapper.get('clip_grad') or {}).get('max_norm')
    cast = torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=precision == 'bf16')
    mark = mark or (lambda phase: None)

    def step(batch) -> None:
        mark('preprocess')
        with record_function('preprocess'):
            data = model.data_preprocessor(batch, True)
        mark('forward')
        with record_function('forward'), cast:
            loss = sum_losses(model(**data, mode='loss'))
        mark('backward')
        with record_function('backward'):
            loss.backward()
        mark('optimizer')
        with record_function('optimizer'):
            if clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            opt.zero_grad()
        mark(None)

    return step


class PhaseTimer:
    """Milliseconds of each phase of a step, in the order the device runs
    them: CUDA events recorded on the current stream, wall clock on the CPU.

    A profiler range opened on the main thread misses the backward pass on
    CUDA, whose kernels autograd launches from a device thread of its own
    (an H200 profile of the MoCo step showed "backward 0.0 ms"); events
    recorded before and after ``loss.backward()`` on the stream bracket
    those kernels like any others.
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == 'cuda'
        self.marks: List[Tuple[Optional[str], object]] = []

    def __call__(self, phase: Optional[str]) -> None:
        if self.cuda:
            stamp = torch.cuda.Event(enable_timing=True)
            stamp.record()
        else:
            stamp = time.perf_counter()
        self.marks.append((phase, stamp))

    def totals(self) -> Dict[str, float]:
        """Milliseconds per phase, summed over every step marked."""
        if self.cuda:
            torch.cuda.synchronize()
        out: Dict[str, float] = {}
        for (phase, start), (_, end) in zip(self.marks, self.marks[1:]):
            if phase is not None:
                ms = (start.elapsed_time(end) if self.cuda else
                      (end - start) * 1e3)
                out[phase] = out.get(phase, 0.0) + ms
        return out


def plain_loop(model, batch, cfg, iters: int, warmup: int,
               device: torch.device, precision: str) -> float:
    """Iterations/s of a hand-written training loop."""
    step = plain_step_fn(model, cfg, device, precision)
    start = None
    for i in range(warmup + iters):
        if i == warmup:
            _sync(device)
            start = time.perf_counter()
        step(batch)
    _sync(device)
    return iters / (time.perf_counter() - start)


def profile_plain_step(model, batch, cfg, iters: int, device: torch.device,
                       precision: str, top: int = 12) -> Dict[str, float]:
    """Time ``iters`` plain-loop steps (after 2 untimed ones) by phase
    (:class:`PhaseTimer`), then profile as many more with
    ``torch.profiler`` and print the ``top`` operators by self time (device
    time on CUDA, host time on CPU).

    Returns:
        ms per step of each phase in :data:`PHASES` (device time in stream
        order on CUDA) and of the whole step (``'step'``, wall clock, no
        profiler running).
    """
    from torch.profiler import ProfilerActivity, profile
    timer = PhaseTimer(device)
    step = plain_step_fn(model, cfg, device, precision, mark=timer)
    # the video augmentation inside the preprocess phase, timed like the
    # phases (CUDA events in stream order on CUDA)
    aug = getattr(model.data_preprocessor, 'video_aug', None)
    aug_timer = PhaseTimer(device)
    hooks = [] if aug is None else [
        aug.register_forward_pre_hook(lambda m, a: aug_timer('augment')),
        aug.register_forward_hook(lambda m, a, o: aug_timer(None))]
    for _ in range(2):
        step(batch)
    _sync(device)
    timer.marks.clear()
    aug_timer.marks.clear()
    t = time.perf_counter()
    for _ in range(iters):
        step(batch)
    _sync(device)
    for h in hooks:
        h.remove()
    out = {'step': (time.perf_counter() - t) / iters * 1e3}
    out.update({k: v / iters for k, v in timer.totals().items()})
    clock = 'CUDA events' if timer.cuda else 'wall clock'
    print(f'profile of {iters} plain-loop steps ({precision}): '
          f"{out['step']:.1f} ms per step; " +
          ', '.join(f'{k} {out.get(k, 0.0):.1f} ms' for k in PHASES) +
          f' ({clock})')
    if aug is not None:
        out['augment'] = aug_timer.totals().get('augment', 0.0) / iters
        print(f'video augmentation ({type(aug).__name__}): '
              f"{out['augment']:.1f} ms per step, "
              f"{out['augment'] / out['step']:.1%} of the step ({clock})")
    acts = [ProfilerActivity.CPU]
    if device.type == 'cuda':
        acts.append(ProfilerActivity.CUDA)
    with profile(activities=acts) as prof:
        for _ in range(iters):
            step(batch)
        _sync(device)
    where = 'device' if device.type == 'cuda' else 'cpu'
    print(f'top operators of {iters} more steps under torch.profiler '
          f'({where} time):')
    events = prof.key_averages()
    print(events.table(sort_by=f'self_{where}_time_total', row_limit=top))
    layout = layout_kernels(events, where)
    out['layout'] = sum(layout.values()) / iters / 1e3
    print(f'layout kernels ({LAYOUT_KERNELS.pattern}): '
          f"{out['layout']:.1f} ms per step under the profiler, "
          f'{len(layout)} kinds' + ''.join(
              f'\n  {ms / iters / 1e3:.2f} ms  {name[:100]}'
              for name, ms in sorted(layout.items(), key=lambda kv: -kv[1])))
    return out


#: names of the kernels that convert between the default (NC[D]HW) and the
#: channels-last (N[D]HWC) layout, cuDNN's and torch's (H200 profile of
#: 2026-12-04: 10.5 ms a MoCo K400 step)
LAYOUT_KERNELS = re.compile(r'nchw|nhwc|ncdhw|ndhwc', re.I)


def layout_kernels(events, where: str) -> Dict[str, float]:
    """Self ``where`` ('device' or 'cpu') time in microseconds of each
    layout-conversion kernel among ``events`` (profiler key averages)."""
    out = {}
    for evt in events:
        if LAYOUT_KERNELS.search(evt.key):
            us = getattr(evt, f'self_{where}_time_total')
            if us > 0:
                out[evt.key] = out.get(evt.key, 0.0) + us
    return out


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
                device: torch.device, precision: str, work_dir: str,
                stamps: Optional[List[float]] = None,
                starts: Optional[List[float]] = None) -> float:
    """Iterations/s of the same step driven by ``AVRunner``.

    ``batch``: one collated batch (repeated by a DataLoader) or a
    ``train_dataloader`` config (the real data). ``stamps`` (if given)
    receives the time at the end of every iteration, ``starts`` the time
    its batch had arrived (the loop calls ``before_train_iter`` right after
    ``next(loader)``), so ``starts[i] - stamps[i - 1]`` is the wait for
    batch ``i`` (plus the hooks between).
    """
    from mmengine.hooks import Hook

    from mmavcl.engine import AVRunner

    stamps = [] if stamps is None else stamps
    starts = [] if starts is None else starts

    class StampHook(Hook):
        priority = 'LOWEST'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            starts.append(time.perf_counter())

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            _sync(device)
            stamps.append(time.perf_counter())

    total = warmup + iters
    if isinstance(batch, dict) and 'dataset' in batch:
        loader = batch
    else:
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
        train_cfg=dict(type='AVIterBasedTrainLoop', max_iters=total),
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
    """Steady-state samples/s of the config's real train dataloader.

    The batches the workers prefetched while the first one was made
    (``workers x prefetch_factor``) are taken untimed: counting them would
    report the prefetch queue, not the decoding rate.
    """
    from mmengine.runner import Runner
    dl_cfg = copy.deepcopy(cfg.train_dataloader)
    dl_cfg.update(num_workers=workers, persistent_workers=workers > 0,
                  sampler=dict(type='InfiniteSampler', shuffle=True))
    loader = Runner.build_dataloader(dl_cfg, seed=0)
    it = iter(loader)
    backlog = workers * (dl_cfg.get('prefetch_factor') or 2)
    for _ in range(1 + backlog):
        next(it)
    n = 0
    t = time.perf_counter()
    for _ in range(batches):
        n += len(next(it)['data_samples'])
    return n / (time.perf_counter() - t)


def prepare_cfg(config: str, data_root: Optional[str],
                batch_size: Optional[int], tmp: str, videos: int = 0,
                keyint: int = 30, size: Tuple[int, int] = (340, 256)):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if batch_size:
        cfg.train_dataloader.batch_size = batch_size
    dataset = cfg.train_dataloader.dataset
    if videos:
        data_root = data_root or osp.join(tmp, 'bench_videos')
        make_video_set(data_root, videos, keyint, size)
        dataset.update(ann_file='train.txt', data_prefix=dict(video='videos'))
    elif data_root is None:
        data_root = osp.join(tmp, 'toy_av')
        import_script('data', 'make_toy_dataset').make_toy_dataset(
            data_root, num_per_class=4, workers=1)
    dataset.data_root = data_root
    return cfg


def use_wav_sidecars(cfg, out_dir: str, workers: int) -> None:
    """Extract the training set's audio into WAV sidecars with
    ``tools/data/extract_audio.py`` (16 kHz mono) and read them instead of
    the containers' audio."""
    dataset = cfg.train_dataloader.dataset
    root = dataset.get('data_root') or ''
    ann = osp.join(root, dataset.ann_file)
    extract_audio = import_script('data', 'extract_audio')
    if extract_audio.main([
            '--src', osp.join(root, dataset.data_prefix['video']), '--list',
            ann, '--out', out_dir, '--workers', str(max(workers, 1))]):
        raise SystemExit(f'extract_audio.py failed; see {out_dir}')
    dataset.audio_source = 'sidecar'
    dataset.data_prefix = dict(dataset.data_prefix, audio=out_dir)


def use_video_hwaccel(cfg, device_type: str) -> None:
    """Decode the training videos with PyAV on ``device_type`` (``'cuda'``:
    NVDEC) in spawned loader workers (a worker forked from this process,
    which has started CUDA, cannot open the device)."""
    dl = cfg.train_dataloader
    inits = [t for t in dl.dataset.pipeline if t['type'] == 'VideoInit']
    if not inits:
        raise SystemExit('--video-hwaccel: the train pipeline has no '
                         'VideoInit')
    for t in inits:
        t.update(backend='pyav', hwaccel=device_type)
    dl.multiprocessing_context = 'spawn'


class UtilizationSampler:
    """Samples ``torch.cuda.utilization()`` (NVML: share of the last sample
    period in which a kernel ran) every ``period`` s in a thread."""

    def __init__(self, device: torch.device, period: float = 0.1) -> None:
        import threading
        self.device = device
        self.period = period
        self.samples: List[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(),
                                 torch.cuda.utilization(self.device)))
            self._stop.wait(self.period)

    def __enter__(self) -> 'UtilizationSampler':
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def mean(self, start: float, end: float) -> float:
        inside = [u for t, u in self.samples if start <= t <= end]
        return sum(inside) / len(inside) if inside else float('nan')


def data_bound_rate(model, init_state, cfg, args, device: torch.device,
                    work_dir: str) -> Dict:
    """The Runner fed by the config's real train dataloader."""
    dl_cfg = copy.deepcopy(cfg.train_dataloader)
    dl_cfg.update(num_workers=args.loader_workers,
                  persistent_workers=args.loader_workers > 0,
                  pin_memory=device.type == 'cuda',
                  # no stall at epoch ends while the workers restart
                  sampler=dict(type='InfiniteSampler', shuffle=True))
    model.load_state_dict(init_state)
    model.zero_grad(set_to_none=True)
    stamps: List[float] = []
    starts: List[float] = []
    util = None
    if device.type == 'cuda':
        try:
            util = UtilizationSampler(device)
            torch.cuda.utilization(device)  # fails early without NVML
        except Exception as e:  # no pynvml / NVML: report the rate only
            print(f'(no GPU utilization samples: {e})')
            util = None
    with util or contextlib.nullcontext():
        rate = runner_loop(model, dl_cfg, cfg, args.data_bound_iters,
                           args.warmup, device, args.precision, work_dir,
                           stamps=stamps, starts=starts)
    timed = range(max(args.warmup, 1), len(stamps))
    out = dict(data_bound_its=rate, data_wait_ms=1e3 * sum(
        starts[i] - stamps[i - 1] for i in timed) / len(timed))
    if util is not None:
        out['nvml_util'] = util.mean(stamps[args.warmup - 1], stamps[-1])
    return out


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
    parser.add_argument('--data-bound-iters', type=int, default=0,
                        help='also time the Runner fed by the real data '
                        'loader for this many iterations (0: skip)')
    parser.add_argument('--videos', type=int, default=0,
                        help='generate this many Kinetics-like videos as '
                        'the data (0: the toy set or --data-root)')
    parser.add_argument('--keyint', type=int, default=30,
                        help='keyframe interval of the --videos files')
    parser.add_argument('--audio-source', default='config',
                        choices=['config', 'sidecar'],
                        help='sidecar: extract the audio to 16 kHz mono WAVs '
                        'with tools/data/extract_audio.py first and read '
                        'those (config: as the config says)')
    parser.add_argument('--profile', type=int, default=0, metavar='N',
                        help='also profile N plain-loop steps: time per '
                        'phase (preprocess, forward, backward, optimizer) '
                        'and the top operators')
    parser.add_argument('--video-size', default='340x256',
                        help='WxH of the --videos files (170x128: what '
                        'tools/data/reencode_videos.py --short-side 128 '
                        'writes for 340x256 sources)')
    parser.add_argument('--video-aug-impl', choices=['batched', 'kornia'],
                        help="the data preprocessor's video_aug_impl "
                        '(default: as the config says)')
    parser.add_argument('--channels-last', action='store_true',
                        help='channels-last weights and convolution inputs '
                        '(what ChannelsLast3dHook does) in every loop')
    parser.add_argument('--video-hwaccel', choices=['cuda'],
                        help='decode the videos on the GPU (NVDEC, through '
                        'PyAV) in spawned loader workers')
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
        cfg = prepare_cfg(
            args.config, args.data_root, args.batch_size, tmp, args.videos,
            args.keyint, tuple(int(v) for v in args.video_size.split('x')))
        if args.audio_source == 'sidecar':
            use_wav_sidecars(cfg, osp.join(tmp, 'audio_wav'),
                             args.loader_workers)
        if args.video_hwaccel:
            use_video_hwaccel(cfg, args.video_hwaccel)
        if args.video_aug_impl:
            cfg.model.data_preprocessor['video_aug_impl'] = \
                args.video_aug_impl
        dl = cfg.train_dataloader
        ds = DATASETS.build(dl.dataset)
        if args.video_hwaccel:
            from benchmark_pipeline import report_hwaccel
            report_hwaccel(
                ds.get_data_info(0)['filename'], args.video_hwaccel)
        collate = dl.get('collate_fn', dict(type='pseudo_collate'))
        collate = FUNCTIONS.get(collate['type'])
        bs = dl.batch_size
        batch = to_device(collate([ds[i % len(ds)] for i in range(bs)]),
                          device)
        model = MODELS.build(cfg.model).to(device)
        if args.channels_last:
            from mmavcl.engine import convert_to_channels_last
            convert_to_channels_last(model)
        init_state = copy.deepcopy(model.state_dict())
        clips = len(model.data_preprocessor(batch, True)['inputs']['video'])
        name = (torch.cuda.get_device_name(device) if device.type == 'cuda'
                else 'CPU')
        impl = cfg.model.get('data_preprocessor', {}).get('video_aug_impl')
        print(f'config: {osp.relpath(args.config, ROOT)}, batch {bs} x '
              f'{clips} clips, device {device} ({name}), {args.precision}, '
              f'{torch.get_num_threads()} threads, video_aug_impl {impl}, '
              f'{"channels-last" if args.channels_last else "default"} '
              'layout')
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
              f'({plain * bs:.1f} samples/s, {plain * bs * clips:.1f} '
              f'clips/s)')
        print(f'mmavcl Runner: {runner:.2f} it/s ({runner * bs:.1f} '
              f'samples/s, {runner * bs * clips:.1f} clips/s)')
        print(f'runner vs plain loop: {runner / plain:.3f}x')
        out = dict(plain_its=plain, runner_its=runner,
                   ratio=runner / plain, batch_size=bs, clips=clips)
        if args.loader_batches > 0:
            lr = loader_rate(cfg, args.loader_workers, args.loader_batches)
            step = runner * bs
            print(f'data loader ({args.loader_workers} workers, real '
                  f'decoding): {lr:.1f} samples/s; training step consumes '
                  f'{step:.1f} samples/s -> '
                  f'{"loader-bound" if lr < step else "compute-bound"}')
            print(f'data loader vs training step: {lr / step:.2f}x')
            out.update(loader_samples_s=lr, step_samples_s=step)
        if args.data_bound_iters > 0:
            out.update(data_bound_rate(model, init_state, cfg, args, device,
                                       osp.join(tmp, 'work_data')))
            rate = out['data_bound_its']
            print(f'Runner with real data loading ({args.loader_workers} '
                  f'workers): {rate:.2f} it/s ({rate * bs * clips:.1f} '
                  f'clips/s)')
            busy = (f'{"GPU" if device.type == "cuda" else "compute"} busy: '
                    f'{rate / runner:.1%} (data-bound it/s / repeated-batch '
                    'it/s)')
            if 'nvml_util' in out:
                busy += f'; NVML utilization {out["nvml_util"]:.0f} %'
            print(busy)
            wait = out['data_wait_ms']
            print(f'waiting for the next batch: {wait:.1f} ms of '
                  f'{1e3 / rate:.1f} ms per iteration ({wait * rate / 10:.0f}'
                  ' %)')
            out['busy'] = rate / runner
        if args.profile > 0:
            model.load_state_dict(init_state)
            model.zero_grad(set_to_none=True)
            out['profile_ms'] = profile_plain_step(
                model, batch, cfg, args.profile, device, args.precision)
    return out


if __name__ == '__main__':
    main()
