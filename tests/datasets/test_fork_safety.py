"""A forked child must not hang freeing the parent's PyAV garbage.

The scenario runs in a fresh interpreter (tests/conftest.py is not loaded
there): mmavcl's ``PyAVVideoReader`` decodes with frame threads, is left in
a reference cycle and dropped uncollected, then the process forks and the
child collects. Without ``mmavcl.datasets.media.forksafe`` the child frees
the container and waits for decoder threads it does not have, for ever
(measured: 6 of 6 runs hung, killed after 5 s; with the hook the child ends
in 0.03 s).
"""
import os.path as osp
import subprocess
import sys

import pytest

from mmavcl.testing.media import make_av_video

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

_SCENARIO = r'''
import gc, os, signal, sys, time
gc.disable()  # nothing may collect the cycle before the fork
path, fork, hook, deadline = sys.argv[1:5]
deadline = float(deadline)
if hook == 'off':  # the control: mmavcl without its fork hooks
    os.register_at_fork = lambda **hooks: None
from mmavcl.datasets.media import PyAVVideoReader

reader = PyAVVideoReader(path)  # thread_type='AUTO': frame threads
assert reader.get_batch([0, 5, 10, 20]).shape[0] == 4
reader.cycle = reader  # garbage only the collector can free
del reader
start = time.monotonic()
if fork == 'os':
    pid = os.fork()
    if pid == 0:
        gc.collect()
        os._exit(0)
    while time.monotonic() - start < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            print('finished', round(time.monotonic() - start, 3))
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print('hung', round(time.monotonic() - start, 3))
else:
    import torch.utils.data as tud

    class Collect(tud.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return gc.collect()

    loader = tud.DataLoader(Collect(), num_workers=1, batch_size=None,
                            multiprocessing_context='fork',
                            timeout=deadline)
    try:
        collected = list(loader)
        print('finished', round(time.monotonic() - start, 3), collected)
    except RuntimeError as err:  # the loader's timeout
        print('hung', err)
'''


@pytest.fixture(scope='module')
def video(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp('fork') / 'v.mp4')
    make_av_video(path, num_frames=50, size=(64, 64), audio=False)
    return path


def _scenario(video: str, fork: str, hook: str, deadline: float) -> str:
    out = subprocess.run(
        [sys.executable, '-c', _SCENARIO, video, fork, hook, str(deadline)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize('fork', ['os', 'loader'],
                         ids=['os.fork', 'DataLoader worker'])
def test_forked_child_never_frees_parents_pyav_garbage(video, fork):
    # generous: the child needs 0.03 s unloaded; a hang never ends
    result = _scenario(video, fork, 'on', 30.0)
    assert result.startswith('finished'), result


def test_without_the_hook_the_child_hangs(video):
    """The control: the same scenario hangs once mmavcl's hook is not
    registered, so the test above can fail."""
    result = _scenario(video, 'os', 'off', 3.0)
    assert result.startswith('hung'), result
