"""The "config" column of the fidelity tables in ``configs/*/README.md``
quotes the merged configs, so it cannot go stale silently.

A table starts after a marker line ``<!-- fidelity-config: PATH -->`` and
runs to the next marker or heading. Every backticked ``key.path = literal``
in it is checked against ``Config.fromfile(PATH)``; ``name[Type]`` in a
key path picks the element of list ``name`` whose ``type`` is ``Type``
(so a pipeline step is found by its type, not its position). Other
backticked text is left alone.
"""
import ast
import glob
import math
import os.path as osp
import re
from typing import Any, Dict, List, Tuple

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_MARKER = re.compile(r'<!--\s*fidelity-config:\s*(\S+)\s*-->')
_ASSIGN = re.compile(r'`([A-Za-z_][\w.]*(?:\[\w+\][\w.]*)*) = ([^`]+)`')
_STEP = re.compile(r'^(\w+)\[(\w+)\]$')
# each of these READMEs must carry at least one checked fidelity table
REQUIRED = ('configs/avtss/README.md', 'configs/ctrlaug/README.md',
            'configs/baselines/README.md', 'configs/glcl/README.md',
            'configs/vclr/README.md')
# a table with fewer checked cells than this has lost its config column
MIN_CHECKS = 8


def tables(readme: str) -> List[Tuple[str, List[Tuple[int, str, str]]]]:
    """``[(config path, [(line, key, literal), ...]), ...]`` of a README."""
    out: List[Tuple[str, List[Tuple[int, str, str]]]] = []
    with open(readme, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            m = _MARKER.search(line)
            if m:
                out.append((m.group(1), []))
            elif line.startswith('#'):
                out.append(('', []))        # a heading ends the table
            elif out and out[-1][0]:
                out[-1][1].extend((n, k, v.strip())
                                  for k, v in _ASSIGN.findall(line))
    return [t for t in out if t[0]]


def lookup(cfg: Any, key: str) -> Any:
    cur = cfg
    for part in key.split('.'):
        m = _STEP.match(part)
        if m:
            name, typ = m.groups()
            hits = [s for s in cur[name] if s.get('type') == typ]
            assert len(hits) == 1, f'{len(hits)} steps of type {typ}'
            cur = hits[0]
        else:
            cur = cur[part]
    return cur


def same(a: Any, b: Any) -> bool:
    """Equal up to tuple/list and float rounding."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and math.isclose(a, b, rel_tol=1e-9, abs_tol=0)
    return type(a) is type(b) and a == b


def readmes() -> List[str]:
    return sorted(glob.glob(osp.join(ROOT, 'configs', '*', 'README.md')))


def test_required_readmes_have_fidelity_tables():
    for rel in REQUIRED:
        found = tables(osp.join(ROOT, rel))
        assert found, f'{rel}: no <!-- fidelity-config: ... --> table'
        per_config: Dict[str, int] = {}
        for path, checks in found:  # a table may be split into sections
            per_config[path] = per_config.get(path, 0) + len(checks)
        for path, count in per_config.items():
            assert count >= MIN_CHECKS, \
                f'{rel} ({path}): only {count} checked config cells'


@pytest.mark.parametrize('readme', readmes(),
                         ids=lambda p: osp.relpath(p, ROOT))
def test_fidelity_config_column_matches_merged_config(readme):
    cache: Dict[str, Config] = {}
    wrong = []
    for path, checks in tables(readme):
        if path not in cache:
            assert osp.isfile(osp.join(ROOT, path)), f'{path} does not exist'
            cache[path] = Config.fromfile(osp.join(ROOT, path))
        for line, key, literal in checks:
            where = f'{osp.relpath(readme, ROOT)}:{line} {key}'
            try:
                expected = ast.literal_eval(literal)
            except (ValueError, SyntaxError):
                wrong.append(f'{where}: {literal!r} is not a literal')
                continue
            try:
                actual = lookup(cache[path], key)
            except (KeyError, IndexError, TypeError, AttributeError,
                    AssertionError) as e:
                wrong.append(f'{where}: not in {path} ({e!r})')
                continue
            if not same(actual, expected):
                wrong.append(f'{where}: README says {expected!r}, '
                             f'{path} has {actual!r}')
    assert not wrong, '\n'.join(wrong)


def test_checker_catches_a_stale_value(tmp_path):
    """The checker itself: a wrong value, a missing key and a pipeline step
    looked up by type."""
    cfg = tmp_path / 'c.py'
    cfg.write_text("model = dict(loss=dict(temperature=0.2))\n"
                   "pipeline = [dict(type='A', n=1), dict(type='B', n=2)]\n")
    readme = tmp_path / 'README.md'
    readme.write_text(
        f'<!-- fidelity-config: {cfg} -->\n'
        '| x | `model.loss.temperature = 0.1` | `pipeline[B].n = 2` |\n'
        '| y | `model.loss.tau = 0.2` |\n'
        '## next\n| z | `model.loss.temperature = 9` |\n')
    (path, checks), = tables(str(readme))
    assert [k for _, k, _ in checks] == [
        'model.loss.temperature', 'pipeline[B].n', 'model.loss.tau']
    c = Config.fromfile(path)
    assert not same(lookup(c, 'model.loss.temperature'), 0.1)
    assert same(lookup(c, 'pipeline[B].n'), 2)
    with pytest.raises(KeyError):
        lookup(c, 'model.loss.tau')
