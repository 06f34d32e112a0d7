"""No entry point runs code from a checkpoint it was handed.

Each case hands a real ``torch.save``'d file to a real command-line tool,
its ``main(argv)`` run in this process (what it logs is read from its
logger's file); ``tools/test.py`` runs in a subprocess, as it warns before its
runner, and so its log, exists. The hostile file's pickle calls
``os.mkdir(marker)`` when unpickled (the same mechanism as ``os.system``),
so the marker on disk is the proof that code ran. Every case asserts
the marker never appears and, where the file is refused, that the error
names it and says how to opt in.
The legitimate paths (the run's own checkpoints, the explicit opt-ins) are
checked alongside.
"""
import logging
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import engine_toys as T
from mmavcl.testing import load_script
from mmavcl.utils.checkpoint import (TRUST_ENV, UntrustedCheckpointError,
                                     safe_torch_load)

TOOLS = osp.join(T.REPO, 'tools')
TINY = dict(type='ResNet3d', depth=18, base_channels=4, num_stages=1,
            out_indices=(0, ), stage_blocks=(1, ), conv1_kernel=(3, 3, 3),
            with_pool2=False)


class _Payload:
    """Unpickles as ``os.mkdir(path)``: creates a directory (a file opened
    by the payload would stay open: a ResourceWarning)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path, ))


@pytest.fixture(scope='module')
def own(tmp_path_factory):
    """A toy run's real checkpoint (written by AVRunner) and its config."""
    root = tmp_path_factory.mktemp('own')
    work = str(root / 'work')
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=2,
                             ckpt_interval=2)).train()
    cfg = T.toy_cfg('unused', by_epoch=False, max_iters=3, ckpt_interval=100,
                    validate=True)
    # tools/test.py needs a test split: the val one will do
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_cfg, cfg.test_evaluator = dict(), dict(type='ToyMeanNorm')
    config = T.write_cfg(str(root / 'toy.py'), cfg)
    return dict(ckpt=osp.join(work, 'iter_2.pth'), config=config)


@pytest.fixture
def evil(tmp_path, own):
    """A checkpoint with the toy model's real weights plus the payload,
    in a "downloads" folder outside any work dir."""
    marker = str(tmp_path / 'PWNED')
    state = safe_torch_load(own['ckpt'])
    state['payload'] = _Payload(marker)
    os.makedirs(tmp_path / 'downloads')
    path = str(tmp_path / 'downloads' / 'evil.pth')
    torch.save(state, path)
    return path, marker


def _run(tool, *args, extra_env=None, timeout=300):
    env = T.subprocess_env()
    env.pop(TRUST_ENV, None)
    env.update(extra_env or {})
    res = subprocess.run([sys.executable, osp.join(TOOLS, tool), *args],
                         env=env, capture_output=True, text=True,
                         timeout=timeout)
    return res, res.stdout + res.stderr


@pytest.fixture
def untrusting(monkeypatch):
    """The environment of a user who trusts no checkpoint."""
    monkeypatch.delenv(TRUST_ENV, raising=False)


def _main(tool, *args):
    """``tools/<tool> args`` in this process: no interpreter start-up and
    torch import per call (a subprocess's 3-4 s). A training run gets an
    experiment name of its own (runs of one config follow each other
    within a second here)."""
    if tool == 'train.py':
        args += tuple(T.new_experiment_name())
    return load_script(osp.join('tools', tool)).main(list(args))


def _logged() -> str:
    """What the last run in this process logged: its logger's file."""
    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    return '\n'.join(open(h.baseFilename).read() for h in logger.handlers
                     if isinstance(h, logging.FileHandler))


def _assert_refused(tool, args, path, marker):
    """``tools/<tool> args`` stops with an error that names the file, what
    its pickle calls and how to opt in, and runs none of it."""
    with pytest.raises(UntrustedCheckpointError) as err:
        _main(tool, *args)
    out = str(err.value)
    assert not osp.exists(marker), 'the payload ran'
    assert f'{path}: refusing to unpickle' in out, out
    # what the file would have called (posix.mkdir on Linux)
    assert f'It names {os.mkdir.__module__}.mkdir' in out
    assert TRUST_ENV in out and '--trust-checkpoint' in out


@pytest.mark.parametrize('how', [
    'load_from', 'init_cfg', '--resume PATH', 'resume=True in --cfg-options',
    'resume=True in the config'])
def test_train_refuses_a_hostile_checkpoint(tmp_path, own, evil, how,
                                           untrusting):
    path, marker = evil
    config, args = own['config'], []
    if how == 'load_from':
        args = ['--cfg-options', f'load_from={path}']
    elif how == 'init_cfg':
        args = ['--cfg-options', 'model.init_cfg.type=Pretrained',
                f'model.init_cfg.checkpoint={path}']
    elif how == '--resume PATH':
        args = ['--resume', path]
    elif how == 'resume=True in --cfg-options':
        args = ['--cfg-options', 'resume=True', f'load_from={path}']
    else:
        config = str(tmp_path / 'resume_cfg.py')
        with open(config, 'w') as f:
            f.write(f'_base_ = [{own["config"]!r}]\nresume = True\n'
                    f'load_from = {path!r}\n')
    _assert_refused('train.py', [config, '--work-dir', str(tmp_path / 'work'),
                                 *args], path, marker)


def test_resume_auto_ignores_a_pointer_out_of_the_work_dir(tmp_path, own,
                                                           evil, untrusting):
    """`last_checkpoint` names the hostile file: it is ignored with a
    warning and the run resumes its own newest checkpoint, one that needs
    full unpickling (written the way plain mmengine writes it), which is
    trusted because it lies inside the work dir."""
    from mmengine.logging import HistoryBuffer
    path, marker = evil
    work = tmp_path / 'work'
    work.mkdir()
    state = safe_torch_load(own['ckpt'])
    state['message_hub']['log_scalars'] = {
        'train/loss': HistoryBuffer([1.0, 0.5], [1, 1])}
    torch.save(state, str(work / 'iter_2.pth'))
    (work / 'last_checkpoint').write_text(path)
    _main('train.py', own['config'], '--work-dir', str(work), '--resume',
          'auto')
    assert not osp.exists(marker)
    assert f'it names {path}, which is outside' in _logged()
    # resumed from the planted file, not from scratch: its logging history
    # (two made-up losses) carried on into the next checkpoint
    after = safe_torch_load(str(work / 'iter_3.pth'))
    assert after['meta']['iter'] == 3
    assert after['message_hub']['log_scalars']['train/loss']['log'][:2] \
        == [1.0, 0.5]


def test_resume_never_executes_meta_config(tmp_path, own, untrusting):
    """A file that loads weights-only may still carry code: mmengine's
    resume runs ``meta['config']`` through ``Config.fromstring`` (Python).
    Resuming it from elsewhere works and the code never runs."""
    marker = str(tmp_path / 'CONFIG_RAN')
    state = safe_torch_load(own['ckpt'])
    state['meta']['config'] = \
        f"x = __import__('os').system('touch {marker}')\n"
    path = str(tmp_path / 'downloads_cfg.pth')
    torch.save(state, path)
    _main('train.py', own['config'], '--work-dir', str(tmp_path / 'work'),
          '--resume', path)
    assert not osp.exists(marker), 'meta["config"] was executed'
    assert 'ignoring meta["config"]' in _logged()
    assert safe_torch_load(str(tmp_path / 'work' / 'iter_3.pth'))[
        'meta']['iter'] == 3


def test_train_trust_checkpoint_is_the_explicit_opt_in(tmp_path, own, evil,
                                                      untrusting):
    path, marker = evil
    _main('train.py', own['config'], '--work-dir', str(tmp_path / 'work'),
          '--resume', path, '--trust-checkpoint')
    assert osp.exists(marker)  # the opt-in really unpickles
    assert safe_torch_load(str(tmp_path / 'work' / 'iter_3.pth'))[
        'meta']['iter'] == 3
    # with nothing named, the flag is an error rather than a no-op
    with pytest.raises(ValueError, match='--trust-checkpoint needs a file'):
        _main('train.py', own['config'], '--work-dir', str(tmp_path / 'w2'),
              '--trust-checkpoint')


@pytest.mark.parametrize('where', ['--cfg-options', 'config'])
def test_test_py_never_resumes_and_loads_weights_only(tmp_path, own, evil,
                                                      where):
    path, marker = evil
    config, args = own['config'], []
    if where == 'config':
        config = str(tmp_path / 'resume_cfg.py')
        with open(config, 'w') as f:
            f.write(f'_base_ = [{own["config"]!r}]\nresume = True\n')
    else:
        args = ['--cfg-options', 'resume=True']
    work = str(tmp_path / 'work')
    # a subprocess: the warning below is logged before the runner (and
    # its log file) exists, to whichever logger is current
    res, out = _run('test.py', config, path, '--work-dir', work, *args)
    assert res.returncode != 0, out[-3000:]
    assert not osp.exists(marker), 'the payload ran'
    assert 'UntrustedCheckpointError' in out, out[-3000:]
    assert f'{path}: refusing to unpickle' in out, out[-3000:]
    assert f'It names {os.mkdir.__module__}.mkdir' in out
    assert 'ignoring resume=True' in out
    if where == 'config':  # and the same config tests plain weights
        res, out = _run('test.py', config, own['ckpt'], '--work-dir', work,
                        '--cfg-options', 'log_level=INFO')
        assert res.returncode == 0, out[-3000:]
        assert 'ignoring resume=True' in out and 'mean_norm' in out


def test_extract_features_refuses_a_hostile_checkpoint(tmp_path, evil,
                                                       untrusting):
    path, marker = evil
    config = str(tmp_path / 'feat.py')
    # the checkpoint is loaded (by init_weights) before any data is read
    with open(config, 'w') as f:
        f.write("default_scope = 'mmavcl'\n"
                f"model = dict(type='AVRecognizer', backbone={TINY!r}, "
                'cls_head=None, frozen=True)\n'
                'test_dataloader = dict(batch_size=1, dataset=dict())\n')
    _assert_refused('extract_features.py',
                    [config, path, '--out', str(tmp_path / 'f.npz')], path,
                    marker)
    assert not osp.exists(tmp_path / 'f.npz')


def test_converter_refuses_unless_trusted(tmp_path, evil, untrusting):
    path, marker = evil
    out_file = str(tmp_path / 'export.pth')
    convert = osp.join('convert', 'to_mmaction2.py')
    _assert_refused(convert, [path, out_file, '--backbone-key', 'encoder'],
                    path, marker)
    assert not osp.exists(out_file)
    # --trust is the converter's opt-in, scoped to that file
    _main(convert, path, out_file, '--backbone-key', 'encoder', '--trust')
    assert osp.exists(marker) and osp.exists(out_file)


def test_auto_resume_candidates_stay_in_the_run_dirs(tmp_path, own):
    """A checkpoint name in the work dir that is a symlink to elsewhere is
    skipped like an outside pointer; the checkpoint hook's out_dir is one
    of the run's own directories, so a run saving there still resumes."""
    from mmavcl.engine.checkpointing import checkpoint_candidates
    work = tmp_path / 'work'
    work.mkdir()
    outside = tmp_path / 'downloads'
    outside.mkdir()
    (outside / 'iter_9.pth').write_bytes(b'x')
    (work / 'iter_9.pth').symlink_to(outside / 'iter_9.pth')
    (work / 'iter_2.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text(str(outside / 'iter_9.pth'))
    assert checkpoint_candidates(str(work)) == [str(work / 'iter_2.pth')]

    ckpts = str(tmp_path / 'ckpts')
    cfg = T.toy_cfg(str(tmp_path / 'run'), by_epoch=False, max_iters=2,
                    ckpt_interval=2)
    cfg.default_hooks.checkpoint.out_dir = ckpts
    T.build_runner(cfg).train()
    assert osp.isfile(osp.join(ckpts, 'run', 'iter_2.pth'))
    cfg = T.toy_cfg(str(tmp_path / 'run'), by_epoch=False, max_iters=3,
                    ckpt_interval=3, resume=True)
    cfg.default_hooks.checkpoint.out_dir = ckpts
    runner = T.build_runner(cfg)
    runner.train()
    assert runner.own_checkpoint_dirs()[1] == osp.join(ckpts, 'run')
    history = runner.message_hub.log_scalars['train/loss']
    assert len(history.data[0]) == 3  # 2 resumed + 1 new, not from scratch
