"""A DataLoader worker that dies natively (a decoder's SIGSEGV) is reported
with the file it was reading, not only its pid (issue 19)."""
import os
import resource
import signal

import pytest
from torch.utils.data import DataLoader

from mmavcl.datasets import AVVideoDataset
from mmavcl.datasets.errors import WorkerCrashError
from mmavcl.datasets.video_dataset import (_reading_dir, naming_worker_files,
                                           worker_reading)
from mmavcl.registry import TRANSFORMS
from mmavcl.testing import make_av_video


@TRANSFORMS.register_module(force=True)
class SegfaultOnFileForTest:
    """Fault injection: a decoder crashing on one file. The worker really
    dies of SIGSEGV; no Python exception is left to carry a file name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, results: dict) -> dict:
        if os.path.basename(results['filename']) == self.name:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
            os.kill(os.getpid(), signal.SIGSEGV)
        return results


def _dataset(tmp_path, names, crash_on=None):
    v = tmp_path / 'v'
    for n in names:
        if not (v / n).exists():
            make_av_video(str(v / n), num_frames=8, size=(32, 32),
                          audio=False)
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{n} {i % 2}\n' for i, n in enumerate(names)))
    pipeline = [dict(type='VideoInit'), dict(type='SampleClips', clip_len=4),
                dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]
    if crash_on:
        pipeline.insert(0, dict(type='SegfaultOnFileForTest', name=crash_on))
    return AVVideoDataset(str(ann), data_prefix=dict(video=str(v)),
                          pipeline=pipeline)


def _loader(ds):
    return DataLoader(ds, batch_size=1, num_workers=2,
                      collate_fn=lambda batch: batch)


def test_crashed_worker_names_its_file(tmp_path):
    names = ['a.mp4', 'b.mp4', 'crash.mp4', 'c.mp4', 'd.mp4']
    ds = _dataset(tmp_path, names, crash_on='crash.mp4')
    # torch alone names the worker's pid, not the file
    with pytest.raises(RuntimeError) as plain:
        for _ in _loader(ds):
            pass
    assert 'DataLoader worker (pid' in str(plain.value)
    assert 'crash.mp4' not in str(plain.value)
    with pytest.raises(WorkerCrashError) as info:
        with naming_worker_files():
            for _ in _loader(ds):
                pass
    err = info.value
    crashed = str(tmp_path / 'v' / 'crash.mp4')
    assert err.filename == crashed
    msg = str(err)
    assert 'Segmentation fault' in msg or 'exited unexpectedly' in msg
    assert f'was reading {crashed} (sample 2 of {ds.ann_file})' in msg
    assert 'check_dataset.py' in msg
    assert isinstance(err.__cause__, RuntimeError)  # torch's own error
    assert [f for _, f in err.files if f] == [crashed]
    # another crash leaves its note; an unrelated OSError later in this
    # process (a full disk while saving) is not blamed on that worker
    with pytest.raises(WorkerCrashError):
        with naming_worker_files():
            for _ in _loader(ds):
                pass
    with pytest.raises(OSError, match='No space') as info:
        with naming_worker_files():
            raise OSError(28, 'No space left on device')
    assert not isinstance(info.value, WorkerCrashError)


def test_good_runs_leave_no_notes_and_other_errors_pass_through(tmp_path):
    ds = _dataset(tmp_path, ['a.mp4', 'b.mp4', 'c.mp4'])
    folder = _reading_dir(os.getpid())

    def notes():  # a crashed worker's note stays until this process exits
        return set(os.listdir(folder)) if os.path.isdir(folder) else set()

    before = notes()
    for persistent in (False, True):
        loader = DataLoader(ds, batch_size=1, num_workers=2,
                            persistent_workers=persistent,
                            collate_fn=lambda batch: batch)
        with naming_worker_files():
            assert sum(1 for _ in loader) == 3
        del loader  # workers exit and remove their notes
    assert notes() - before == set()
    # in the main process nothing is noted (its traceback names the file)
    assert ds[0] is not None and worker_reading(os.getpid()) is None
    with pytest.raises(ValueError, match='not a crash'):
        with naming_worker_files():
            raise ValueError('not a crash')
    with pytest.raises(RuntimeError, match='unrelated') as info:
        with naming_worker_files():
            raise RuntimeError('unrelated')
    assert not isinstance(info.value, WorkerCrashError)


def test_runner_train_names_the_file_a_worker_died_on(tmp_path):
    """The real path: ``AVRunner.train()`` of a shipped config, its
    DataLoader workers forked by mmengine, one of them killed by SIGSEGV."""
    from mmengine.config import Config

    from mmavcl.engine import AVRunner
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    names = ['a.mp4', 'b.mp4', 'crash.mp4', 'c.mp4']
    ds = _dataset(tmp_path, names)  # writes the videos and the list
    cfg = Config.fromfile(
        os.path.join(root, 'configs/baselines/moco_r3d-18_toy.py'))
    cfg.work_dir = str(tmp_path / 'work')
    loader = cfg.train_dataloader
    loader.update(batch_size=2, num_workers=2, persistent_workers=False)
    loader.dataset.update(ann_file=ds.ann_file, data_root='',
                          data_prefix=dict(video=str(tmp_path / 'v')))
    loader.dataset.pipeline.insert(
        0, dict(type='SegfaultOnFileForTest', name='crash.mp4'))
    cfg.train_cfg.max_epochs = 1
    with pytest.raises(WorkerCrashError) as info:
        AVRunner.from_cfg(cfg).train()
    assert info.value.filename == str(tmp_path / 'v' / 'crash.mp4')
