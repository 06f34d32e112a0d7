"""Every shell command in README.md and docs/*.md is exercised.

Each fenced ``bash``/``sh`` block carries, on the line above it, one of

* ``<!-- runnable -->``: the block runs here, as written, and must exit 0;
* ``<!-- covered-by: tests/x.py::test_a[, tests/y.py::test_b] [(why)] -->``:
  it needs a GPU cluster, a real dataset or minutes, and the named tests run
  the same command path on CPU (checked to exist, not run, here).

Runnable blocks run with ``bash -euo pipefail`` in a sandbox that looks like
a fresh checkout (every top-level entry of the repository linked in, except
``data/`` and ``work_dirs/``), so what a block writes under ``data/`` or
``work_dirs/`` stays in a temp dir and never touches the user's files. The
sandbox holds a small ``data/toy_av`` (2 videos per class, 2 s) and a
10-row ``data/esc50/meta/esc50.csv`` in the official column layout, standing
in for what earlier steps of the docs produce or download.

An untagged fence that starts like a command must be tagged ``bash``; and
every repository path the docs name must exist.
"""
import ast
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import Dict, List, NamedTuple

import pytest

from mmavcl.testing.dist import free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_FENCE = re.compile(r'^[ \t]*```(\w*)[ \t]*$')
_SHELL = ('bash', 'sh', 'shell', 'console')
_TARGET = re.compile(r'(tests/[\w/.-]+\.py)::(\w+)')
_KEEP_OUT = ('data', 'work_dirs')
# an untagged fence that starts like a command counts as a shell block
# (and fails the marker test until it is tagged ```bash and marked)
_COMMAND = re.compile(r'(python|bash|make|pip|torchrun|[A-Z_]+=\S*) ')


class Block(NamedTuple):
    where: str      # README.md:20
    marker: str     # the comment line above the fence ('' if none)
    script: str
    tagged: bool    # the fence names bash/sh


def doc_files() -> List[str]:
    docs = osp.join(ROOT, 'docs')
    return [osp.join(ROOT, 'README.md')] + sorted(
        osp.join(docs, f) for f in os.listdir(docs) if f.endswith('.md'))


def shell_blocks() -> List[Block]:
    """Every fenced shell block with the nearest non-blank line above it."""
    blocks = []
    for path in doc_files():
        with open(path, encoding='utf-8') as f:
            lines = f.read().splitlines()
        i = 0
        while i < len(lines):
            m = _FENCE.match(lines[i])
            if not m:
                i += 1
                continue
            end = i + 1
            while end < len(lines) and not _FENCE.match(lines[end]):
                end += 1
            first = next((ln.strip() for ln in lines[i + 1:end]
                          if ln.strip()), '')
            untagged_command = not m.group(1) and _COMMAND.match(first)
            if m.group(1) in _SHELL or untagged_command:
                above = next((lines[j].strip() for j in range(i - 1, -1, -1)
                              if lines[j].strip()), '')
                body = '\n'.join(lines[i + 1:end]) + '\n'
                blocks.append(Block(f'{osp.relpath(path, ROOT)}:{i + 1}',
                                    above, body, m.group(1) in _SHELL))
            i = end + 1
    return blocks


def runnable_blocks() -> List[Block]:
    return [b for b in shell_blocks() if b.marker == '<!-- runnable -->']


def test_blocks_are_found():
    # README (3), get_started (4), data_preparation, config (2),
    # evaluation (5), mmaction2 (2), add_a_method, benchmarks (3)
    assert len(shell_blocks()) >= 21
    assert len(runnable_blocks()) >= 3


def test_every_shell_block_is_runnable_or_covered():
    untagged = [b.where for b in shell_blocks() if not b.tagged]
    assert not untagged, 'tag these command blocks ```bash: ' + str(untagged)
    unmarked = [f'{b.where} (line above: {b.marker!r})'
                for b in shell_blocks()
                if b.marker != '<!-- runnable -->'
                and not (b.marker.startswith('<!-- covered-by:')
                         and b.marker.endswith('-->')
                         and _TARGET.search(b.marker))]
    assert not unmarked, (
        'mark each block `<!-- runnable -->` or `<!-- covered-by: '
        'tests/path.py::test_name -->`:\n' + '\n'.join(unmarked))


def _defined_tests(path: str) -> set:
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_covered_by_targets_exist():
    missing = []
    for block in shell_blocks():
        for rel, name in _TARGET.findall(block.marker):
            path = osp.join(ROOT, rel)
            if not osp.isfile(path):
                missing.append(f'{block.where}: {rel} does not exist')
            elif not name.startswith('test_'):
                missing.append(f'{block.where}: {name} is not a test')
            elif name not in _defined_tests(path):
                missing.append(f'{block.where}: {rel} defines no {name}')
    assert not missing, '\n'.join(missing)


# not after ':' (`mmavcl::benchmarks/...` names a config inside the package;
# the tests that run those snippets resolve it)
_PATH = re.compile(r'(?<![\w/.$:-])((?:configs|tools|docs|tests|mmavcl|'
                   r'requirements|benchmarks)/[\w./{},*+-]*[\w*}])')


def _expand(path: str) -> List[str]:
    """``a/{x,y}_z`` -> ``a/x_z``, ``a/y_z`` (one level, as the docs use)."""
    m = re.search(r'\{([^{}]*)\}', path)
    if not m or '..' in m.group(1):
        return [path]
    return [c for alt in m.group(1).split(',')
            for c in _expand(path[:m.start()] + alt + path[m.end():])]


def test_paths_named_in_docs_exist():
    """Every repository path the docs name (configs/, tools/, docs/, tests/,
    mmavcl/, requirements/, benchmarks/) exists; ``{a,b}`` alternatives and
    ``*`` globs are expanded, ``{1..5}``-style ranges and ``$VAR`` tails are
    skipped."""
    import glob
    missing = []
    for path in doc_files():
        with open(path, encoding='utf-8') as f:
            for n, line in enumerate(f, 1):
                for found in _PATH.findall(line):
                    if '..' in found or '$' in line[line.find(found):][
                            len(found):len(found) + 1]:
                        continue
                    for cand in _expand(found.rstrip('.')):
                        if not glob.glob(osp.join(ROOT, cand)):
                            missing.append(
                                f'{osp.relpath(path, ROOT)}:{n}: {cand}')
    assert not missing, '\n'.join(missing)


def _esc50_csv() -> str:
    """The official ``meta/esc50.csv`` layout: 2 clips per fold."""
    rows = ['filename,fold,target,category,esc10,src_file,take']
    for fold in range(1, 6):
        for j, (target, cat) in enumerate([(0, 'dog'), (41, 'chainsaw')]):
            rows.append(f'{fold}-{100 + j}-A-{target}.wav,{fold},{target},'
                        f'{cat},{str(target == 0)},{100 + j},A')
    return '\n'.join(rows) + '\n'


@pytest.fixture(scope='module')
def seed_data(tmp_path_factory) -> str:
    data = tmp_path_factory.mktemp('docs_data') / 'data'
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    try:
        from make_toy_dataset import make_toy_dataset
    finally:
        sys.path.pop(0)
    make_toy_dataset(str(data / 'toy_av'), num_per_class=2, duration=2.0,
                     workers=1)
    (data / 'esc50' / 'meta').mkdir(parents=True)
    (data / 'esc50' / 'meta' / 'esc50.csv').write_text(_esc50_csv())
    return str(data)


def make_sandbox(dst: str, seed_data: str) -> str:
    os.makedirs(dst)
    for name in os.listdir(ROOT):
        if name not in _KEEP_OUT and not name.startswith('.'):
            os.symlink(osp.join(ROOT, name), osp.join(dst, name))
    shutil.copytree(seed_data, osp.join(dst, 'data'))
    return dst


def _env(tmp: str) -> Dict[str, str]:
    env = dict(os.environ)
    # `python` in the docs means the interpreter running the tests
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['MMAVCL_DOCS_TMP'] = tmp
    env.setdefault('OMP_NUM_THREADS', '1')
    # tools/dist_train.sh's default 29500 may be taken (another test
    # session, a socket in TIME_WAIT): EADDRINUSE in the rendezvous
    env.setdefault('PORT', str(free_port()))
    return env


@pytest.mark.parametrize('block', runnable_blocks(),
                         ids=[b.where for b in runnable_blocks()])
def test_runnable_block(block, seed_data, tmp_path):
    box = make_sandbox(str(tmp_path / 'repo'), seed_data)
    out = subprocess.run(['bash', '-euo', 'pipefail', '-c', block.script],
                         cwd=box, env=_env(str(tmp_path)),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (
        f'{block.where} failed:\n{block.script}\n--- stdout\n'
        f'{out.stdout[-2000:]}\n--- stderr\n{out.stderr[-4000:]}')
