"""docs/add_a_method.md: the tutorial's code runs as printed, and its loss
terms equal an InfoNCE written out by hand."""
import os.path as osp
import re

import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from mmavcl.testing import make_toy_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'add_a_method.md')


def _block(marker: str) -> str:
    text = open(DOC, encoding='utf-8').read()
    match = re.search(rf'<!-- {marker} -->\s*\n```python\n(.*?)```', text,
                      re.S)
    assert match, f'{DOC} has no block marked {marker}'
    return match.group(1)


def _nce(q, k, tau):
    """-1/2N sum_i [log softmax_j(q_i.k_j/t)_i + log softmax_j(k_i.q_j/t)_i]
    with explicit loops."""
    total = 0.0
    n = len(q)
    for i in range(n):
        for a, b in ((q, k), (k, q)):
            logits = torch.stack([a[i] @ b[j] / tau for j in range(n)])
            total = total - (logits[i] - torch.logsumexp(logits, 0))
    return total / (2 * n)


def test_tutorial_method_builds_trains_and_matches_reference(tmp_path):
    code = _block('tutorial-code')
    assert len(code.splitlines()) < 100
    namespace = {}
    exec(compile(code, 'docs/add_a_method.md', 'exec'), namespace)
    VVAV = namespace['VVAV']

    cfg_file = tmp_path / 'vvav_r3d-18_toy.py'
    cfg_file.write_text(_block('tutorial-config').replace(
        "custom_imports = dict(imports=['my_project.vvav'], "
        'allow_failed_imports=False)\n', ''))
    import mmavcl  # noqa: F401  (registers the mmavcl:: config prefix)
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.default_scope == 'mmavcl'
    init_default_scope('mmavcl')
    from mmavcl.models.algorithms import embed
    from mmavcl.registry import MODELS
    model = MODELS.build(cfg.model)
    assert isinstance(model, VVAV)

    torch.manual_seed(0)
    b = 4
    video = [torch.randn(b, 3, 4, 16, 16) for _ in range(2)]
    audio = [torch.randn(b, 1, 32, 40) for _ in range(2)]
    losses = model.loss({'video': video, 'audio': audio}, None)
    with torch.no_grad():
        v1, v2 = (embed(model.backbone, model.neck, v) for v in video)
        a1, a2 = (embed(model.audio_backbone, model.audio_neck, a)
                  for a in audio)
    # temperature and weight of each term come from its loss config
    vv, va = cfg.model.loss_vv, cfg.model.loss_va
    assert torch.allclose(
        losses['loss_vv'],
        vv.get('loss_weight', 1.0) * _nce(v1, v2, vv.temperature), atol=1e-4)
    ref_va = 0.5 * (_nce(v1, a1, va.temperature) +
                    _nce(v2, a2, va.temperature))
    assert torch.allclose(losses['loss_va'],
                          va.get('loss_weight', 1.0) * ref_va, atol=1e-4)
    # a weight set in the config scales its term alone
    heavier = MODELS.build(dict(cfg.model, loss_va=dict(va, loss_weight=3.0)))
    heavier.load_state_dict(model.state_dict())
    heavier_losses = heavier.loss({'video': video, 'audio': audio}, None)
    assert torch.allclose(heavier_losses['loss_va'],
                          3.0 * ref_va, atol=1e-4)
    assert torch.allclose(heavier_losses['loss_vv'], losses['loss_vv'])
    assert 0 <= float(losses['acc_vv']) <= 100

    # and it trains: the total loss on a fixed batch goes down
    opt = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    data = {'inputs': {'video': video, 'audio': audio}, 'data_samples': None}
    first = sum(v for k, v in model.loss(data['inputs'], None).items()
                if k.startswith('loss'))
    for _ in range(15):
        parsed = model.loss(data['inputs'], None)
        opt.update_params(sum(v for k, v in parsed.items()
                              if k.startswith('loss')))
    last = sum(v for k, v in model.loss(data['inputs'], None).items()
               if k.startswith('loss'))
    assert last < first


def test_tutorial_config_trains_through_tools_train(tmp_path):
    """The page's training command, as printed, from a checkout holding
    ``my_project/`` (2 iterations on a tiny toy set)."""
    import os
    import subprocess
    import sys
    text = open(DOC, encoding='utf-8').read()
    command = re.search(
        r'<!-- covered-by: tests/docs/test_add_a_method.py::'
        r'test_tutorial_config_trains_through_tools_train -->\s*\n```bash\n'
        r'(.*?)\n```', text, re.S).group(1).strip()
    assert command.startswith('PYTHONPATH=. python tools/train.py '
                              'my_project/vvav_r3d-18_toy.py'), command

    # a checkout (repository entries linked in) plus the tutorial's files
    box = tmp_path / 'repo'
    box.mkdir()
    for name in os.listdir(ROOT):
        if name not in ('data', 'work_dirs') and not name.startswith('.'):
            os.symlink(osp.join(ROOT, name), box / name)
    project = box / 'my_project'
    project.mkdir()
    (project / '__init__.py').write_text('')
    (project / 'vvav.py').write_text(_block('tutorial-code'))
    (project / 'vvav_r3d-18_toy.py').write_text(_block('tutorial-config'))
    make_toy_data(box)

    small = ('--cfg-options train_dataloader.num_workers=0 '
             'train_dataloader.batch_size=2 train_cfg.max_epochs=1 '
             'default_hooks.logger.interval=1')
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    out = subprocess.run(['bash', '-euo', 'pipefail', '-c',
                          f'{command} {small}'], cwd=box, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    log = out.stdout + out.stderr
    found = re.findall(r'Epoch\(train\) \[1\]\[(\d)/2\].*?loss_vv: ([\d.]+)'
                       r'\s+loss_va: ([\d.]+)', log)
    assert [f[0] for f in found] == ['1', '2'], log[-3000:]
    # the default work dir of tools/train.py: work_dirs/<config name>/
    assert (box / 'work_dirs' / 'vvav_r3d-18_toy' / 'epoch_1.pth').is_file()
