"""tools/convert/to_mmaction2.py: keep the backbone, drop the rest, and load
into MMAction2's Recognizer3D with zero missing backbone keys."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer

from mmavcl.models.backbones import ResNet3d
from mmavcl.models.utils import FeatureQueue, MomentumEncoder
from mmavcl.testing import load_script
from mmavcl.utils import UntrustedCheckpointError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


R3D18 = dict(depth=18, conv1_kernel=(3, 7, 7), with_pool1=False,
             with_pool2=False, temporal_strides=(1, 2, 2, 2))


class _SSLLike(nn.Module):
    """What a MoCo-style pretraining model holds: online backbone + neck,
    their momentum copy and a feature queue."""

    def __init__(self):
        super().__init__()
        self.backbone = ResNet3d(**R3D18)
        self.neck = nn.Linear(512, 16)
        self.momentum_encoder = MomentumEncoder(
            nn.ModuleDict(dict(backbone=self.backbone, neck=self.neck)))
        self.queue = FeatureQueue(32, 16)


@pytest.fixture(scope='module')
def ssl_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = _SSLLike()
    with torch.no_grad():
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # not the init values
    path = str(tmp_path_factory.mktemp('ssl') / 'epoch_1.pth')
    buf = HistoryBuffer()
    buf.update(1.0)
    # the shape of an mmengine runner checkpoint: logging state needs full
    # unpickling
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict(),
                    message_hub=dict(log_scalars={'train/loss': buf})), path)
    return path, model


def test_refuses_untrusted_pickle_then_converts_with_trust(ssl_ckpt, tmp_path,
                                                           capsys):
    path, model = ssl_ckpt
    tool = load_script('tools/convert/to_mmaction2.py')
    out = str(tmp_path / 'r3d18_mmaction.pth')
    with pytest.raises(UntrustedCheckpointError):
        tool.main([path, out])
    tool.main([path, out, '--trust'])
    printed = capsys.readouterr().out
    assert 'dropped' in printed and 'momentum_encoder' in printed
    assert 'queue' in printed and 'neck' in printed
    prefixed = torch.load(out, weights_only=True)
    bare = torch.load(str(tmp_path / 'r3d18_mmaction_bare.pth'),
                      weights_only=True)
    own = model.backbone.state_dict()
    assert set(bare) == set(own)
    assert set(prefixed['state_dict']) == {'backbone.' + k for k in own}
    for k, v in own.items():
        assert torch.equal(bare[k], v)
        assert torch.equal(prefixed['state_dict']['backbone.' + k], v)
    # the export itself loads without trusting anything
    from mmavcl.utils import safe_torch_load
    assert safe_torch_load(out)['meta']['backbone_key'] == 'backbone'


def test_split_backbone_and_errors(tmp_path):
    tool = load_script('tools/convert/to_mmaction2.py')
    sd = {'module.backbone.a': torch.ones(1), 'audio_backbone.b':
          torch.ones(2), 'head.fc.weight': torch.ones(3)}
    bare, dropped = tool.split_backbone(sd, 'audio_backbone')
    assert list(bare) == ['b'] and sorted(dropped) == ['backbone.a',
                                                       'head.fc.weight']
    p = str(tmp_path / 'x.pth')
    torch.save(sd, p)
    with pytest.raises(KeyError, match='no `video_backbone.` keys'):
        tool.main([p, str(tmp_path / 'o.pth'), '--backbone-key',
                   'video_backbone'])


def test_export_loads_into_mmaction2_recognizer3d(ssl_ckpt, tmp_path):
    from mmavcl.utils import patch_mmaction_wheel
    if not patch_mmaction_wheel():
        pytest.skip('mmaction2 (optional extra) is not installed')
    try:
        import mmaction.models  # noqa: F401
        from mmaction.registry import MODELS as MMA_MODELS
    except ImportError as err:
        pytest.skip(f'mmaction.models not importable: {err}')
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint
    path, model = ssl_ckpt
    out = str(tmp_path / 'exported.pth')
    load_script('tools/convert/to_mmaction2.py').main([path, out, '--trust'])
    cfg = dict(
        type='Recognizer3D',
        backbone=dict(type='ResNet3d', pretrained=None, pretrained2d=False,
                      norm_eval=False, **R3D18),
        cls_head=dict(type='I3DHead', num_classes=101, in_channels=512),
        data_preprocessor=dict(type='ActionDataPreprocessor',
                               format_shape='NCTHW'))
    with DefaultScope.overwrite_default_scope('mmaction'):
        rec = MMA_MODELS.build(cfg)
    # what `load_from=` does: a non-strict load of the whole recognizer
    ckpt = load_checkpoint(rec, out, map_location='cpu', strict=False)
    own = rec.state_dict()
    backbone_keys = [k for k in own if k.startswith('backbone.')]
    missing = [k for k in backbone_keys if k not in ckpt['state_dict']]
    assert backbone_keys and missing == []
    for k in backbone_keys:
        assert torch.equal(own[k], model.backbone.state_dict()[k[9:]]), k
    # the bare file fits the MMAction2 backbone exactly
    bare = torch.load(str(tmp_path / 'exported_bare.pth'), weights_only=True)
    rec.backbone.load_state_dict(bare, strict=True)


@pytest.mark.parametrize('layout', ['glcl', 'mmaction2'])
def test_glcl_released_block_is_refused_unless_allowed(layout, tmp_path):
    """GLCL's 3x3x3 + 1x1x1 block keeps MMAction2's key names but fits no
    MMAction2 backbone: refused with the reason, written on request. Our
    two-conv variant and MMAction2's own blocks pass."""
    from mmavcl.models.backbones import TwoPathwayResNet3d
    tool = load_script('tools/convert/to_mmaction2.py')
    net = TwoPathwayResNet3d(block_layout=layout, slow_channels=8,
                             beta=1 / 4)
    src = str(tmp_path / 'glcl.pth')
    torch.save({'state_dict': {'backbone.' + k: v for k, v in
                               net.state_dict().items()}}, src)
    out = str(tmp_path / 'slow.pth')
    args = [src, out, '--backbone-key', 'backbone.slow_path']
    if layout == 'glcl':
        assert len(tool.glcl_blocks(net.state_dict())) == 16
        with pytest.raises(ValueError, match="e.g. layer1.0.*GLCL's"):
            tool.main(args)
        assert not osp.exists(out)
        tool.main(args + ['--allow-glcl-blocks'])
    else:
        assert tool.glcl_blocks(net.state_dict()) == []
        tool.main(args)
    bare = torch.load(str(tmp_path / 'slow_bare.pth'), weights_only=True)
    net.slow_path.load_state_dict(bare, strict=True)
    # MMAction2's '3x3x3'-style bottlenecks also hold a 1x1x1 and a 3x3x3
    # conv, but have a conv3
    r50 = ResNet3d(depth=50, base_channels=8, inflate_style='3x3x3')
    assert r50.layer1[0].conv2.conv.kernel_size == (3, 3, 3)
    assert tool.glcl_blocks(r50.state_dict()) == []
