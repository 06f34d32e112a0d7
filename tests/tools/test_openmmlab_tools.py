"""mmavcl configs run by OpenMMLab's own entry points, as subprocesses on
CPU, one epoch of 2 iterations on a 2-video-per-class toy set:

* MMAction2 1.2.0's ``tools/train.py`` / ``test.py`` (shipped in its wheel
  under ``mmaction/.mim/tools``) on an mmavcl benchmark config, unchanged:
  ``runner_type='mmavcl.AVRunner'`` in ``configs/_base_/default_runtime.py``
  is found from MMAction2's runner registry;
* ``mim train mmavcl`` / ``mim test mmavcl`` from a wheel install
  (``pip install .``: ``mmavcl/.mim`` holds copies) and from the checkout
  (``mmavcl/.mim`` holds the committed symlinks), including a config in
  another folder that inherits ``mmavcl::`` bases;
* what mmengine makes impossible, checked so that docs/mmaction2.md may
  say it: MMAction2's ``tools/train.py`` cannot resolve ``mmavcl::`` bases
  (mmengine's fixed ``pkg::`` table is read before any import).
"""
import glob
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

from mmavcl.testing import make_toy_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PROBE = 'configs/benchmarks/r3d-18/linear_r3d-18_1xb8-8x2x1-5e_toy.py'
ONE_EPOCH = ['--cfg-options', 'train_cfg.max_epochs=1',
             'train_dataloader.batch_size=2']
MIM = [sys.executable, '-c', 'from mim.cli import cli; cli()']


def _mmaction_tool(name: str) -> str:
    import mmaction
    path = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools', name)
    assert osp.isfile(path), f'mmaction2 wheel without {path}'
    return path


def _run(args: List[str], cwd: str, pythonpath: Optional[str] = ROOT,
         timeout: int = 300) -> subprocess.CompletedProcess:
    env: Dict[str, str] = {k: v for k, v in os.environ.items()
                           if k != 'PYTHONPATH'}
    if pythonpath:
        env['PYTHONPATH'] = pythonpath
    env.setdefault('OMP_NUM_THREADS', '1')
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _ok(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, (out.stdout[-3000:] + '\n---\n' +
                                 out.stderr[-5000:])
    return out.stdout + out.stderr


@pytest.fixture(scope='module')
def workdir(tmp_path_factory) -> str:
    """A user's folder holding ``data/toy_av`` (what the toy configs read)."""
    root = tmp_path_factory.mktemp('user')
    make_toy_data(root)
    return str(root)


def test_mmaction2_tools_train_and_test_an_mmavcl_config(workdir):
    cfg = osp.join(ROOT, PROBE)
    log = _ok(_run([sys.executable, _mmaction_tool('train.py'), cfg,
                    '--work-dir', 'wd_mma'] + ONE_EPOCH, cwd=workdir))
    assert 'Epoch(train) [1][2/2]' in log
    ckpt = osp.join(workdir, 'wd_mma', 'epoch_1.pth')
    assert osp.isfile(ckpt)
    log = _ok(_run([sys.executable, _mmaction_tool('test.py'), cfg, ckpt,
                    '--work-dir', 'wd_mma'], cwd=workdir))
    assert 'Epoch(test)' in log and 'acc/top1' in log
    # a second run into that work dir (no --resume) is refused by AVRunner,
    # which MMAction2's train.py builds from runner_type, before it writes
    with open(ckpt, 'rb') as f:
        trained = f.read()
    again = _run([sys.executable, _mmaction_tool('train.py'), cfg,
                  '--work-dir', 'wd_mma'] + ONE_EPOCH, cwd=workdir)
    assert again.returncode != 0
    work = osp.join(workdir, 'wd_mma')
    assert f'PreviousRunError: work dir {work} holds the checkpoints of an ' \
        'earlier run' in again.stderr, again.stderr[-3000:]
    assert f'{work}/epoch_1.pth' in again.stderr
    with open(ckpt, 'rb') as f:
        assert f.read() == trained


def test_mmaction2_train_cannot_resolve_mmavcl_prefix(workdir):
    """The documented limit: MMAction2's tools parse ``_base_`` before
    importing anything, and mmengine maps ``pkg::`` only for its own table.
    docs/mmaction2.md names the alternative (mim / mmavcl's tools), which
    :func:`test_mim_runs_an_external_config_with_mmavcl_bases` runs."""
    cfg = osp.join(workdir, 'prefix_cfg.py')
    with open(cfg, 'w') as f:
        f.write("_base_ = 'mmavcl::benchmarks/r3d-18/"
                "linear_r3d-18_1xb8-8x2x1-5e_toy.py'\n")
    out = _run([sys.executable, _mmaction_tool('train.py'), cfg],
               cwd=workdir)
    assert out.returncode != 0
    assert 'mmengine does not support to load mmavcl config' in out.stderr


@pytest.fixture(scope='module')
def wheel_site(clone, tmp_path_factory) -> str:
    """``pip install .`` into a folder of its own (no dependencies: they
    are the test venv's), from a copy of the checkout's files (pip builds
    in the source tree; the checkout stays untouched)."""
    tmp = tmp_path_factory.mktemp('wheel')
    out = _run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q',
                '-w', str(tmp / 'dist'), clone], cwd=str(tmp),
               pythonpath=None)
    _ok(out)
    wheel, = glob.glob(str(tmp / 'dist' / 'mmavcl-*.whl'))
    _ok(_run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q',
              '--target', str(tmp / 'site'), wheel], cwd=str(tmp),
             pythonpath=None))
    return str(tmp / 'site')


def test_wheel_ships_every_config_and_tool(wheel_site):
    mim = osp.join(wheel_site, 'mmavcl', '.mim')
    for folder in ('configs', 'tools'):
        here = {osp.relpath(p, ROOT) for p in glob.glob(
            osp.join(ROOT, folder, '**', '*'), recursive=True)
            if osp.isfile(p) and '__pycache__' not in p}
        shipped = {osp.relpath(p, mim) for p in glob.glob(
            osp.join(mim, folder, '**', '*'), recursive=True)
            if osp.isfile(p) and '__pycache__' not in p}
        assert here <= shipped, sorted(here - shipped)[:10]
        # copies, not links back into some checkout
        assert not osp.islink(osp.join(mim, folder))
    assert osp.isfile(osp.join(mim, 'model-index.yml'))


def test_mim_train_and_test_from_a_wheel_install(wheel_site, workdir):
    cfg = osp.join(ROOT, PROBE)
    log = _ok(_run(MIM + ['train', 'mmavcl', cfg, '--work-dir', 'wd_mim']
                   + ONE_EPOCH, cwd=workdir, pythonpath=wheel_site))
    # mim found the installed copy of mmavcl's tools/train.py
    assert osp.join(wheel_site, 'mmavcl', '.mim', 'tools', 'train.py') in log
    ckpt = osp.join(workdir, 'wd_mim', 'epoch_1.pth')
    log = _ok(_run(MIM + ['test', 'mmavcl', cfg, '--checkpoint', ckpt,
                          '--work-dir', 'wd_mim'], cwd=workdir,
                   pythonpath=wheel_site))
    assert 'Epoch(test)' in log and 'acc/top1' in log


def test_mim_runs_an_external_config_with_mmavcl_bases(wheel_site, workdir):
    """docs/mmaction2.md's ``<!-- mmavcl-prefix-config -->`` block."""
    sys.path.insert(0, osp.join(ROOT, 'tests', 'docs'))
    try:
        from test_mmaction2_doc import doc_block
    finally:
        sys.path.pop(0)
    cfg = osp.join(workdir, 'my_linear.py')
    with open(cfg, 'w') as f:
        f.write(doc_block('mmavcl-prefix-config'))
    log = _ok(_run(MIM + ['train', 'mmavcl', cfg, '--work-dir', 'wd_ext'],
                   cwd=workdir, pythonpath=wheel_site))
    assert 'Epoch(train) [1][2/2]' in log
    assert osp.isfile(osp.join(workdir, 'wd_ext', 'epoch_1.pth'))


@pytest.fixture(scope='module')
def clone(tmp_path_factory) -> str:
    """A copy of the checkout's files (symlinks kept) with the
    ``mmavcl.egg-info`` that ``pip install -e .`` writes there (here by
    setuptools' ``egg_info``)."""
    import shutil
    repo = tmp_path_factory.mktemp('clone')
    files = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard'],
                           cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for rel in files:
        src, dst = osp.join(ROOT, rel), repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if osp.islink(src):
            os.symlink(os.readlink(src), dst)
        elif osp.isfile(src):
            shutil.copy(src, dst)
    for name in ('configs', 'tools', 'model-index.yml'):
        assert osp.islink(repo / 'mmavcl' / '.mim' / name), name
    _ok(_run([sys.executable, 'setup.py', '-q', 'egg_info'], cwd=str(repo),
             pythonpath=None))
    return str(repo)


def test_mim_finds_the_tools_of_a_checkout_on_pythonpath(clone, workdir):
    """The route docs/mmaction2.md gives for an editable install: with the
    checkout first on ``PYTHONPATH``, mim's package root is the checkout's
    ``mmavcl/``, whose ``.mim/{configs,tools}`` are the committed
    symlinks."""
    # the config by its name alone: mim finds it under the checkout's
    # mmavcl/.mim/configs (a symlink) and runs .mim/tools/train.py
    log = _ok(_run(MIM + ['train', 'mmavcl', osp.basename(PROBE),
                          '--work-dir', 'wd_clone'] + ONE_EPOCH,
                   cwd=workdir, pythonpath=clone))
    assert osp.join(clone, 'mmavcl', '.mim', 'tools', 'train.py') in log
    assert osp.join(clone, PROBE) in log
    assert 'Epoch(train) [1][2/2]' in log


def test_mim_search_lists_every_model_zoo_config(clone, tmp_path):
    import yaml
    names = []
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        for rel in yaml.safe_load(f)['Import']:
            with open(osp.join(ROOT, rel)) as g:
                names += [m['Name'] for m in yaml.safe_load(g)['Models']]
    assert len(names) >= 16
    log = _ok(_run(MIM + ['search', 'mmavcl'], cwd=str(tmp_path),
                   pythonpath=clone))
    shown = re.findall(r'^config id: (\S+)$', log, re.M)
    assert sorted(shown) == sorted(names)
    assert 'configs/vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py' in log


def test_dist_train_runs_from_the_callers_folder(workdir):
    """Like MMAction2's scripts: a config path relative to the caller's
    folder, the work dir under the caller's ``work_dirs/`` (not the
    checkout's)."""
    from mmavcl.testing import free_port
    stem = osp.splitext(osp.basename(PROBE))[0]
    in_checkout = osp.join(ROOT, 'work_dirs', stem)
    existed = osp.exists(in_checkout)
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PORT=str(free_port()), OMP_NUM_THREADS='1',
               PYTHON=sys.executable)
    out = subprocess.run(
        ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'),
         osp.relpath(osp.join(ROOT, PROBE), workdir), '1'] + ONE_EPOCH,
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    _ok(out)
    assert osp.isfile(osp.join(workdir, 'work_dirs', stem, 'epoch_1.pth'))
    if not existed:
        assert not osp.exists(in_checkout)
