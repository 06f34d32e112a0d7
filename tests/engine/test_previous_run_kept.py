"""A new run (no resume) in a work dir that holds an earlier run's
checkpoints: refused with the work dir, the files and the ways on; with
``start_over=True`` (``tools/train.py --start-over``) the old files are
moved aside, byte for byte, and the new run starts.

Before, mmengine's and mmavcl's runners overwrote ``iter_4.pth`` and
repointed ``last_checkpoint``."""
import glob
import os
import os.path as osp
import re
import time

import pytest
from mmengine.config import Config

import engine_toys as T
from mmavcl.engine.checkpointing import PreviousRunError
from mmavcl.testing import load_script


def _cfg(work: str, max_iters: int = 4, **kw):
    return T.toy_cfg(work, by_epoch=False, max_iters=max_iters,
                     sampler='InfiniteSampler', **kw)


def _read(path: str) -> bytes:
    with open(path, 'rb') as f:
        return f.read()


@pytest.fixture
def earlier_run(tmp_path):
    """A work dir after one run to iteration 4 (``iter_4.pth``,
    ``last_checkpoint``); yields (the dir, {name: bytes})."""
    work = str(tmp_path / 'work')
    T.build_runner(_cfg(work)).train()
    files = {n: _read(osp.join(work, n))
             for n in ('iter_4.pth', 'last_checkpoint')}
    yield work, files


def test_a_new_run_is_refused_and_touches_nothing(earlier_run):
    work, files = earlier_run
    runner = T.build_runner(_cfg(work, lr=0.5))
    with pytest.raises(PreviousRunError, match=(
            f'work dir {work} holds the checkpoints of an earlier run '
            rf'\({work}/iter_4.pth, {work}/last_checkpoint\).*--resume.*'
            '--work-dir.*--start-over')):
        runner.train()
    for name, data in files.items():
        assert _read(osp.join(work, name)) == data, name
    # the refused run released the lock: resuming the earlier one works
    resumed = T.build_runner(_cfg(work, max_iters=8, resume=True))
    resumed.train()
    assert resumed.iter == 8


def test_start_over_moves_the_earlier_checkpoints_aside(earlier_run):
    work, files = earlier_run
    runner = T.build_runner(_cfg(work, lr=0.5, start_over=True))
    runner.train()
    aside = osp.join(work, f'superseded_{runner.timestamp}')
    for name, data in files.items():
        assert _read(osp.join(aside, name)) == data, name
    # the new run's own checkpoint, pointed to by a fresh last_checkpoint
    assert _read(osp.join(work, 'iter_4.pth')) != files['iter_4.pth']
    assert _read(osp.join(work, 'last_checkpoint')) == \
        osp.join(work, 'iter_4.pth').encode()


def test_train_py_start_over_and_resume_exclude_each_other(tmp_path):
    train = load_script('tools/train.py')
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'), _cfg(str(tmp_path)))
    args = train.parse_args([cfg_file, '--start-over'])
    assert train.merge_args(Config.fromfile(cfg_file), args).start_over
    args = train.parse_args([cfg_file, '--start-over', '--resume'])
    with pytest.raises(ValueError, match=re.escape(
            '--start-over starts a new run; --resume continues one')):
        train.merge_args(Config.fromfile(cfg_file), args)


def _start(work: str, cfg_file: str, **options):
    """A runner built as ``tools/train.py CFG_FILE --cfg-options ...``
    builds it (the config dump happens when it is built)."""
    cfg = Config.fromfile(cfg_file)
    cfg.merge_from_dict(dict(work_dir=work, **options))
    cfg.experiment_name = T.toy_cfg(work).experiment_name
    return T.build_runner(cfg)


def test_a_later_start_keeps_the_earlier_config_dump(tmp_path):
    """mmengine dumps the config to ``work_dir/<config name>.py`` at every
    start. A resumed run with changed options replaced the earlier run's
    dump; without ``LocalVisBackend`` (TensorBoard in its place, as
    docs/config.md shows) no other copy was left. Now each run's log dir
    holds its own, and a dump without a copy (an older version's) is
    moved aside."""
    work = str(tmp_path / 'work')
    tensorboard = dict(type='Visualizer',
                       vis_backends=[dict(type='TensorboardVisBackend')])
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'),
                           _cfg(work, visualizer=tensorboard))
    latest = osp.join(work, 'toy.py')
    first = _start(work, cfg_file)
    first_text = _read(latest)
    assert b'lr=0.1,' in first_text
    T.next_timestamp(first.timestamp)
    second = _start(work, cfg_file, resume=True,
                    **{'optim_wrapper.optimizer.lr': 0.05})
    assert b'lr=0.05,' in _read(latest)
    kept = [p for p in glob.glob(osp.join(work, '**', '*.py'),
                                 recursive=True) if _read(p) == first_text]
    assert kept == [osp.join(first.log_dir, 'toy.py')]
    assert _read(osp.join(second.log_dir, 'toy.py')) == _read(latest)
    # a dump with no copy in a log dir (mmengine's, an older mmavcl's)
    second_text = _read(latest)
    os.remove(osp.join(second.log_dir, 'toy.py'))
    T.next_timestamp(second.timestamp)
    third = _start(work, cfg_file, resume=True,
                   **{'optim_wrapper.optimizer.lr': 0.02})
    assert _read(osp.join(work, f'superseded_{third.timestamp}',
                          'toy.py')) == second_text
    assert b'lr=0.02,' in _read(latest)


def test_starts_in_the_same_second_lose_no_config(tmp_path, monkeypatch):
    """Runs started in the same second share mmengine's timestamp, so
    their log dir: each earlier config is still found in the work dir."""
    work = str(tmp_path / 'work')
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'), _cfg(work))
    now = time.time()
    monkeypatch.setattr(time, 'time', lambda: now)
    texts = []
    for lr in (0.1, 0.05, 0.02):
        runner = _start(work, cfg_file, resume=True,
                        **{'optim_wrapper.optimizer.lr': lr})
        texts.append(_read(osp.join(work, 'toy.py')))
        assert f'lr={lr},'.encode() in texts[-1]
    found = [_read(p) for p in glob.glob(osp.join(work, '**', '*.py'),
                                         recursive=True)]
    assert all(text in found for text in texts)
    assert osp.isdir(osp.join(work, f'superseded_{runner.timestamp}'))
