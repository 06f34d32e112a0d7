"""Tiny registered model/dataset/hooks shared by the engine tests.

Importable both by the test modules (pytest puts ``tests/engine`` on
``sys.path``) and by ``tools/train.py`` subprocesses through
``custom_imports=dict(imports=['engine_toys'])`` with ``tests/engine`` on
``PYTHONPATH``.

``ToyMoCo`` has what makes exact resume hard in a real SSL run: a feature
queue buffer with its pointer, an EMA copy of the encoder, dropout and input
noise drawn from the global torch RNG. ``ToyVectors`` adds jitter drawn from
the global ``numpy`` and ``random`` generators in ``__getitem__`` and can
hold a NaN sample.
"""
import glob
import json
import os
import os.path as osp
import random
import subprocess
import sys
import time
import uuid
from typing import Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel, ExponentialMovingAverage
from torch.utils.data import Dataset

from mmavcl.registry import DATASETS, HOOKS, METRICS, MODELS
from mmavcl.structures import AVDataSample
from mmavcl.testing import free_port

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))


@DATASETS.register_module(force=True)
class ToyVectors(Dataset):
    """``n`` fixed random vectors (in_dim,), jittered on every access.

    Args:
        nan_index (int, optional): this sample's first value is NaN.
    """

    metainfo = dict(name='toy-vectors')

    def __init__(self, n: int = 24, in_dim: int = 8, seed: int = 0,
                 nan_index: Optional[int] = None, scale: float = 1.0):
        rng = np.random.default_rng(seed)
        self.data = rng.standard_normal((n, in_dim)).astype(np.float32)
        self.data *= scale
        self.nan_index = nan_index

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Dict:
        x = self.data[i] + np.random.normal(
            0, 0.05, self.data.shape[1]).astype(np.float32)
        x = x + random.random() * 0.01
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if i == self.nan_index:
            x[0] = float('nan')
        return dict(inputs=x, idx=i)


@DATASETS.register_module(force=True)
class SpikyToyVectors(ToyVectors):
    """``ToyVectors`` whose sample ``spike_index`` is multiplied by
    ``spike``; every sample names a file as a video data set's do."""

    def __init__(self, spike_index: int = 9, spike: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.spike_index, self.spike = spike_index, spike

    def __getitem__(self, i: int):
        out = super().__getitem__(i)
        if i == self.spike_index:
            out['inputs'] = out['inputs'] * self.spike
        out['data_samples'] = AVDataSample(
            metainfo=dict(filename=f'/data/videos/clip_{i:03d}.mp4'))
        return out


@MODELS.register_module(force=True)
class ToyRegressor(BaseModel):
    """``loss = mean(net(x) ** 2)``: the gradient grows with the input."""

    def __init__(self, in_dim: int = 8, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.net = nn.Sequential(nn.Linear(in_dim, 16), nn.ReLU(),
                                 nn.Linear(16, 1))

    def forward(self, inputs, idx=None, data_samples=None, mode='loss'):
        y = self.net(inputs.float())
        return y if mode != 'loss' else dict(loss_mse=y.pow(2).mean())


@MODELS.register_module(force=True)
class ToyMoCo(BaseModel):
    """MoCo in miniature.

    q = normalize(f(x + 0.1 e)),  k = normalize(f_ema(x + 0.1 e')),
    L = -log( exp(q.k / t) / (exp(q.k / t) + sum_j exp(q.Q_j / t)) ),
    then k is written into the FIFO queue Q at ``ptr``.
    """

    def __init__(self, in_dim: int = 8, dim: int = 4, queue_len: int = 12,
                 temperature: float = 0.5, dropout: float = 0.2,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.encoder = nn.Sequential(
            nn.Linear(in_dim, 16), nn.Dropout(dropout), nn.ReLU(),
            nn.Linear(16, dim))
        self.ema = ExponentialMovingAverage(self.encoder, momentum=0.1)
        self.register_buffer(
            'queue', F.normalize(torch.randn(queue_len, dim), dim=1))
        self.register_buffer('ptr', torch.zeros(1, dtype=torch.long))
        self.temperature = temperature

    def forward(self, inputs: torch.Tensor, idx=None, data_samples=None,
                mode: str = 'loss'):
        x = inputs.float()
        q = F.normalize(self.encoder(x + 0.1 * torch.randn_like(x)), dim=1)
        if mode != 'loss':
            return q
        with torch.no_grad():
            self.ema.update_parameters(self.encoder)
            k = F.normalize(
                self.ema(x + 0.1 * torch.randn_like(x)), dim=1)
        queue = self.queue.clone()  # the enqueue below writes in place
        logits = torch.cat([(q * k).sum(1, keepdim=True),
                            q @ queue.to(q.dtype).t()], dim=1)
        logits = logits / self.temperature
        loss = F.cross_entropy(logits, logits.new_zeros(len(x)).long())
        with torch.no_grad():
            pos = (self.ptr + torch.arange(len(k), device=k.device)) % len(
                self.queue)
            self.queue[pos] = k.to(self.queue.dtype)
            self.ptr.copy_((self.ptr + len(k)) % len(self.queue))
        return dict(loss_nce=loss, loss_reg=1e-3 * q.pow(2).sum(1).mean())


@MODELS.register_module(force=True)
class ToyClipMean(BaseModel):
    """A linear map of each clip's mean colour: a model that trains on
    packed AV items (``inputs['video'][0]``: ``(B, C, T, H, W)`` uint8 from
    ``av_collate``) in milliseconds."""

    def __init__(self, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.fc = nn.Linear(3, 4)

    def forward(self, inputs, data_samples=None, mode: str = 'loss'):
        x = inputs['video'][0].float().mean(dim=(2, 3, 4)) / 255
        y = self.fc(x)
        if mode != 'loss':
            return y
        return dict(loss=y.pow(2).mean())


@HOOKS.register_module(force=True)
class RecordShardKeysHook(Hook):
    """Appends ``epoch:iter:shard#key,...`` of every batch trained on (the
    metainfo ``AVShardDataset`` sets) to ``keys.txt``."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        keys = ','.join(
            f"{s.metainfo['shard']}#{s.metainfo['shard_key']}"
            for s in data_batch['data_samples'])
        with open(osp.join(runner.work_dir, 'keys.txt'), 'a') as f:
            f.write(f'{runner.epoch}:{runner.iter + 1}:{keys}\n')


@HOOKS.register_module(force=True)
class RecordDecodedIdsHook(Hook):
    """Appends ``epoch:iter:id,...`` of every batch trained on to
    ``ids{rank}.txt``: the sample ids read back from the pixels of the
    batch the model gets (videos of ``mmavcl.testing.write_id_shards``),
    not from the dataset's bookkeeping. ``epoch``: the dataset's own
    (``AVShardDataset``: the pass over the data, under the iteration loop
    too), else the runner's."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        from mmavcl.testing import decode_sample_ids
        ids = decode_sample_ids(data_batch['inputs']['video'][0])
        epoch = getattr(runner.train_loop.dataloader.dataset, 'epoch',
                        runner.epoch)
        with open(osp.join(runner.work_dir, f'ids{get_rank()}.txt'),
                  'a') as f:
            f.write(f"{epoch}:{runner.iter + 1}:"
                    f"{','.join(map(str, ids))}\n")


def read_decoded_ids(work_dir: str, rank: int = 0) -> Dict[int, List]:
    """What :class:`RecordDecodedIdsHook` wrote for ``rank``:
    ``{epoch (or pass): [(iteration, [ids])]}`` in the order trained."""
    out: Dict[int, List] = {}
    with open(osp.join(work_dir, f'ids{rank}.txt')) as f:
        for line in f:
            epoch, it, ids = line.strip().split(':')
            out.setdefault(int(epoch), []).append(
                (int(it), [int(i) for i in ids.split(',')]))
    return out


@METRICS.register_module(force=True)
class ToyMeanNorm(BaseMetric):
    """Mean L2 norm of the (noisy) embeddings: a stand-in val metric."""

    def process(self, data_batch, data_samples):
        self.results.extend(float(v.norm()) for v in data_samples)

    def compute_metrics(self, results):
        return dict(mean_norm=sum(results) / max(len(results), 1))


@HOOKS.register_module(force=True)
class RecordIndicesHook(Hook):
    """Appends ``iter: sample indices`` of every batch to a text file."""

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if get_rank() != 0:
            return
        idx = ','.join(str(int(i)) for i in data_batch['idx'])
        with open(osp.join(runner.work_dir, 'indices.txt'), 'a') as f:
            f.write(f'{runner.iter + 1}:{idx}\n')


@HOOKS.register_module(force=True)
class SlowHook(Hook):
    """Sleeps after every iteration past ``after_iter`` (kill window)."""

    def __init__(self, seconds: float = 0.2, after_iter: int = 0):
        self.seconds, self.after_iter = seconds, after_iter

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 >= self.after_iter:
            time.sleep(self.seconds)


class SimulatedCrash(RuntimeError):
    pass


@HOOKS.register_module(force=True)
class CrashHook(Hook):
    """Raises before iteration ``at_iter`` (1-based) starts, or before the
    first iteration of epoch ``at_epoch`` (0-based): a crash."""

    def __init__(self, at_iter: Optional[int] = None,
                 at_epoch: Optional[int] = None):
        self.at_iter, self.at_epoch = at_iter, at_epoch

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at_iter:
            raise SimulatedCrash(f'simulated crash before iteration '
                                 f'{self.at_iter}')
        if runner.epoch == self.at_epoch:
            raise SimulatedCrash(f'simulated crash before epoch '
                                 f'{self.at_epoch}')


@HOOKS.register_module(force=True)
class DumpRankWeightsHook(Hook):
    """Every rank writes its final model state to ``rank{r}.pth``."""

    def after_train(self, runner):
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        torch.save({k: v.detach().clone() for k, v in
                    model.state_dict().items()},
                   osp.join(runner.work_dir, f'rank{get_rank()}.pth'))


@HOOKS.register_module(force=True)
class DumpRunSetupHook(Hook):
    """Rank 0 writes ``run_setup.json`` before training: the model wrapper,
    the normalisation layer types, the parameters' devices and layout and
    the process group backend (what a launch really set up)."""

    def before_train(self, runner):
        if get_rank() != 0:
            return
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        setup = dict(
            wrapper=type(runner.model).__name__,
            norms=sorted({type(m).__name__ for m in model.modules()
                          if isinstance(m, nn.modules.batchnorm._NormBase)}),
            devices=sorted({str(p.device) for p in model.parameters()}),
            backend=dist.get_backend() if dist.is_initialized() else None,
            world_size=dist.get_world_size() if dist.is_initialized() else 1,
            channels_last_5d=all(
                p.is_contiguous(memory_format=torch.channels_last_3d)
                for p in model.parameters() if p.dim() == 5))
        with open(osp.join(runner.work_dir, 'run_setup.json'), 'w') as f:
            json.dump(setup, f)


def toy_cfg(work_dir: str, *, by_epoch: bool = True, max_epochs: int = 2,
            max_iters: int = 12, n: int = 24, batch_size: int = 4,
            ckpt_interval: int = 4, max_keep_ckpts: int = -1,
            ckpt_by_epoch: bool = False, validate: bool = False,
            sampler: str = 'DefaultSampler', shuffle: bool = True,
            nan_index=None,
            custom_hooks: Optional[List[dict]] = None, lr: float = 0.1,
            **extra) -> Config:
    """An ``AVRunner`` config training ``ToyMoCo`` on ``ToyVectors``, with
    the engine types of ``configs/_base_/`` (the mmavcl train loops,
    ``SafeCheckpointHook``, ``SafeLoggerHook``, ``ValRNGGuardHook``);
    ``by_epoch`` picks the epoch or the iteration loop."""
    train_cfg = dict(type='AVEpochBasedTrainLoop', max_epochs=max_epochs) \
        if by_epoch else dict(type='AVIterBasedTrainLoop',
                              max_iters=max_iters)
    cfg = dict(
        default_scope='mmavcl',
        runner_type='AVRunner',
        work_dir=work_dir,
        custom_imports=dict(imports=['engine_toys'],
                            allow_failed_imports=False),
        model=dict(type='ToyMoCo'),
        train_dataloader=dict(
            dataset=dict(type='ToyVectors', n=n, nan_index=nan_index),
            sampler=dict(type=sampler, shuffle=shuffle),
            batch_size=batch_size, num_workers=0,
            collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=lr, momentum=0.9,
                           weight_decay=1e-4)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.2, by_epoch=False,
                 begin=0, end=5),
            dict(type='CosineAnnealingLR', by_epoch=False, begin=5,
                 end=30, T_max=25),
        ],
        default_hooks=dict(
            checkpoint=dict(type='SafeCheckpointHook',
                            by_epoch=ckpt_by_epoch, interval=ckpt_interval,
                            max_keep_ckpts=max_keep_ckpts),
            val_rng_guard=dict(type='ValRNGGuardHook'),
            logger=dict(type='SafeLoggerHook', interval=1)),
        custom_hooks=custom_hooks or [],
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_level='WARNING',
        # a fresh MessageHub/logger per runner when tests build several
        experiment_name=f'toy_{uuid.uuid4().hex[:12]}',
    )
    if validate:  # the val forward draws from the torch RNG (input noise)
        cfg.update(
            val_dataloader=dict(
                dataset=dict(type='ToyVectors', n=8),
                sampler=dict(type='DefaultSampler', shuffle=False),
                batch_size=4, num_workers=0,
                collate_fn=dict(type='default_collate')),
            val_cfg=dict(), val_evaluator=dict(type='ToyMeanNorm'))
        train_cfg['val_interval'] = 1 if by_epoch else ckpt_interval
    cfg.update(extra)
    return Config(cfg)


def new_experiment_name() -> List[str]:
    """``--cfg-options`` giving an in-process ``tools/train.py`` or
    ``tools/test.py`` run an experiment name of its own. mmengine names the
    run's logger, visualizer and default scope ``<name>_<timestamp>`` to
    the second, and a second run of one config within that second would
    share the first one's (its log going to the first one's file)."""
    return ['--cfg-options', f'experiment_name=run_{uuid.uuid4().hex[:12]}']


def write_cfg(path: str, cfg: Config) -> str:
    """Write ``cfg`` as a Python config file (``work_dir`` left out)."""
    cfg = Config(cfg.to_dict())
    cfg.pop('work_dir', None)
    cfg.dump(path)
    return path


def write_cfg_with_runtime(tmp_path, cfg: Config, extra: str = '') -> str:
    """Write a config file that inherits
    ``configs/_base_/default_runtime.py`` (``cfg``'s settings override its
    dicts key by key, as configs do), with the config text ``extra``
    appended. ``cfg``'s ``custom_hooks`` and ``work_dir`` are left out, as
    in the shipped configs. Returns its path."""
    cfg = Config(cfg.to_dict())
    cfg.pop('custom_hooks', None)
    body = write_cfg(str(tmp_path / 'body.py'), cfg)
    path = tmp_path / 'toy_with_runtime.py'
    runtime = osp.join(REPO, 'configs', '_base_', 'default_runtime.py')
    path.write_text(f'_base_ = [{runtime!r}]\n' + open(body).read() + extra)
    return str(path)


def build_runner_with_runtime(tmp_path, cfg: Config, extra: str = ''):
    """A runner built from :func:`write_cfg_with_runtime`'s config, in
    ``tmp_path / 'work'``."""
    cfg = Config.fromfile(write_cfg_with_runtime(tmp_path, cfg, extra))
    cfg.work_dir = str(tmp_path / 'work')
    return build_runner(cfg)


def subprocess_env() -> Dict[str, str]:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO, HERE, env.get('PYTHONPATH', '')])
    env['OMP_NUM_THREADS'] = '1'
    return env


def dist_train_vclr_toy(tmp_path, data_root: str, nprocs: int,
                        extra_cfg: str = '', options=(),
                        timeout: float = 300):
    """``bash tools/dist_train.sh`` on the VCLR toy config with
    ``extra_cfg`` appended and :class:`DumpRunSetupHook` after
    ``extra_hooks`` (a config line may set ``extra_hooks = [...]``).

    Returns:
        (the finished process, its output, the ``run_setup.json`` dict or
        None, the work dir).
    """
    work = tmp_path / 'work'
    config = tmp_path / 'vclr_toy_dist.py'
    config.write_text(
        f"_base_ = [{osp.join(REPO, 'configs/vclr/vclr_r3d-18_toy.py')!r}]\n"
        "custom_imports = dict(imports=['engine_toys'], "
        'allow_failed_imports=False)\n'
        'extra_hooks = []\n' + extra_cfg +
        "\ncustom_hooks = extra_hooks + [dict(type='DumpRunSetupHook')]\n")
    env = subprocess_env()
    env.update(PYTHON=sys.executable, PORT=str(free_port()))
    res = subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'dist_train.sh'), str(config),
         str(nprocs), '--work-dir', str(work), '--cfg-options',
         f'train_dataloader.dataset.data_root={data_root}', *options],
        env=env, capture_output=True, text=True, timeout=timeout)
    setup = work / 'run_setup.json'
    setup = json.loads(setup.read_text()) if setup.exists() else None
    return res, res.stdout + res.stderr, setup, work


def model_state(path: str) -> Dict[str, torch.Tensor]:
    """The model state dict of a checkpoint (trusted: our own test run)."""
    return torch.load(path, map_location='cpu', weights_only=False)


def log_text(work_dir: str) -> str:
    """The logs of every run in ``work_dir``
    (``<work_dir>/<timestamp>/<timestamp>.log``), joined."""
    return '\n'.join(open(p).read()
                     for p in glob.glob(osp.join(work_dir, '*', '*.log')))


def next_timestamp(timestamp: str) -> None:
    """Wait until a runner built now gets a timestamp later than
    ``timestamp`` (mmengine's, to the second), hence a log dir of its
    own."""
    while time.strftime('%Y%m%d_%H%M%S') <= timestamp:
        time.sleep(0.05)


def build_runner(cfg: Config):
    from mmavcl.registry import RUNNERS
    return RUNNERS.build(cfg)
