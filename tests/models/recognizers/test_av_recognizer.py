"""AVRecognizer: multi-view averaging, chunking, linear-probe freezing and
pretrained loading, against per-view references computed separately."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmavcl.models.recognizers import AVRecognizer
from mmavcl.registry import MODELS
from mmavcl.structures import AVDataSample


def _tiny_backbone():
    """ResNet3d from the blocks room when it is there, else a stand-in."""
    try:
        from mmavcl.models.backbones import ResNet3d  # noqa: F401
        return dict(type='ResNet3d', depth=18, base_channels=4,
                    num_stages=1, out_indices=(0, ), stage_blocks=(1, ),
                    conv1_kernel=(3, 3, 3), with_pool2=False), 4
    except ImportError:
        return dict(type='_TinyConvBN3d'), 4


@MODELS.register_module(name='_TinyConvBN3d', force=True)
class _TinyConvBN3d(nn.Module):
    """Private stand-in: conv + BN + ReLU, (B, 3, T, H, W) -> (B, 4, ...)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm3d(4)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


PRE = dict(type='BaseDataPreprocessor')


def _model(**kw):
    backbone, ch = _tiny_backbone()
    cfg = dict(type='AVRecognizer', backbone=backbone,
               cls_head=dict(type='ClsHead', num_classes=5, in_channels=ch,
                             dropout_ratio=0.0),
               data_preprocessor=PRE)
    cfg.update(kw)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _samples(labels):
    return [AVDataSample(metainfo=dict(video_id=f'v{i}.mp4')).set_gt_label(y)
            for i, y in enumerate(labels)]


def test_multi_view_average_matches_per_view_loop():
    torch.manual_seed(0)
    model = _model(test_cfg=dict(max_testing_views=2)).eval()
    views = [torch.randn(2, 3, 4, 8, 8) for _ in range(3)]  # B=2, V=3
    out = model({'video': views}, _samples([1, 2]), mode='predict')
    with torch.no_grad():
        for b in range(2):
            probs = [F.softmax(model.cls_head(model.backbone(v[b:b + 1])), 1)
                     for v in views]
            ref = torch.cat(probs).mean(0)
            assert torch.allclose(out[b].pred_score, ref, atol=1e-5)
            assert torch.allclose(out[b].clip_scores, torch.cat(probs),
                                  atol=1e-5)
    # chunking the 6 views by 1, 4 or not at all gives the same answer
    for size in (1, 4, None):
        model.test_cfg['max_testing_views'] = size
        again = model({'video': views}, _samples([1, 2]), mode='predict')
        assert torch.allclose(again[0].pred_score, out[0].pred_score,
                              atol=1e-6)
    logits = model({'video': views}, mode='tensor')
    assert logits.shape == (6, 5)


def test_feature_mode_returns_pooled_views():
    torch.manual_seed(0)
    model = _model(cls_head=None).eval()
    views = [torch.randn(2, 3, 4, 8, 8) for _ in range(2)]
    out = model({'video': views}, _samples([0, 1]), mode='predict')
    with torch.no_grad():
        ref = model.backbone(views[1][1:2]).flatten(2).mean(2)[0]
    assert torch.allclose(out[1].features[1], ref, atol=1e-6)
    assert 'pred_score' not in out[1]
    with pytest.raises(RuntimeError, match='feature extractor'):
        model({'video': views}, _samples([0, 1]), mode='loss')
    with pytest.raises(KeyError, match="modality='video'"):
        model({'audio': views}, mode='tensor')


def test_linear_probe_keeps_backbone_and_bn_stats():
    torch.manual_seed(0)
    model = _model(frozen=True)
    model.train()
    bns = [m for m in model.backbone.modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert bns and not any(m.training for m in bns)
    assert model.cls_head.training
    before = copy.deepcopy(model.backbone.state_dict())
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.5)
    head_before = model.cls_head.fc.weight.clone()
    for _ in range(2):
        x = [torch.randn(3, 3, 4, 8, 8) * 3 + 1]
        losses = model({'video': x}, _samples([0, 1, 4]), mode='loss')
        opt.zero_grad()
        losses['loss_cls'].backward()
        opt.step()
    after = model.backbone.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]), k  # weights and running stats
    assert all(p.grad is None for p in model.backbone.parameters())
    assert not torch.equal(head_before, model.cls_head.fc.weight)
    # fine-tuning: the same step changes the backbone and its BN stats
    ft = _model(frozen=False).train()
    before = copy.deepcopy(ft.backbone.state_dict())
    loss = ft({'video': x}, _samples([0, 1, 4]), mode='loss')['loss_cls']
    loss.backward()
    assert any(not torch.equal(v, ft.backbone.state_dict()[k])
               for k, v in before.items() if 'running' in k)


def test_pretrained_loading(tmp_path):
    torch.manual_seed(0)
    src = _model()
    sd = {f'backbone.{k}': v.clone() + 1.0
          for k, v in src.backbone.state_dict().items()}
    # what an SSL checkpoint also carries: gone after loading
    sd['momentum_encoder.backbone.conv.weight'] = torch.zeros(1)
    sd['queue'] = torch.zeros(4, 2)
    path = str(tmp_path / 'ssl.pth')
    torch.save({'state_dict': sd, 'meta': {'epoch': 1}}, path)
    model = _model(frozen=True, pretrained=path)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, sd['backbone.' + k]), k
    # bare backbone weights load with the default prefix too
    bare = str(tmp_path / 'bare.pth')
    torch.save({k[9:]: v for k, v in sd.items()
                if k.startswith('backbone.')}, bare)
    model = _model(pretrained=bare)
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, sd['backbone.' + k]), k
    # the audio backbone of an SSL file is named by its prefix
    with pytest.raises(KeyError, match="no key starts with 'audio_backbone.'"):
        _model(pretrained=path, pretrained_prefix='audio_backbone.')
    partial = dict(sd)
    partial.pop(next(k for k in sd if k.startswith('backbone.')))
    torch.save(partial, str(tmp_path / 'partial.pth'))
    with pytest.raises(KeyError, match='backbone key.s. missing'):
        _model(pretrained=str(tmp_path / 'partial.pth'))


@MODELS.register_module(name='_TwoMaps', force=True)
class _TwoMaps(nn.Module):
    """Stand-in two-pathway backbone: two maps of different widths."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv3d(3, 2, 1)
        self.b = nn.Conv3d(3, 3, 1)

    def forward(self, x):
        return self.a(x), self.b(x[:, :, ::2])


def test_concat_of_two_pathways():
    model = _model(backbone=dict(type='_TwoMaps'), backbone_outputs='concat',
                   cls_head=dict(type='ClsHead', num_classes=3,
                                 in_channels=5, dropout_ratio=0.0)).eval()
    x = torch.randn(2, 3, 4, 6, 6)
    with torch.no_grad():
        a, b = model.backbone(x)
        ref = torch.cat([a.mean((2, 3, 4)), b.mean((2, 3, 4))], 1)
        feats = model.pooled_features(x)
    assert torch.allclose(feats, ref, atol=1e-6)
    with pytest.raises(ValueError, match='backbone_outputs'):
        _model(backbone_outputs='sum')
