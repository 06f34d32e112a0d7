"""``_base_ = 'mmavcl::...'`` from a project outside the checkout, with the
package installed the way ``make`` installs it (editable, PEP 660), run the
way a user runs it: another working directory, no ``PYTHONPATH``."""
import os
import os.path as osp
import subprocess
import sys

import mmavcl

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = """_base_ = [
    'mmavcl::_base_/default_runtime.py',
    'mmavcl::_base_/datasets/toy_av.py',
]
train_dataloader = dict(batch_size=3)
"""


def _run(args, cwd):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_external_config_inherits_mmavcl_bases(tmp_path):
    (tmp_path / 'my_cfg.py').write_text(CONFIG)
    out = _run([osp.join(ROOT, 'tools', 'analysis', 'print_config.py'),
                'my_cfg.py'], cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "type='AVVideoDataset'" in out.stdout
    assert 'batch_size=3' in out.stdout
    assert "_scope_='mmavcl'" in out.stdout


def test_lookup_falls_back_only_when_the_installed_path_is_missing():
    import mmengine.config.config as config_module
    path = config_module.get_installed_path('mmavcl')
    assert osp.samefile(path, osp.dirname(mmavcl.__file__))
    assert osp.isfile(osp.join(path, '.mim', 'model-index.yml'))
    # an ordinary (non-editable) install keeps mmengine's answer
    import mmengine
    assert osp.samefile(config_module.get_installed_path('mmengine'),
                        osp.dirname(mmengine.__file__))
