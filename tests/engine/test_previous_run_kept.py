"""A new run (no resume) in a work dir that holds an earlier run's
checkpoints: refused with the work dir, the files and the ways on; with
``start_over=True`` (``tools/train.py --start-over``) the old files are
moved aside, byte for byte, and the new run starts.

Before, mmengine's and mmavcl's runners overwrote ``iter_4.pth`` and
repointed ``last_checkpoint``."""
import glob
import json
import os
import os.path as osp
import re
import time

import pytest
import torch
from mmengine.config import Config

import engine_toys as T
from mmavcl.engine.checkpointing import (LOCK_NAME, PreviousRunError,
                                         WorkDirLock, WorkDirLockedError)
from mmavcl.testing import free_port, load_script, run_ranks


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


def _build(work: str, cfg_file: str, **options):
    """A runner built as ``tools/train.py CFG_FILE --cfg-options ...``
    builds it (its log dir and the copy of its config there are written
    when it is built)."""
    cfg = Config.fromfile(cfg_file)
    cfg.merge_from_dict(dict(work_dir=work, **options))
    cfg.experiment_name = T.toy_cfg(work).experiment_name
    return T.build_runner(cfg)


def _start(work: str, cfg_file: str, **options):
    """:func:`_build`, then ``train()`` (which writes the top-level config
    dump once the run holds the work dir)."""
    runner = _build(work, cfg_file, **options)
    runner.train()
    return runner


def _files(work: str) -> dict:
    """{path relative to ``work``: bytes} of every file under ``work``,
    but the lock file (its content is the holder's pid while held)."""
    found = {}
    for path in glob.glob(osp.join(work, '**'), recursive=True):
        rel = osp.relpath(path, work)
        if osp.isfile(path) and rel != LOCK_NAME:
            found[rel] = _read(path)
    return found


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
    third = _start(work, cfg_file, resume=True,
                   **{'optim_wrapper.optimizer.lr': 0.02})
    assert _read(osp.join(work, f'superseded_{third.timestamp}',
                          'toy.py')) == second_text
    assert b'lr=0.02,' in _read(latest)


def test_a_refused_start_changes_no_file(tmp_path):
    """A run refused by ``train()`` (a live run holds the work dir; an
    earlier run's checkpoints without ``--resume``) leaves every file there
    as it was. Before, mmengine had already replaced
    ``work_dir/<config name>.py`` with the refused run's config while the
    runner was built, so it no longer showed the config of the run whose
    checkpoints lie there."""
    work = str(tmp_path / 'work')
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'), _cfg(work))
    _start(work, cfg_file)
    before = _files(work)
    assert b'lr=0.1,' in before['toy.py']
    holder = WorkDirLock(work)  # stands for a live run
    assert holder.acquire()
    try:
        locked_out = _build(work, cfg_file, resume=True,
                            **{'optim_wrapper.optimizer.lr': 0.5})
        with pytest.raises(WorkDirLockedError):
            locked_out.train()
    finally:
        holder.release()
    not_resumed = _build(work, cfg_file,
                         **{'optim_wrapper.optimizer.lr': 0.25})
    with pytest.raises(PreviousRunError):
        not_resumed.train()
    after = _files(work)
    assert {name: after.get(name) for name in before} == before
    # what was added: each refused run's own log dir, its config inside
    for runner, lr in ((locked_out, b'lr=0.5,'), (not_resumed, b'lr=0.25,')):
        assert lr in _read(osp.join(runner.log_dir, 'toy.py'))
    added = {osp.dirname(osp.join(work, name)).split(osp.sep + 'vis_data')[0]
             for name in set(after) - set(before)}
    assert added == {locked_out.log_dir, not_resumed.log_dir}


def test_evaluation_keeps_the_training_runs_config_dump(tmp_path):
    """``test()``/``val()`` (``tools/test.py``, allowed beside a live run)
    write ``work_dir/<config name>.py`` only where there is none."""
    work = str(tmp_path / 'work')
    cfg = _cfg(work, validate=True)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_cfg, cfg.test_evaluator = dict(), dict(type='ToyMeanNorm')
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'), cfg)
    _start(work, cfg_file)
    trained = _read(osp.join(work, 'toy.py'))
    evaluation = _build(work, cfg_file, **{'optim_wrapper.optimizer.lr': 0.5})
    evaluation.test()
    assert _read(osp.join(work, 'toy.py')) == trained
    assert b'lr=0.5,' in _read(osp.join(evaluation.log_dir, 'toy.py'))
    # a work dir of evaluations only still gets mmengine's dump
    fresh = str(tmp_path / 'eval_only')
    evaluation = _build(fresh, cfg_file, **{'optim_wrapper.optimizer.lr': 0.5})
    evaluation.test()
    assert _read(osp.join(fresh, 'toy.py')) == _read(
        osp.join(evaluation.log_dir, 'toy.py'))


def test_starts_in_the_same_second_get_their_own_log_dirs(tmp_path,
                                                          monkeypatch):
    """mmengine's timestamp, hence log dir, is to the second: runs started
    in the same second (a job array, a retried launch) shared
    ``work_dir/<timestamp>/``. Measured before: the second run's lines were
    appended to the first's ``<timestamp>.log``, its scalars to the first's
    ``vis_data/scalars.json`` and ``<timestamp>.json``, and it replaced the
    first's ``vis_data/config.py`` and log-dir config copy. Now the later
    ones get ``<timestamp>_1``, ``<timestamp>_2``, and no file of an
    earlier run changes but the top-level dump and ``last_checkpoint``."""
    work = str(tmp_path / 'work')
    cfg_file = T.write_cfg(str(tmp_path / 'toy.py'),
                           _cfg(work, log_level='INFO'))
    now = time.time()
    monkeypatch.setattr(time, 'time', lambda: now)
    runners, kept = [], {}
    for lr, iters in ((0.1, 4), (0.05, 6), (0.02, 8)):
        runners.append(_start(work, cfg_file, resume=True, **{
            'optim_wrapper.optimizer.lr': lr, 'train_cfg.max_iters': iters}))
        after = _files(work)
        changed = {n for n in kept if after[n] != kept[n]}
        assert changed <= {'toy.py', 'last_checkpoint'}, changed
        kept = after
        own = osp.relpath(runners[-1].log_dir, work)
        log = kept[osp.join(own, f'{runners[-1].timestamp}.log')]
        assert f'Saving checkpoint at {iters} iterations'.encode() in log
        assert f'lr={lr},'.encode() in kept[osp.join(own, 'toy.py')]
        assert kept[osp.join(own, 'vis_data', 'config.py')] == \
            kept[osp.join(own, 'toy.py')]
    first = runners[0].timestamp
    assert [r.timestamp for r in runners] == [first, f'{first}_1',
                                             f'{first}_2']
    assert [r.log_dir for r in runners] == [
        osp.join(work, r.timestamp) for r in runners]
    # each log holds its own run's iterations only
    assert b'Saving checkpoint at 6' not in kept[
        osp.join(first, f'{first}.log')]
    assert kept['toy.py'] == kept[osp.join(f'{first}_2', 'toy.py')]
    assert not glob.glob(osp.join(work, 'superseded_*'))


def _rank_builds_runner(rank: int, port: int, work: str) -> None:
    """One of 2 gloo ranks: build an ``AVRunner`` in ``work``; write the
    timestamp and log dir it got."""
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    torch.set_num_threads(1)
    cfg = _cfg(work)
    cfg.launcher = 'pytorch'
    runner = T.build_runner(cfg)
    with open(osp.join(osp.dirname(work), f'rank{rank}.json'), 'w') as f:
        json.dump(dict(timestamp=runner.timestamp,
                       log_dir=runner.log_dir), f)


def test_ranks_agree_on_a_log_dir_of_their_own(tmp_path):
    """Two gloo ranks in a work dir whose ``<timestamp>/`` is taken: rank 0
    picks ``<timestamp>_1`` and rank 1 takes it too."""
    work = tmp_path / 'work'
    work.mkdir()
    start = int(time.time())
    taken = {time.strftime('%Y%m%d_%H%M%S', time.localtime(t))
             for t in range(start - 1, start + 240)}
    for name in taken:
        (work / name).mkdir()
    run_ranks(_rank_builds_runner, (free_port(), str(work)))
    got = [json.loads((tmp_path / f'rank{r}.json').read_text())
           for r in (0, 1)]
    assert got[0] == got[1], got
    stamp, suffix = got[0]['timestamp'].rsplit('_', 1)
    assert stamp in taken and suffix == '1', got
    assert got[0]['log_dir'] == str(work / got[0]['timestamp'])
    assert osp.isdir(got[0]['log_dir'])
