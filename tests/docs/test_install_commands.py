"""The install commands of README.md / docs/get_started.md, checked on CPU.

``pip install -e '.[extras]'`` with a CUDA torch and ``make`` on a fresh
machine cannot run inside the test suite; what they rely on can: every
extra the docs name exists in setup.py and has a requirements file, every
package those files list is pinned in requirements/constraints.txt at the
version installed here, ``make`` runs the documented steps, and
``python -m mmavcl.utils.collect_env`` reports the stack.
"""
import ast
import importlib.metadata as md
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Dict, List

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_PIP_EXTRAS = re.compile(r"pip install [^\n]*-e '?\.\[([\w,-]+)\]")


def _norm(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()


def _setup_extras() -> List[str]:
    """``EXTRAS`` from setup.py, read with ast (importing it runs setup())."""
    with open(osp.join(ROOT, 'setup.py')) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                getattr(t, 'id', None) == 'EXTRAS' for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError('setup.py defines no EXTRAS')


def _requirements(name: str) -> List[str]:
    names = []
    with open(osp.join(ROOT, 'requirements', f'{name}.txt')) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                names.append(_norm(re.split(r'[<>=!~;\[ ]', line, 1)[0]))
    return names


def _constraints() -> Dict[str, str]:
    pins = {}
    with open(osp.join(ROOT, 'requirements', 'constraints.txt')) as f:
        for n, line in enumerate(f, 1):
            line = line.split('#', 1)[0].strip()
            if line:
                assert '==' in line, (
                    f'constraints.txt:{n}: {line} is not pinned')
                name, version = line.split('==')
                pins[_norm(name)] = version
    return pins


def test_documented_extras_exist_and_are_pinned():
    extras = _setup_extras()
    named = set()
    for path in (osp.join(ROOT, 'README.md'),
                 osp.join(ROOT, 'docs', 'get_started.md')):
        with open(path, encoding='utf-8') as f:
            for group in _PIP_EXTRAS.findall(f.read()):
                named.update(group.split(','))
    assert {'audio', 'augment', 'visual', 'mmaction'} <= named, named
    assert named <= set(extras) | {'all'}, named - set(extras)

    pins = _constraints()
    for extra in extras + ['runtime']:
        for name in _requirements(extra):
            assert name in pins, (
                f'requirements/{extra}.txt: {name} is not pinned in '
                'requirements/constraints.txt')
            # the pin is what the tests ran with
            assert md.version(name) == pins[name], (name, md.version(name),
                                                    pins[name])
    # the logging backends docs/config.md documents are their own extra,
    # which the tests extra includes (setup.py)
    assert {'tensorboard', 'wandb'} <= set(_requirements('logging'))
    with open(osp.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        assert "extras_require['tests'] += extras_require['logging']" in \
            f.read()
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    for extra in extras:
        assert f'`{extra}`' in readme, f'README does not list extra {extra}'


@pytest.mark.skipif(shutil.which('make') is None, reason='needs make')
def test_make_targets_run_the_documented_steps():
    # -n prints the recipes without running them; -B includes the venv
    # recipe even when .venv is up to date
    out = subprocess.run(['make', '-n', '-B', 'venv', 'demo', 'test',
                          'test-gpu'],
                         cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [ln.strip() for ln in out.stdout.splitlines()]
    py = '.venv/bin/python'
    constraints = '-c requirements/constraints.txt'
    # torch first, then the package with every extra, both pinned
    torch_step = next(i for i, ln in enumerate(lines)
                      if f'{constraints} torch torchaudio' in ln)
    demo_step = next(i for i, ln in enumerate(lines)
                     if f"{constraints} -e '.[demo]'" in ln)
    pkg_step = next(i for i, ln in enumerate(lines)
                    if f"{constraints} -e '.[all]'" in ln)
    assert torch_step < demo_step < pkg_step
    # `make demo` alone stops before the test-only extras
    demo = subprocess.run(['make', '-n', '-B', 'demo'], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert demo.returncode == 0, demo.stderr
    assert "-e '.[demo]'" in demo.stdout
    assert "'.[all]'" not in demo.stdout
    assert f'{py} tools/demo.py --work-dir work_dirs/demo' in lines
    assert any(ln.startswith(f'{py} -m pytest tests') for ln in lines)
    assert f'MMAVCL_TEST_CUDA=1 {py} -m pytest -m cuda tests' in lines
    for script in ('tools/demo.py',):
        assert osp.isfile(osp.join(ROOT, script))


def test_collect_env_reports_the_stack():
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    out = subprocess.run([sys.executable, '-m', 'mmavcl.utils.collect_env'],
                         cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    import torch
    report = dict(line.split(': ', 1) for line in out.stdout.splitlines()
                  if ': ' in line and not line.startswith(' '))
    assert report['PyTorch'] == torch.__version__
    for key, dist in (('MMEngine', 'mmengine'), ('decord', 'decord'),
                      ('av', 'av'), ('mmcv', 'mmcv-lite')):
        assert report[key] == md.version(dist), (key, report.get(key))
    assert 'mmavcl' in report
