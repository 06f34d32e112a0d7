"""FFmpeg decoder threads of the PyAV reads: the files the decord reader
hands to PyAV, ``backend='pyav'`` and the fallback all decode with
``VideoInit(pyav_num_threads=)`` (not decord's ``num_threads``), by
default the usable cores shared among the loader processes, read back
from the codec context FFmpeg decoded with (also in real DataLoader
workers); and the pixels do not depend on the thread count or type.

Every file is written here with PyAV, frame ``i`` showing ``i`` in
vertical bands.
"""
import os

import numpy as np
import pytest

from torch.utils.data import DataLoader, Dataset

from mmavcl.datasets.media import (DecordVideoReader, PyAVVideoReader,
                                   decode_with_fallback,
                                   shared_decoder_threads)
from mmavcl.datasets.media.threads import training_processes_on_node
from mmavcl.datasets.transforms import VideoInit
from mmavcl.testing import decode_frame_index, make_av_video

N, FPS, SIZE = 48, 24, (64, 64)
_X265 = 'log-level=error:keyint=12:min-keyint=12:scenecut=0:open-gop=1'
#: file -> (encoder, options, why the decord reader hands it to PyAV): one
#: per kind of reason, and a codec with slice threads only (MPEG-2)
ROUTED = {
    'mpeg4-b.avi': ('mpeg4', {'bf': '1'}, 'B-frames in AVI'),
    'h264.ts': ('libx264', {}, 'MPEG-TS (no frame index)'),
    'hevc-cra.mkv': ('libx265', {'x265-params': _X265}, 'hevc open GOP'),
    'mpeg2.mpg': ('mpeg2video', {'bf': '2'}, 'MPEG-PS (no frame index)'),
}
#: every index scrambled with repeats, then two clips (a seek between)
BATCHES = [
    np.concatenate([np.random.default_rng(0).permutation(N),
                    np.arange(5)]),
    np.concatenate([np.arange(2, 18, 2), np.arange(30, N, 3)]),
]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('threads')
    out = {name: make_av_video(str(root / name), num_frames=N, fps=FPS,
                               size=SIZE, audio=False, keyint=12,
                               video_codec=encoder,
                               video_options=options)['path']
           for name, (encoder, options, _) in ROUTED.items()}
    out['h264.mp4'] = make_av_video(str(root / 'h264.mp4'), num_frames=N,
                                    fps=FPS, size=SIZE, audio=False,
                                    keyint=12)['path']
    return out


def _codec_threads(reader) -> int:
    """The thread count of the codec context that decoded ``reader``'s
    frames (FFmpeg resolves 0 to its own count, and leaves 1 where the
    codec lacks the asked threads)."""
    if isinstance(reader, DecordVideoReader):
        reader = reader._pyav
    return int(reader._stream.codec_context.thread_count)


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def _shared(workers: int = 1, ranks: int = 1) -> int:
    """The rule, spelt out: a second thread per loader process only where
    the node has a core for each."""
    return 2 if _cores() >= 2 * workers * ranks else 1


@pytest.fixture(autouse=True)
def _one_process_per_node(monkeypatch):
    for name in ('LOCAL_WORLD_SIZE', 'SLURM_STEP_TASKS_PER_NODE',
                 'SLURM_TASKS_PER_NODE', 'SLURM_NTASKS_PER_NODE',
                 'SLURM_NODEID'):
        monkeypatch.delenv(name, raising=False)


def _ffmpeg_auto_threads() -> int:
    """FFmpeg's frame-thread count for ``thread_count=0``: its CPUs (this
    process's affinity) + 1, at most 16; 1 on one CPU."""
    return 1 if _cores() == 1 else min(_cores() + 1, 16)


@pytest.mark.parametrize('name', list(ROUTED))
def test_routed_files_decode_with_pyav_num_threads(files, name):
    """The shipped configs' ``VideoInit(num_threads=1)`` (decord's one
    thread per worker) no longer reaches PyAV: a file the decord reader
    hands on decodes with ``pyav_num_threads``, the shared count (here
    the process decodes alone) or the config's."""
    pytest.importorskip('decord')
    path = files[name]
    for kw, want in ((dict(num_threads=1), _shared()),
                     (dict(num_threads=1, pyav_num_threads=1), 1),
                     (dict(pyav_num_threads=3), 3)):
        res = VideoInit(**kw)(dict(filename=path, audio_filename=None))
        reader = res['video_reader']
        assert isinstance(reader, DecordVideoReader)
        assert reader.misread_reason == ROUTED[name][2]
        inds = np.arange(0, N, 5)
        np.testing.assert_array_equal(
            decode_frame_index(reader.get_batch(inds)), inds)
        assert _codec_threads(reader) == want, kw
        reader.close()


def test_ffmpeg_auto_count_reaches_the_routed_reader(files):
    pytest.importorskip('decord')
    reader = DecordVideoReader(files['h264.ts'], pyav_num_threads=0)
    reader.get_batch([3, 30])
    assert _codec_threads(reader) == _ffmpeg_auto_threads()
    reader.close()


@pytest.mark.parametrize('name', ['h264.mp4', 'mpeg4-b.avi'])
def test_explicit_pyav_backend_follows_the_same_rule(files, name):
    """``backend='pyav'`` decodes with ``pyav_num_threads`` too; the
    ``num_threads`` old configs give it is decord's, and says so."""
    path = files[name]
    with pytest.warns(UserWarning, match="num_threads sets decord's"):
        init = VideoInit(backend='pyav', num_threads=1)
    for transform, want in ((init, _shared()),
                            (VideoInit(backend='pyav', pyav_num_threads=1),
                             1)):
        res = transform(dict(filename=path, audio_filename=None))
        reader = res['video_reader']
        assert isinstance(reader, PyAVVideoReader)
        reader.get_batch([1, 40])
        assert _codec_threads(reader) == want
        reader.close()
    with pytest.raises(ValueError, match='pyav_num_threads must be >= 0'):
        VideoInit(pyav_num_threads=-1)


def test_fallback_reader_decodes_with_pyav_num_threads(files, tmp_path):
    """decord 0.6 fails on a 48x32 H.264 it opened: the PyAV reader that
    takes over has the same threads as every other PyAV read."""
    pytest.importorskip('decord')
    path = make_av_video(str(tmp_path / 'tiny.mp4'), num_frames=24,
                         size=(32, 48), audio=False)['path']
    res = VideoInit(backend='decord', num_threads=1,
                    pyav_num_threads=3)(dict(filename=path,
                                             audio_filename=None))
    reader = res['video_reader']
    if reader.misread_reason is not None:
        pytest.skip('the decord reader hands this file on at open')
    frames, used = decode_with_fallback(reader, [0, 23])
    if used is reader:
        pytest.skip('this decord build read the 48x32 H.264')
    assert isinstance(used, PyAVVideoReader)
    assert decode_frame_index(frames).tolist() == [0, 23]
    assert _codec_threads(used) == 3
    used.close()


@pytest.mark.parametrize('name', list(ROUTED))
def test_pixels_do_not_depend_on_threads(files, name):
    """Thread count and type change nothing returned: every setting gives
    the one-thread frames bit for bit, and those spell their indices. The
    codec contexts say the settings were in effect (MPEG-4 Part 2 has no
    slice threads, MPEG-2 no frame threads: FFmpeg runs one there)."""
    path = files[name]
    settings = [(1, 'AUTO'), (2, 'AUTO'), (2, 'FRAME'), (2, 'SLICE'),
                (0, 'AUTO')]
    single = {'mpeg4-b.avi': 'SLICE', 'mpeg2.mpg': 'FRAME'}.get(name)
    ref = None
    for threads, kind in settings:
        reader = PyAVVideoReader(path, num_threads=threads,
                                 thread_type=kind)
        got = [reader.get_batch(b) for b in BATCHES]
        want = 1 if threads == 1 or kind == single else (
            threads or None)
        if want is not None:
            assert reader.decoder_threads == want, (threads, kind)
        else:
            assert reader.decoder_threads > 1 or \
                len(os.sched_getaffinity(0)) == 1
        reader.close()
        if ref is None:
            ref = got
            for batch, frames in zip(BATCHES, got):
                np.testing.assert_array_equal(decode_frame_index(frames),
                                              batch)
            continue
        for batch, frames, first in zip(BATCHES, got, ref):
            np.testing.assert_array_equal(frames, first,
                                          err_msg=f'{threads} {kind}')


class _LoaderThreads(Dataset):
    """Item ``k``: the decoder threads of a routed file's read through
    ``VideoInit`` in the worker that loads it."""

    def __init__(self, path: str, backend=None) -> None:
        self.path, self.backend = path, backend

    def __len__(self) -> int:
        return 4

    def __getitem__(self, k: int) -> int:
        res = VideoInit(backend=self.backend)(
            dict(filename=self.path, audio_filename=None))
        reader = res['video_reader']
        reader.get_batch([k, k + 20])
        threads = _codec_threads(reader)
        reader.close()
        return threads


@pytest.mark.parametrize('backend', [None, 'pyav'])
def test_loader_workers_share_the_cores(files, monkeypatch, backend):
    """In real (forked) DataLoader workers the default count divides the
    usable cores among the workers of every training process on the node
    (``LOCAL_WORLD_SIZE``): 2 where each has a spare core, else 1."""
    path = files['mpeg4-b.avi']
    cases = [(1, 1), (2, 1), (1, _cores())]
    for workers, ranks in cases:
        monkeypatch.setenv('LOCAL_WORLD_SIZE', str(ranks))
        loader = DataLoader(_LoaderThreads(path, backend),
                            num_workers=workers, batch_size=None,
                            multiprocessing_context='fork')
        got = {int(t) for t in loader}
        assert got == {_shared(workers, ranks)}, (workers, ranks)


@pytest.mark.parametrize('env,ranks', [
    ({}, 1),
    (dict(LOCAL_WORLD_SIZE='4'), 4),
    # torchrun inside a Slurm allocation: torchrun's count
    (dict(LOCAL_WORLD_SIZE='2', SLURM_NTASKS_PER_NODE='8'), 2),
    # tools/srun.sh: --ntasks-per-node=8 on two nodes
    (dict(SLURM_NTASKS_PER_NODE='8', SLURM_TASKS_PER_NODE='8(x2)',
          SLURM_NODEID='1'), 8),
    # --ntasks=6 --ntasks-per-node=4: 4 tasks on node 0, 2 on node 1
    (dict(SLURM_NTASKS_PER_NODE='4', SLURM_TASKS_PER_NODE='4,2',
          SLURM_NODEID='1'), 2),
    (dict(SLURM_TASKS_PER_NODE='8(x2),3', SLURM_NODEID='2'), 3),
    (dict(SLURM_TASKS_PER_NODE='8(x2),3', SLURM_NODEID='1'), 8),
    # the step's placement over the job's
    (dict(SLURM_TASKS_PER_NODE='8(x2)', SLURM_STEP_TASKS_PER_NODE='2(x2)',
          SLURM_NODEID='0'), 2),
    (dict(SLURM_NTASKS_PER_NODE='5'), 5),
])
def test_training_processes_on_node_under_torchrun_and_slurm(env, ranks):
    assert training_processes_on_node(env) == ranks


@pytest.mark.parametrize('env,message', [
    (dict(SLURM_TASKS_PER_NODE='8(2)'),
     r"SLURM_TASKS_PER_NODE='8\(2\)': expected per-node task counts"),
    (dict(SLURM_TASKS_PER_NODE='4,2', SLURM_NODEID='2'),
     r"SLURM_NODEID=2 has no entry in SLURM_TASKS_PER_NODE='4,2' \(2 "),
    (dict(LOCAL_WORLD_SIZE='four'), "LOCAL_WORLD_SIZE='four': expected"),
])
def test_a_malformed_launcher_variable_is_named(env, message):
    with pytest.raises(ValueError, match=message):
        training_processes_on_node(env)


def test_slurm_tasks_share_the_cores_as_torchrun_ranks(monkeypatch):
    """Under ``srun`` (no ``LOCAL_WORLD_SIZE``) the cores are divided
    among this node's tasks: one thread each where the node has fewer
    than two cores per task."""
    cores = _cores()
    monkeypatch.setenv('SLURM_TASKS_PER_NODE', f'{cores}(x2)')
    monkeypatch.setenv('SLURM_NODEID', '1')
    assert shared_decoder_threads() == 1
    monkeypatch.setenv('SLURM_TASKS_PER_NODE', '1(x2)')
    assert shared_decoder_threads() == _shared(1, 1)
