"""TensorBoard and Weights & Biases switched on from the command line.

Each test trains the demo's audio-visual config for 2 iterations on a tiny
real toy set through ``tools/train.py``, exactly as docs/config.md shows
(``--cfg-options visualizer.vis_backends.0.type=...``), then reads the
backend's own files back with an independent reader (TensorBoard's
``EventAccumulator``; for W&B a LevelDB-log reader written here plus wandb's
protobuf ``Record``) and checks the logged ``loss`` against the values in
mmengine's text log. A missing package must stop the run before training
with an error (the last line printed) that names the ``pip install``.
"""
import glob
import json
import importlib.util
import os
import os.path as osp
import re
import struct
import subprocess
import sys
import time
from typing import Dict, Iterator, List

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'demo', 'avc_r3d-10_1xb16-8x2x1-50e_toy.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
# 4 training videos, batch 2, one epoch: exactly 2 iterations, each logged
SMALL = ['train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_dataloader.batch_size=2', 'train_cfg.max_epochs=1',
         'default_hooks.logger.interval=1']
_LOG_LINE = re.compile(r'Epoch\(train\) \[1\]\[(\d)/2\].*?\sloss: ([-\d.]+)')


def _env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS='1', **extra)
    env['PYTHONWARNINGS'] = 'ignore'
    return env


def _train(tiny_toy_av: str, work: str, backend_opts: List[str], cwd: str,
           env: Dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, TRAIN, CONFIG, '--work-dir', work,
           '--cfg-options',
           f'train_dataloader.dataset.data_root={tiny_toy_av}',
           *SMALL, *backend_opts]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _text_log_losses(work: str) -> Dict[int, float]:
    """``{iteration: loss}`` as printed (4 decimals) in mmengine's log."""
    logs = glob.glob(osp.join(work, '*', '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        found = {int(m.group(1)): float(m.group(2))
                 for m in _LOG_LINE.finditer(f.read())}
    assert sorted(found) == [1, 2], found
    return found


def test_tensorboard_from_cfg_options(tiny_toy_av, tmp_path):
    ea_mod = pytest.importorskip(
        'tensorboard.backend.event_processing.event_accumulator',
        reason='pip install tensorboard (the tests extra)')
    work = str(tmp_path / 'work')
    res = _train(tiny_toy_av, work,
                 ['visualizer.vis_backends.0.type=TensorboardVisBackend'],
                 cwd=ROOT, env=_env())
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    events = glob.glob(
        osp.join(work, '*', 'vis_data', 'events.out.tfevents.*'))
    assert len(events) == 1, events
    acc = ea_mod.EventAccumulator(osp.dirname(events[0]))
    acc.Reload()
    assert 'loss' in acc.Tags()['scalars'], acc.Tags()
    scalars = {e.step: e.value for e in acc.Scalars('loss')}
    expected = _text_log_losses(work)
    assert sorted(scalars) == [1, 2]
    for step, value in expected.items():
        assert scalars[step] == pytest.approx(value, abs=1e-4), step
    # the config is recorded too (mmengine's add_config -> a text summary)
    assert 'config/text_summary' in acc.Tags()['tensors']


_BLOCK = 32768  # LevelDB log format, which wandb's .wandb files use


def _wandb_records(path: str) -> Iterator[bytes]:
    """Payloads of a ``run-*.wandb`` file: a 7-byte ``:W&B`` header, then
    LevelDB log blocks of 32 KiB holding records ``crc32c u32, length u16,
    type u8`` (1 full, 2 first, 3 middle, 4 last fragment)."""
    with open(path, 'rb') as f:
        data = f.read()
    ident, magic, _ = struct.unpack('<4sHB', data[:7])
    assert ident == b':W&B' and magic == 0xBEE1, (path, ident, magic)
    pos, pending = 7, b''
    while pos + 7 <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < 7:  # block trailer too short for a header: zero padding
            pos += left
            continue
        _, length, kind = struct.unpack('<IHB', data[pos:pos + 7])
        payload = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 1:
            yield payload
        elif kind == 2:
            pending = payload
        elif kind == 3:
            pending += payload
        elif kind == 4:
            yield pending + payload


def test_wandb_offline_from_cfg_options(tiny_toy_av, tmp_path):
    pb = pytest.importorskip('wandb.proto.wandb_internal_pb2',
                             reason='pip install wandb (the tests extra)')
    wandb_home = tmp_path / 'wandb_home'
    env = _env(WANDB_MODE='offline', WANDB_DIR=str(wandb_home),
               WANDB_CONFIG_DIR=str(wandb_home / 'config'),
               WANDB_CACHE_DIR=str(wandb_home / 'cache'),
               WANDB_DATA_DIR=str(wandb_home / 'data'), WANDB_SILENT='true')
    work = str(tmp_path / 'work')
    # mmengine's WandbVisBackend.add_config logs every *.py under the
    # current directory as a code artifact (a .venv in the repo included:
    # ~13k files), so this run starts in an empty directory
    cwd = tmp_path / 'cwd'
    cwd.mkdir()
    res = _train(tiny_toy_av, work,
                 ['visualizer.vis_backends.0.type=WandbVisBackend',
                  'visualizer.vis_backends.0.init_kwargs.project=mmavcl-test'],
                 cwd=str(cwd), env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    runs = glob.glob(osp.join(work, '*', 'vis_data', 'wandb', 'offline-run-*',
                              'run-*.wandb'))
    assert len(runs) == 1, runs
    history, kinds = {}, set()
    for raw in _wandb_records(runs[0]):
        record = pb.Record()
        record.ParseFromString(raw)
        kinds.add(record.WhichOneof('record_type'))
        if record.WhichOneof('record_type') == 'history':
            # wandb writes a plain key either in `key` or as a 1-element
            # `nested_key`
            items = {i.key or '.'.join(i.nested_key): i.value_json
                     for i in record.history.item}
            if 'loss' in items:  # other rows carry e.g. the config's step
                history[int(items['iter'])] = float(items['loss'])
    # a complete run: started, config recorded, finished
    assert {'run', 'config', 'exit'} <= kinds, kinds
    expected = _text_log_losses(work)
    assert sorted(history) == [1, 2]
    for step, value in expected.items():
        assert history[step] == pytest.approx(value, abs=1e-4), step


def _train_main():
    spec = importlib.util.spec_from_file_location('mmavcl_train_tool', TRAIN)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


@pytest.mark.parametrize('backend,package', [
    ('TensorboardVisBackend', 'tensorboard'), ('WandbVisBackend', 'wandb')])
def test_missing_package_is_one_clear_line(tiny_toy_av, tmp_path, monkeypatch,
                                           backend, package):
    """In-process (tools/train.py's main): the exception that ends the run,
    i.e. the last line the user sees, names the pip install. It is raised
    while the runner is built (mmengine's add_config), before training."""
    # None in sys.modules is how Python reports an absent package
    # (ModuleNotFoundError), without touching the installed one; torch's
    # wrapper must be imported afresh to meet it
    monkeypatch.setitem(sys.modules, package, None)
    monkeypatch.delitem(sys.modules, 'torch.utils.tensorboard', raising=False)
    monkeypatch.setenv('WANDB_MODE', 'offline')
    work = str(tmp_path / 'work')
    with pytest.raises(ImportError) as info:
        _train_main()([CONFIG, '--work-dir', work, '--cfg-options',
                       f'train_dataloader.dataset.data_root={tiny_toy_av}',
                       *SMALL,
                       f'visualizer.vis_backends.0.type={backend}',
                       # mmengine reuses a Visualizer/logger of the same
                       # name, and the default name has 1 s resolution
                       f'experiment_name=missing_{package}_{tmp_path.name}'])
    line = f'{type(info.value).__name__}: {info.value}'
    assert '\n' not in line, line
    assert re.search(rf'pip install [\w ]*\b{package}\b', line), line
    assert not glob.glob(osp.join(work, '*.pth'))  # no training step ran


def test_config_form_keeps_local_json_next_to_the_others(tmp_path,
                                                         monkeypatch):
    """docs/config.md's config snippet (all three backends at once) builds a
    visualizer that writes the same scalar to each backend's own file."""
    ea_mod = pytest.importorskip(
        'tensorboard.backend.event_processing.event_accumulator')
    pytest.importorskip('wandb')
    with open(osp.join(ROOT, 'docs', 'config.md'), encoding='utf-8') as f:
        text = f.read()
    snippet = re.search(r'keep the local JSON[^`]*```python\n(.*?)```', text,
                        re.S).group(1)
    scope: dict = {}
    exec(snippet, scope)
    types = [b['type'] for b in scope['visualizer']['vis_backends']]
    assert types == ['LocalVisBackend', 'TensorboardVisBackend',
                     'WandbVisBackend']

    from mmengine.visualization import Visualizer
    monkeypatch.chdir(tmp_path)  # wandb logs *.py under the cwd as code
    for key, sub in (('WANDB_DIR', ''), ('WANDB_CONFIG_DIR', 'config'),
                     ('WANDB_CACHE_DIR', 'cache'), ('WANDB_DATA_DIR', 'data')):
        monkeypatch.setenv(key, str(tmp_path / 'wandb_home' / sub))
    monkeypatch.setenv('WANDB_MODE', 'offline')
    monkeypatch.setenv('WANDB_SILENT', 'true')
    vis = Visualizer(name=f'docs_config_{tmp_path.name}',
                     vis_backends=scope['visualizer']['vis_backends'],
                     save_dir=str(tmp_path / 'run'))
    try:
        vis.add_scalars({'loss': 1.25}, step=1)
        vis.add_scalars({'loss': 0.75}, step=2)
    finally:
        vis.close()
    vis_data = tmp_path / 'run' / 'vis_data'
    with open(vis_data / 'scalars.json') as f:
        local = [json.loads(line)['loss'] for line in f]
    assert local == [1.25, 0.75]
    acc = ea_mod.EventAccumulator(str(vis_data))
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars('loss')] == [(1, 1.25),
                                                               (2, 0.75)]
    assert glob.glob(str(vis_data / 'wandb' / 'offline-run-*' / '*.wandb'))


def _code_artifact_paths(run_dir: str, timeout: float = 60) -> List[str]:
    """Files of the run's code artifact, read once wandb's service process
    has written the run's ``exit`` record (it writes after ``finish``
    returns)."""
    pb = pytest.importorskip('wandb.proto.wandb_internal_pb2')
    deadline = time.monotonic() + timeout
    while True:
        runs = glob.glob(osp.join(run_dir, 'wandb', 'offline-run-*',
                                  '*.wandb'))
        assert len(runs) <= 1, runs
        records = [pb.Record.FromString(raw)
                   for raw in (_wandb_records(runs[0]) if runs else [])]
        kinds = [r.WhichOneof('record_type') for r in records]
        if 'exit' in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 'exit' in kinds, (run_dir, kinds)
    return sorted(c.path for r in records
                  if r.WhichOneof('record_type') == 'artifact' and
                  r.artifact.type == 'code'
                  for c in r.artifact.manifest.contents)


def test_wandb_code_snapshot_skips_the_virtualenv(tmp_path, monkeypatch):
    """``type='WandbVisBackend'`` in the mmavcl scope snapshots the project's
    code but not a virtualenv, work dir or data inside it; mmengine's own
    class (the contrast) uploads them all."""
    pytest.importorskip('wandb')
    from mmengine.config import Config
    from mmengine.visualization import WandbVisBackend as MMEngineWandb

    from mmavcl.registry import VISBACKENDS
    project = tmp_path / 'project'
    for rel in ('pkg/model.py', '.venv/lib/site.py', 'work_dirs/run/cfg.py',
                'data/toy/gen.py'):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text('x = 1\n')
    monkeypatch.chdir(project)
    for key, sub in (('WANDB_DIR', ''), ('WANDB_CONFIG_DIR', 'config'),
                     ('WANDB_CACHE_DIR', 'cache'), ('WANDB_DATA_DIR', 'data')):
        monkeypatch.setenv(key, str(tmp_path / 'wandb_home' / sub))
    monkeypatch.setenv('WANDB_MODE', 'offline')
    monkeypatch.setenv('WANDB_SILENT', 'true')

    ours = VISBACKENDS.build(dict(type='WandbVisBackend',
                                  save_dir=str(tmp_path / 'ours')))
    ours.add_config(Config(dict(lr=0.1)))
    ours.close()
    theirs = MMEngineWandb(save_dir=str(tmp_path / 'theirs'))
    theirs.add_config(Config(dict(lr=0.1)))
    theirs.close()

    assert _code_artifact_paths(str(tmp_path / 'ours')) == ['pkg/model.py']
    assert _code_artifact_paths(str(tmp_path / 'theirs')) == [
        '.venv/lib/site.py', 'data/toy/gen.py', 'pkg/model.py',
        'work_dirs/run/cfg.py']
