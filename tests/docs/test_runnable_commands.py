"""Every fenced block marked ``<!-- runnable -->`` in README.md and docs/
runs as written from the repository root.

Blocks not marked runnable need a GPU cluster or a real dataset; the cheap
ones are marked, and ``make demo`` is covered by tests/tools/test_demo.py.
"""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import List, Tuple

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_BLOCK = re.compile(r'<!-- runnable -->\s*\n```(?:bash|sh)\n(.*?)```', re.S)


def runnable_blocks() -> List[Tuple[str, str]]:
    files = [osp.join(ROOT, 'README.md')] + sorted(
        osp.join(ROOT, 'docs', f) for f in os.listdir(osp.join(ROOT, 'docs'))
        if f.endswith('.md'))
    blocks = []
    for path in files:
        with open(path, encoding='utf-8') as f:
            for i, match in enumerate(_BLOCK.finditer(f.read())):
                blocks.append((f'{osp.relpath(path, ROOT)}#{i}',
                               match.group(1)))
    return blocks


def test_some_blocks_are_marked():
    assert len(runnable_blocks()) >= 1


@pytest.mark.parametrize('name,script', runnable_blocks(),
                         ids=[b[0] for b in runnable_blocks()])
def test_runnable_block(name, script, tmp_path):
    env = dict(os.environ)
    # `python` in the docs means the interpreter running the tests
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['MMAVCL_DOCS_TMP'] = str(tmp_path)
    out = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                         cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, (
        f'{name} failed:\n{script}\n--- stdout\n{out.stdout[-2000:]}'
        f'\n--- stderr\n{out.stderr[-4000:]}')
