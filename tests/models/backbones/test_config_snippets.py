"""The backbone snippets under configs/_base_/models/ parse and build."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmavcl.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', '_base_',
                'models')
SNIPPETS = {
    'backbone_r3d18.py': ('r3d18_backbone', 'r3d18_feat_dim'),
    'backbone_r2plus1d18.py': ('r2plus1d18_backbone', 'r2plus1d18_feat_dim'),
    'backbone_slowonly_r50.py': ('slowonly_r50_backbone',
                                 'slowonly_r50_feat_dim'),
    'backbone_tsn_r50.py': ('tsn_r50_backbone', 'tsn_r50_feat_dim'),
    'backbone_s3dg.py': ('s3dg_backbone', 's3dg_feat_dim'),
    'backbone_audio_resnet2d18.py': ('audio_r2d18_backbone',
                                     'audio_r2d18_feat_dim'),
    'backbone_glcl.py': ('glcl_audio_backbone', 'glcl_audio_feat_dim'),
}


@pytest.mark.parametrize('name', sorted(SNIPPETS))
def test_snippet_builds_with_stated_feature_dim(name):
    cfg = Config.fromfile(osp.join(ROOT, name))
    key, dim_key = SNIPPETS[name]
    model = MODELS.build(cfg[key])
    assert model.feat_dim == cfg[dim_key]
    if name == 'backbone_glcl.py':
        video = MODELS.build(cfg.glcl_video_backbone)
        assert video.out_channels == tuple(cfg.glcl_video_feat_dims)


def test_data_preprocessor_snippet_builds():
    """Every preprocessor of configs/_base_/models/data_preprocessors.py
    builds, and the ImageNet statistics it names are the preprocessor's."""
    cfg = Config.fromfile(osp.join(ROOT, 'data_preprocessors.py'))
    names = [k for k in cfg if k.endswith('_preprocessor')]
    assert sorted(names) == ['toy_av_preprocessor', 'toy_video_preprocessor',
                             'video_preprocessor']
    for name in names:
        pre = MODELS.build(cfg[name])
        assert pre.mean.flatten().tolist() == pytest.approx(
            list(cfg.imagenet_mean)), name
    built = MODELS.build(dict(cfg.video_preprocessor,
                              audio_cfg=cfg.log_mel_128))
    assert built.audio_cfg['n_mels'] == 128
