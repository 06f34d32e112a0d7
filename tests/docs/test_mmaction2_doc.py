"""docs/mmaction2.md: every Python block runs as printed, and the weight
routes it documents load (or, for ``init_cfg``, do not load) the exported
tensors into MMAction2 1.2.0's ``ResNet3d``, compared value by value."""
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict

import pytest
import torch
from mmengine.registry import DefaultScope

from mmavcl.testing import load_script, make_toy_data

pytest.importorskip('mmaction')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'mmaction2.md')
R3D18 = dict(depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
             with_pool2=False, temporal_strides=(1, 2, 2, 2))
# marker -> the test that runs that block
BLOCKS = {
    'mmavcl-prefix-config':
        'tests/tools/test_openmmlab_tools.py::'
        'test_mim_runs_an_external_config_with_mmavcl_bases',
    'mma-recognizer-with-mmavcl-backbone':
        'test_recognizer_with_mmavcl_backbone_trains_a_step',
    'mmavcl-config-with-mmaction-backbone':
        'test_mmavcl_config_builds_the_mmaction_backbone',
    'mma-finetune-config': 'test_mmaction2_finetunes_from_exported_weights',
    'mma-backbone-pretrained': 'test_backbone_pretrained_loads_the_export',
}



@pytest.fixture(autouse=True)
def _restore_default_scope():
    """These tests set mmaction as the default scope, as MMAction2 users
    do; later tests in the same process must not inherit it (mmavcl's
    'AVRunner' is not in mmaction's runner registry)."""
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict = saved


def doc_block(marker: str) -> str:
    text = open(DOC, encoding='utf-8').read()
    match = re.search(rf'<!-- {marker} -->\s*\n```python\n(.*?)```', text,
                      re.S)
    assert match, f'{DOC} has no python block marked <!-- {marker} -->'
    return match.group(1)


def test_every_python_block_is_run_by_a_test():
    lines = open(DOC, encoding='utf-8').read().splitlines()
    unmarked = []
    for i, line in enumerate(lines):
        if line.strip() == '```python':
            above = next(ln.strip() for ln in reversed(lines[:i])
                         if ln.strip())
            name = above[5:-4] if above.startswith('<!-- ') else ''
            if name not in BLOCKS:
                unmarked.append(f'docs/mmaction2.md:{i + 1} ({above!r})')
    assert not unmarked, unmarked
    with open(__file__, encoding='utf-8') as f:
        here = f.read()
    for name, test in BLOCKS.items():
        if '::' in test:
            path, fn = test.split('::')
            with open(osp.join(ROOT, path), encoding='utf-8') as f:
                assert f'def {fn}(' in f.read(), test
            with open(osp.join(ROOT, path), encoding='utf-8') as f:
                assert name in f.read(), f'{test} does not read {name}'
        else:
            assert f'def {test}(' in here, test


def _export(tmp_path) -> Dict[str, torch.Tensor]:
    """An mmavcl pretraining checkpoint (an R3D-18 away from its init
    values, plus a neck) through tools/convert/to_mmaction2.py, in
    ``tmp_path``; returns the backbone's tensors."""
    from mmavcl.models.backbones import ResNet3d
    torch.manual_seed(0)
    net = ResNet3d(**R3D18)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    state = {'backbone.' + k: v for k, v in net.state_dict().items()}
    state['neck.fc.weight'] = torch.randn(16, 512)
    torch.save(dict(meta=dict(epoch=1), state_dict=state),
               str(tmp_path / 'epoch_1.pth'))
    load_script('tools/convert/to_mmaction2.py').main(
        [str(tmp_path / 'epoch_1.pth'), str(tmp_path / 'vclr_r3d18.pth')])
    return net.state_dict()


def _cfg_file(tmp_path, marker: str):
    from mmengine.config import Config
    code = doc_block(marker)
    name = code.splitlines()[0].lstrip('# ').split()[0]
    (tmp_path / name).write_text(code)
    return Config.fromfile(str(tmp_path / name))


def test_recognizer_with_mmavcl_backbone_trains_a_step(tmp_path):
    from mmaction.registry import MODELS
    from mmaction.structures import ActionDataSample
    from mmengine.optim import OptimWrapper
    from mmengine.registry import init_default_scope

    from mmavcl.models.backbones import ResNet2Plus1d
    cfg = _cfg_file(tmp_path, 'mma-recognizer-with-mmavcl-backbone')
    assert cfg.custom_imports.imports == ['mmavcl']
    init_default_scope('mmaction')
    model = MODELS.build(cfg.model)
    assert type(model).__module__.startswith('mmaction.')
    assert isinstance(model.backbone, ResNet2Plus1d)
    torch.manual_seed(0)
    data = dict(inputs=[torch.randint(0, 255, (1, 3, 8, 56, 56),
                                      dtype=torch.uint8) for _ in range(2)],
                data_samples=[ActionDataSample().set_gt_label(i)
                              for i in (3, 7)])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    first = next(model.backbone.parameters())
    before = first.detach().clone()
    losses = model.train_step(data, optim)
    assert torch.isfinite(losses['loss_cls'])
    assert not torch.equal(before, first)


def test_mmavcl_config_builds_the_mmaction_backbone():
    from mmaction.models.backbones import ResNet3dSlowOnly
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmavcl.registry import MODELS
    cfg = Config.fromstring(
        doc_block('mmavcl-config-with-mmaction-backbone'), '.py')
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    assert type(model).__module__.startswith('mmavcl.')
    assert isinstance(model.backbone, ResNet3dSlowOnly)
    feat = model.backbone(torch.randn(1, 3, 4, 32, 32))
    assert feat.shape == (1, 2048, 4, 1, 1)


def test_backbone_pretrained_loads_the_export(tmp_path, monkeypatch):
    src = _export(tmp_path)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(doc_block('mma-backbone-pretrained'), DOC, 'exec'), scope)
    backbone = scope['backbone']
    assert type(backbone).__module__.startswith('mmaction.')
    got = backbone.state_dict()
    assert set(got) == set(src)
    for k, v in src.items():
        assert torch.equal(got[k], v), k


def test_init_cfg_pretrained_is_ignored_by_mmaction_resnet3d(tmp_path):
    """What the doc warns about: the same file through ``init_cfg`` leaves
    every conv at its random init."""
    import mmavcl  # noqa: F401
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    src = _export(tmp_path)
    init_default_scope('mmaction')
    backbone = MODELS.build(dict(
        type='ResNet3d', pretrained=None, pretrained2d=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint=str(tmp_path / 'vclr_r3d18_bare.pth')),
        **R3D18))
    backbone.init_weights()
    got = backbone.state_dict()
    convs = [k for k in src if k.endswith('conv.weight')]
    assert len(convs) == 20
    assert not any(torch.equal(got[k], src[k]) for k in convs)


def test_mmaction2_finetunes_from_exported_weights(tmp_path):
    """The doc's MMAction2 config, trained one epoch by MMAction2's own
    tools/train.py with ``load_from=`` the export: every backbone key is
    found in the file (only the head is reported missing)."""
    _export(tmp_path)
    make_toy_data(tmp_path)
    (tmp_path / 'my_r3d18_toy.py').write_text(
        doc_block('mma-finetune-config'))
    import mmaction
    train = osp.join(osp.dirname(mmaction.__file__), '.mim', 'tools',
                     'train.py')
    out = subprocess.run(
        [sys.executable, train, 'my_r3d18_toy.py', '--cfg-options',
         'load_from=vclr_r3d18.pth'], cwd=str(tmp_path),
        capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    assert 'Load checkpoint from vclr_r3d18.pth' in log
    missing = re.search(r'missing keys in source state_dict: (.*)', log)
    assert missing, log[-3000:]
    assert sorted(missing.group(1).strip().split(', ')) == [
        'cls_head.fc_cls.bias', 'cls_head.fc_cls.weight']
    assert 'Epoch(train) [1][2/2]' in log
    assert osp.isfile(tmp_path / 'work_dirs' / 'my_r3d18_toy' /
                      'epoch_1.pth')
