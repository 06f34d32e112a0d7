"""Registries: parents, scope, lazy locations, and cross-scope builds."""
import subprocess
import sys

import pytest
from mmengine import registry as mmengine_registry

import mmavcl.registry as R


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (no module imported by hand)."""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.parametrize('name', R.__all__)
def test_every_registry_is_a_child_of_mmengine_root(name):
    reg = getattr(R, name)
    root = getattr(mmengine_registry, name)
    assert reg.parent is root
    assert reg.scope == 'mmavcl'
    assert reg._locations, f'{name} has no locations for lazy import'
    assert root.children['mmavcl'] is reg


def test_build_by_name_without_manual_imports():
    # Only mmengine's root registry and the top-level package are imported;
    # the registries' locations must import the defining modules.
    out = _run(
        'import mmavcl\n'
        'from mmengine.registry import MODELS, OPTIM_WRAPPERS, RUNNERS, '
        'init_default_scope\n'
        'init_default_scope("mmavcl")\n'
        'loss = MODELS.build(dict(type="InfoNCELoss", temperature=0.2))\n'
        'print(type(loss).__module__, loss.temperature)\n'
        'print(RUNNERS.get("mmavcl.AVRunner").__name__)\n')
    assert 'mmavcl.models.losses' in out and '0.2' in out
    assert 'AVRunner' in out


def test_mmavcl_prefix_builds_from_another_scope():
    out = _run(
        'from mmengine.registry import MODELS, init_default_scope\n'
        'init_default_scope("mmengine")\n'
        'm = MODELS.build(dict(type="mmavcl.InfoNCELoss"))\n'
        'print(type(m).__name__)\n')
    assert out.strip().endswith('InfoNCELoss')


def test_mmaction_scope_builds_mmavcl_types():
    pytest.importorskip('mmaction')
    out = _run(
        'import mmavcl\n'
        'from mmengine.registry import MODELS, TRANSFORMS, '
        'init_default_scope\n'
        'init_default_scope("mmaction")\n'
        'print(type(MODELS.build(dict(type="mmavcl.InfoNCELoss"))).__name__)\n'
        'print(type(TRANSFORMS.build(dict(type="mmavcl.PackAVInputs")))'
        '.__name__)\n'
        'print(type(MODELS.build(dict(type="ResNet3dSlowOnly", depth=50, '
        'pretrained=None))).__name__)\n')
    assert out.split() == ['InfoNCELoss', 'PackAVInputs', 'ResNet3dSlowOnly']


def test_mmavcl_scope_builds_mmaction_types():
    pytest.importorskip('mmaction')
    out = _run(
        'import mmavcl\n'
        'from mmengine.registry import MODELS, TRANSFORMS, '
        'init_default_scope\n'
        'init_default_scope("mmavcl")\n'
        'print(type(TRANSFORMS.build(dict(type="mmaction.DecordInit")))'
        '.__name__)\n'
        'print(type(MODELS.build(dict(type="mmaction.ResNet3dSlowOnly", '
        'depth=50, pretrained=None))).__name__)\n')
    assert out.split() == ['DecordInit', 'ResNet3dSlowOnly']


def test_imports_without_mmaction_installed():
    # A meta-path finder that hides mmaction simulates an environment
    # without the optional extra.
    out = _run(
        'import sys\n'
        'class Hide:\n'
        '    def find_spec(self, name, path=None, target=None):\n'
        '        if name == "mmaction" or name.startswith("mmaction."):\n'
        '            raise ModuleNotFoundError(name)\n'
        'sys.meta_path.insert(0, Hide())\n'
        'import mmavcl, mmavcl.models, mmavcl.datasets, mmavcl.engine\n'
        'import mmavcl.evaluation\n'
        'assert "mmaction" not in sys.modules\n'
        'print("ok")\n')
    assert out.strip() == 'ok'
