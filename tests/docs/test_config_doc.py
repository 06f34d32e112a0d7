"""docs/config.md, "Runtime": the ``default_hooks`` / ``train_cfg`` block
quotes ``configs/_base_/``, so it cannot go stale silently (it had left
out ``DataReportHook`` and, before ``SafeLoggerHook``, listed the logger
among mmengine's)."""
import os.path as osp
import re

from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'config.md')
_BASE = osp.join(ROOT, 'configs', '_base_')


def _runtime_block() -> str:
    text = open(DOC, encoding='utf-8').read()
    section = text.split('## Runtime: runner, hooks and loops', 1)[1]
    match = re.search(r'```python\n(default_hooks = dict\(.*?)```', section,
                      re.S)
    assert match, f'{DOC}: no default_hooks block under "Runtime"'
    return match.group(1)


def test_runtime_block_quotes_the_base_configs():
    block = _runtime_block()
    # the block elides mmengine's own hooks with '...)' and names them in
    # the comment after it
    elided = re.search(r"^\s*\.\.\.\)\s*# and mmengine's (.*)$", block, re.M)
    assert elided, block
    mmengine_hooks = {k.strip() for k in elided.group(1).split(',')}
    namespace: dict = {}
    exec(block.replace(elided.group(0), ')'), namespace)  # noqa: S102
    doc_hooks = namespace['default_hooks']

    runtime = Config.fromfile(osp.join(_BASE, 'default_runtime.py'))
    hooks = runtime.default_hooks.to_dict()
    for key, value in doc_hooks.items():
        assert hooks.get(key) == value, (key, value, hooks.get(key))
    assert set(doc_hooks) | mmengine_hooks == set(hooks)
    assert not set(doc_hooks) & mmengine_hooks
    # what the comment calls mmengine's is mmengine's
    assert all(not hooks[k]['type'].startswith(('Safe', 'AV'))
               for k in mmengine_hooks)

    schedule = Config.fromfile(
        osp.join(_BASE, 'schedules', 'sgd_cosine_400e.py'))
    assert namespace['train_cfg'] == schedule.train_cfg.to_dict()
