"""The engine is what the config names: mmavcl's hooks and loops are named
in ``configs/_base_/``, ``AVRunner`` swaps no type, and a config that names
mmengine's types runs them and is told what it loses."""
import glob
import os
import os.path as osp
import random
import types

import numpy as np
import pytest
import torch
from mmengine.hooks import CheckpointHook, LoggerHook
from mmengine.logging import MMLogger
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

import engine_toys as T
from mmavcl.engine import (AVEpochBasedTrainLoop, AVIterBasedTrainLoop,
                           SafeCheckpointHook, TorchCompileHook, atomic_path,
                           missing_engine_guarantees)
from mmavcl.engine.hooks import (DataReportHook, NonFiniteLossGuardHook,
                                 SafeLoggerHook, ValRNGGuardHook)
from mmavcl.engine.resume import capture_rng_state, restore_rng_state

_AV_LOOPS = ('AVEpochBasedTrainLoop', 'AVIterBasedTrainLoop')


def _configs():
    return sorted(
        p for p in glob.glob(osp.join(T.REPO, 'configs', '**', '*.py'),
                             recursive=True)
        if f'{os.sep}_base_{os.sep}' not in p)


def test_every_shipped_config_names_the_mmavcl_engine_types():
    from mmengine.config import Config
    paths = _configs()
    assert len(paths) > 50
    trains = 0
    for path in paths:
        cfg = Config.fromfile(path, import_custom_modules=False)
        name = osp.relpath(path, T.REPO)
        hooks = cfg.default_hooks
        assert hooks.checkpoint.type == 'SafeCheckpointHook', name
        assert hooks.logger.type == 'SafeLoggerHook', name
        assert hooks.val_rng_guard.type == 'ValRNGGuardHook', name
        assert hooks.data_report.type == 'DataReportHook', name
        if cfg.get('train_cfg'):
            assert cfg.train_cfg.type in _AV_LOOPS, name
            assert 'by_epoch' not in cfg.train_cfg, name
            trains += 1
    assert trains > 50


def _log_text(runner) -> str:
    with open(osp.join(runner.log_dir, f'{runner.timestamp}.log')) as f:
        return f.read()


def test_mmengine_types_run_as_named_and_the_run_says_what_it_lacks(
        tmp_path):
    cfg = T.toy_cfg(str(tmp_path), max_epochs=1, validate=True)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint.type = 'CheckpointHook'
    cfg.default_hooks.pop('val_rng_guard')
    runner = T.build_runner(cfg)
    runner.train()
    # built as named: no swap
    assert type(runner.train_loop) is EpochBasedTrainLoop
    ckpt = [h for h in runner.hooks if isinstance(h, CheckpointHook)]
    assert [type(h) for h in ckpt] == [CheckpointHook]
    assert not any(isinstance(h, ValRNGGuardHook) for h in runner.hooks)
    # one warning, one line per lost guarantee, each with its fix
    log = _log_text(runner)
    assert log.count('This run uses mmengine types where mmavcl has its '
                     'own') == 1
    assert "train_cfg = dict(type='AVEpochBasedTrainLoop', ...)" in log
    assert "default_hooks.checkpoint = dict(type='SafeCheckpointHook'" \
        in log
    assert "default_hooks.val_rng_guard = dict(type='ValRNGGuardHook')" \
        in log


def test_mmavcl_types_lack_nothing(tmp_path):
    runner = T.build_runner(T.toy_cfg(str(tmp_path), max_epochs=1,
                                      validate=True))
    runner.train()
    assert type(runner.train_loop) is AVEpochBasedTrainLoop
    assert [type(h) for h in runner.hooks
            if isinstance(h, CheckpointHook)] == [SafeCheckpointHook]
    assert missing_engine_guarantees(runner.train_loop, runner.hooks,
                                     validates=True) == []
    assert 'This run uses mmengine types' not in _log_text(runner)


def test_missing_guarantees_name_the_matching_fix(tmp_path):
    iter_loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    lines = missing_engine_guarantees(iter_loop, [], validates=False)
    assert len(lines) == 1 and "type='AVIterBasedTrainLoop'" in lines[0]
    av_loop = AVIterBasedTrainLoop.__new__(AVIterBasedTrainLoop)
    assert missing_engine_guarantees(av_loop, [], validates=False) == []
    # no checkpoint hook at all: nothing to lose there
    lines = missing_engine_guarantees(av_loop, [], validates=True)
    assert len(lines) == 1 and 'ValRNGGuardHook' in lines[0]
    # mmengine's LoggerHook loses nothing until it uploads
    assert missing_engine_guarantees(av_loop, [LoggerHook()],
                                     validates=False) == []
    assert missing_engine_guarantees(
        av_loop, [SafeLoggerHook(out_dir=str(tmp_path))],
        validates=False) == []
    lines = missing_engine_guarantees(
        av_loop, [LoggerHook(out_dir=str(tmp_path))], validates=False)
    assert len(lines) == 1 and \
        "default_hooks.logger = dict(type='SafeLoggerHook', ...)" in lines[0]


def test_data_report_is_a_default_hook_that_can_be_replaced_or_removed(
        tmp_path):
    """``default_hooks.data_report`` of default_runtime.py builds one
    ``DataReportHook``; one in ``custom_hooks`` (the name the docs gave,
    ``BadSampleSummaryHook``) takes over, so a run reports once; ``None``
    removes it (mmengine 0.10 alone asserts on ``None`` for a key it does
    not know)."""
    def hooks(extra: str, name: str, **toy):
        work = tmp_path / name
        work.mkdir()
        runner = T.build_runner_with_runtime(
            work, T.toy_cfg(str(work), **toy), extra)
        runner.train()
        return runner.hooks

    def reports(hooks):
        return [(h.max_bad_ratio, h.active) for h in hooks
                if isinstance(h, DataReportHook)]

    # the iteration loop with validation: its report points are there too
    assert reports(hooks('', 'default', by_epoch=False, max_iters=4,
                         ckpt_interval=2, validate=True)) == [(None, True)]
    assert reports(hooks("\ncustom_hooks = [dict(type="
                         "'BadSampleSummaryHook', max_bad_ratio=0.5)]\n",
                         'custom', max_epochs=1)) == [(None, False),
                                                       (0.5, True)]
    left = hooks('\ndefault_hooks = dict(data_report=None, '
                 'nonfinite_guard=None)\n', 'none', max_epochs=1)
    assert reports(left) == []
    assert not any(isinstance(h, NonFiniteLossGuardHook) for h in left)
    assert any(isinstance(h, ValRNGGuardHook) for h in left)


def test_val_rng_guard_restores_every_generator():
    hook = ValRNGGuardHook()
    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    state = capture_rng_state()
    hook.before_val(None)
    torch.rand(5), np.random.rand(5), random.random()  # validation draws
    hook.after_val(None)
    after = (torch.rand(3), np.random.rand(3), random.random())
    restore_rng_state(state)
    expected = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(after[0], expected[0])
    assert np.array_equal(after[1], expected[1])
    assert after[2] == expected[2]


class _TwoBackbones(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(2, 2)
        self.audio_backbone = torch.nn.Linear(2, 2)
        self.head = torch.nn.Linear(2, 2)


def test_torch_compile_hook_compiles_the_backbones_once():
    model = _TwoBackbones()
    runner = types.SimpleNamespace(
        model=model, logger=MMLogger.get_instance('compile_hook_test'))
    hook = TorchCompileHook(backend='eager')
    hook.before_train(runner)
    assert hook.compiled == ['backbone', 'audio_backbone']
    assert model.backbone._compiled_call_impl is not None
    assert model.head._compiled_call_impl is None
    first = model.backbone._compiled_call_impl
    hook.before_train(runner)  # a second train(): left as it is
    assert model.backbone._compiled_call_impl is first
    named = TorchCompileHook(modules='head', backend='eager')
    named.before_train(types.SimpleNamespace(model=_TwoBackbones(),
                                             logger=runner.logger))
    assert named.compiled == ['head']


def test_compile_option_is_mmengines_and_says_so(tmp_path):
    """``compile=dict(modules=...)`` was mmavcl's own ``compile`` handling:
    refused (mmengine would hand ``modules`` to ``torch.compile`` at train
    time). ``compile=True`` is left to mmengine, with a warning naming the
    hook that compiles only the backbones."""
    cfg = T.toy_cfg(str(tmp_path / 'a'), compile=dict(modules=['encoder']))
    with pytest.raises(ValueError, match="type='TorchCompileHook'"):
        T.build_runner(cfg)
    runner = T.build_runner(T.toy_cfg(str(tmp_path / 'b'), compile=True))
    log = _log_text(runner)
    assert 'compile=True: mmengine compiles the whole train_step' in log
    assert "default_hooks.compile = dict(type='TorchCompileHook')" in log


def test_atomic_path_replaces_whole_or_not_at_all(tmp_path):
    target = str(tmp_path / 'ckpt.pth')
    with open(target, 'w') as f:
        f.write('old')
    # a temp file left by a killed process that had this pid is replaced
    stale = str(tmp_path / f'.ckpt.pth.tmp-{os.getpid()}')
    with open(stale, 'w') as f:
        f.write('stale')
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            assert tmp == stale and not osp.exists(tmp)
            with open(tmp, 'w') as f:
                f.write('half')
            raise KeyboardInterrupt
    assert open(target).read() == 'old'
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']
    with atomic_path(target) as tmp:
        with open(tmp, 'w') as f:
            f.write('new')
        assert open(target).read() == 'old'  # nothing visible yet
    assert open(target).read() == 'new'
    assert sorted(os.listdir(tmp_path)) == ['ckpt.pth']
