"""tools/publish_model.py: a training checkpoint in mmengine's layout (model,
optimizer after a real step, schedulers, message hub, mmavcl's resume state)
becomes ``state_dict`` + descriptive ``meta`` only, named with the first 8
hex digits of its own sha256, loadable weights-only and strictly."""
import hashlib
import os
import os.path as osp
import re

import pytest
import torch
from mmengine.logging import HistoryBuffer

from mmavcl.models.backbones import ResNet3d
from mmavcl.testing import load_script
from mmavcl.utils import UntrustedCheckpointError


@pytest.fixture
def training_ckpt(tmp_path):
    torch.manual_seed(0)
    model = ResNet3d(depth=18, base_channels=4, with_pool1=False,
                     with_pool2=False)
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 4, 16, 16)).mean().backward()
    optim.step()
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(
        meta=dict(epoch=3, iter=30, cfg="model = dict(type='VCLR')", seed=0,
                  experiment_name='vclr_toy_1', time='20261206_120000',
                  mmengine_version='0.10.7', dataset_meta={},
                  mmavcl_resume=dict(rng=[torch.get_rng_state()])),
        state_dict=model.state_dict(),
        optimizer=optim.state_dict(),
        param_schedulers=[dict(last_epoch=3)],
        message_hub=dict(log_scalars={'train/loss': buf}))
    path = str(tmp_path / 'work' / 'epoch_3.pth')
    os.makedirs(osp.dirname(path))
    torch.save(ckpt, path)
    return path, model


def test_publish_keeps_weights_and_meta_only(training_ckpt, tmp_path,
                                             capsys):
    path, model = training_ckpt
    out = str(tmp_path / 'zoo' / 'vclr_r3d-18_toy.pth')
    load_script('tools/publish_model.py').main([path, out, '--trust'])
    final, = [osp.join(tmp_path, 'zoo', f)
              for f in os.listdir(tmp_path / 'zoo')]
    assert f'wrote {final}' in capsys.readouterr().out
    m = re.fullmatch(r'vclr_r3d-18_toy-([0-9a-f]{8})\.pth',
                     osp.basename(final))
    assert m, final
    with open(final, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest()[:8] == m.group(1)

    pub = torch.load(final, weights_only=True)  # no pickled objects left
    assert set(pub) == {'state_dict', 'meta'}
    assert set(pub['meta']) == {'epoch', 'iter', 'cfg', 'seed',
                                'experiment_name', 'time',
                                'mmengine_version', 'dataset_meta'}
    assert pub['meta']['epoch'] == 3 and pub['meta']['iter'] == 30
    own = model.state_dict()
    assert set(pub['state_dict']) == set(own)
    for k, v in own.items():
        assert torch.equal(pub['state_dict'][k], v), k
    # fine-tuning starts from it: a strict load into a fresh model
    fresh = ResNet3d(depth=18, base_channels=4, with_pool1=False,
                     with_pool2=False)
    from mmengine.runner import load_checkpoint
    load_checkpoint(fresh, final, map_location='cpu', strict=True)
    assert torch.equal(fresh.conv1.conv.weight, model.conv1.conv.weight)
    assert os.path.getsize(final) < os.path.getsize(path)


def test_publish_refuses_untrusted_pickle_and_bad_names(training_ckpt,
                                                        tmp_path):
    path, _ = training_ckpt
    tool = load_script('tools/publish_model.py')
    out = str(tmp_path / 'x.pth')
    # the message hub's HistoryBuffer needs full unpickling
    with pytest.raises(UntrustedCheckpointError):
        tool.publish(path, out)
    with pytest.raises(ValueError, match='must end with .pth'):
        tool.publish(path, str(tmp_path / 'x.ckpt'), trust=True)
    assert os.listdir(tmp_path) == ['work']
    # a bare dict of tensors is taken as the state dict
    bare = str(tmp_path / 'bare.pth')
    torch.save({'w': torch.ones(2)}, bare)
    final = tool.publish(bare, out)
    pub = torch.load(final, weights_only=True)
    assert torch.equal(pub['state_dict']['w'], torch.ones(2))
    assert pub['meta'] == {}
