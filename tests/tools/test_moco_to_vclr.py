"""tools/convert/moco_to_vclr.py: a MoCo-v2 checkpoint becomes VCLR's
initial weights as the official ``load_pretrained`` builds them (encoder_q's
trunk -> backbone, encoder_q's fc.{0,2} -> all four heads), loaded through
the TSN config's own load path (``model.init_cfg``).

The fake checkpoint has the released MoCo-v2 layout: ``epoch``, ``arch``,
``state_dict`` with ``module.encoder_q.*`` (torchvision ResNet-50 keys and
shapes, BN statistics included, and the 2048-2048-128 ``fc`` MLP),
``module.encoder_k.*`` and the queue. Query-encoder tensors are random and
distinct; key-encoder and queue tensors are constant (stored as expanded
scalars, so the file stays small), so taking the wrong encoder shows.
"""
import os.path as osp
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config

from mmavcl.models.backbones import TSNResNet2d
from mmavcl.registry import MODELS
from mmavcl.testing import load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TSN_CFG = osp.join(ROOT, 'configs', 'vclr',
                   'vclr_tsn-r50_8xb32-1x1x10-400e_k400.py')
HEADS = ('inter_neck', 'intra_neck', 'segment_neck', 'order_neck')


def fake_moco_v2(depth=50, feat=2048, dim=128, single_fc=False):
    g = torch.Generator().manual_seed(0)
    trunk = TSNResNet2d(depth=depth).state_dict()
    sd = OrderedDict()
    for k, v in trunk.items():
        if v.is_floating_point():
            sd[f'module.encoder_q.{k}'] = torch.randn(v.shape, generator=g)
        else:   # num_batches_tracked
            sd[f'module.encoder_q.{k}'] = torch.randint(
                1, 10**6, v.shape, generator=g)
    if single_fc:   # MoCo v1: one linear fc
        sd['module.encoder_q.fc.weight'] = torch.randn(dim, feat,
                                                       generator=g)
        sd['module.encoder_q.fc.bias'] = torch.randn(dim, generator=g)
    else:
        sd['module.encoder_q.fc.0.weight'] = torch.randn(feat, feat,
                                                         generator=g)
        sd['module.encoder_q.fc.0.bias'] = torch.randn(feat, generator=g)
        sd['module.encoder_q.fc.2.weight'] = torch.randn(dim, feat,
                                                         generator=g)
        sd['module.encoder_q.fc.2.bias'] = torch.randn(dim, generator=g)
    for k in [k for k in sd if k.startswith('module.encoder_q.')]:
        sd[k.replace('encoder_q', 'encoder_k')] = \
            torch.full((), 7.0, dtype=sd[k].dtype).expand(sd[k].shape)
    sd['module.queue'] = torch.full((), 0.5).expand(dim, 65536)
    sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    return dict(epoch=200, arch=f'resnet{depth}', state_dict=sd)


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('moco')
    moco = fake_moco_v2()
    src, out = str(tmp / 'moco_v2_200ep_pretrain.pth.tar'), str(
        tmp / 'vclr_init.pth')
    torch.save(moco, src)
    load_script('tools/convert/moco_to_vclr.py').main([src, out])
    return moco['state_dict'], out


def test_config_loads_trunk_and_fc_into_backbone_and_all_heads(converted):
    moco, out = converted
    cfg = Config.fromfile(TSN_CFG)
    # the config's load path is the model-level Pretrained init; the
    # backbone no longer loads MoCo's file on its own
    assert cfg.model.init_cfg.type == 'Pretrained'
    assert 'prefix' not in cfg.model.init_cfg
    assert cfg.model.backbone.get('init_cfg') is None
    cfg.model.init_cfg.checkpoint = out
    cfg.model.queue_len = 16   # the weights are the point, not the queues
    model = MODELS.build(cfg.model.to_dict())
    model.init_weights()

    q = 'module.encoder_q.'
    trunk = model.backbone.state_dict()
    assert len(trunk) == sum(1 for k in moco if k.startswith(q)) - 4
    for k, v in trunk.items():
        assert torch.equal(v, moco[q + k]), k
    for head in HEADS:
        mlp = getattr(model, head).mlp
        assert torch.equal(mlp[0].weight, moco[q + 'fc.0.weight']), head
        assert torch.equal(mlp[0].bias, moco[q + 'fc.0.bias']), head
        assert torch.equal(mlp[2].weight, moco[q + 'fc.2.weight']), head
        assert torch.equal(mlp[2].bias, moco[q + 'fc.2.bias']), head
    # four separate parameters (the heads train apart from each other)
    ptrs = {getattr(model, h).mlp[0].weight.data_ptr() for h in HEADS}
    assert len(ptrs) == 4

    # the momentum encoder starts as a copy of all of it, as the official
    # moment_update(model, model_ema, 0) after load_pretrained
    model.momentum_update(model.momentum_encoder, model._online())
    ema = model.momentum_encoder.module
    for k, v in ema.backbone.state_dict().items():
        assert torch.equal(v, moco[q + k]), k
    for head in HEADS:
        assert torch.equal(getattr(ema, head).mlp[2].weight,
                           moco[q + 'fc.2.weight']), head


def test_written_keys_and_dropped_parts(converted):
    moco, out = converted
    ck = torch.load(out, weights_only=True)
    sd = ck['state_dict']
    n_trunk = sum(1 for k in moco if k.startswith('module.encoder_q.')
                  and '.fc.' not in k)
    # torchvision's resnet50 state dict: 320 entries, 318 without fc
    assert sum(k.startswith('backbone.') for k in sd) == n_trunk == 318
    assert sorted(k for k in sd if not k.startswith('backbone.')) == sorted(
        f'{h}.mlp.{i}.{p}' for h in HEADS for i in (0, 2)
        for p in ('weight', 'bias'))
    assert not any('encoder_k' in k or 'queue' in k or 'fc' in k
                   for k in sd)


def test_refuses_moco_v1_and_a_wrong_depth(tmp_path):
    tool = load_script('tools/convert/moco_to_vclr.py')
    v1 = str(tmp_path / 'moco_v1.pth')
    torch.save(fake_moco_v2(depth=18, feat=512, single_fc=True), v1)
    with pytest.raises(KeyError, match='single linear fc'):
        tool.main([v1, str(tmp_path / 'x.pth')])
    r18 = str(tmp_path / 'moco_r18.pth')
    torch.save(fake_moco_v2(depth=18, feat=512), r18)
    with pytest.raises(ValueError, match=r'TSNResNet2d\(depth=50\)'):
        tool.main([r18, str(tmp_path / 'y.pth')])
    tool.main([r18, str(tmp_path / 'z.pth'), '--depth', '18'])
    assert osp.isfile(tmp_path / 'z.pth')
