"""The key-encoder arguments every MoCo-style method takes (``queue_len``,
``feat_dim``, ``momentum``, ``end_momentum``, ``shuffle_bn``) are read in
one place, ``BaseSSLAlgorithm.init_key_encoders``: set on a shipped toy
config they reach every momentum encoder and queue of the method, and a
misspelt or impossible one is refused with a message that names it."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmavcl.models.utils import FeatureQueue, MomentumEncoder
from mmavcl.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(__file__))))

# toy config -> (momentum encoders, queues) the method must build
TOYS = {
    'baselines/moco_r3d-18_toy.py': (['momentum_encoder'], ['queue']),
    'vclr/vclr_r3d-18_toy.py':
    (['momentum_encoder'], ['queue_inter', 'queue_segment']),
    'ctrlaug/ctrlaug_r3d-18_toy.py': (['momentum_encoder'], ['queue']),
    'avtss/avtss_r3d-18_toy.py':
    (['momentum_video', 'momentum_audio'], ['queue_video', 'queue_audio']),
}


def toy_model_cfg(name: str, **changes) -> dict:
    cfg = Config.fromfile(osp.join(ROOT, 'configs', name)).model.to_dict()
    cfg.update(changes)
    return cfg


def children_of_type(model, cls) -> list:
    return [n for n, m in model.named_children() if isinstance(m, cls)]


@pytest.mark.parametrize('name', sorted(TOYS))
def test_key_encoder_args_reach_every_encoder_and_queue(name):
    encoders, queues = TOYS[name]
    feat_dim = toy_model_cfg(name)['feat_dim']
    model = MODELS.build(toy_model_cfg(
        name, queue_len=23, momentum=0.5, end_momentum=0.75,
        shuffle_bn=False))
    assert children_of_type(model, MomentumEncoder) == encoders
    assert children_of_type(model, FeatureQueue) == queues
    for enc in encoders:
        assert getattr(model, enc).base_momentum == 0.5
        assert getattr(model, enc).end_momentum == 0.75
    for q in queues:
        assert tuple(getattr(model, q).queue.shape) == (23, feat_dim)
    assert model.shuffle_bn is False


def test_vclr_queues_start_uniform_and_the_others_normal():
    vclr = MODELS.build(toy_model_cfg('vclr/vclr_r3d-18_toy.py',
                                      queue_init='normal'))
    # 'normal' rows are unit vectors; VCLR's default 'uniform' rows are not
    norms = vclr.queue_inter.queue.norm(dim=1)
    assert (norms - 1).abs().max() < 1e-5
    cfg = toy_model_cfg('vclr/vclr_r3d-18_toy.py')
    cfg.pop('queue_init')
    norms = MODELS.build(cfg).queue_inter.queue.norm(dim=1)
    assert (norms - 1).abs().max() > 0.1


@pytest.mark.parametrize('name', sorted(TOYS))
def test_misspelt_key_encoder_arg_is_named(name):
    with pytest.raises(TypeError, match='queue_length'):
        MODELS.build(toy_model_cfg(name, queue_length=8))


@pytest.mark.parametrize('name', sorted(TOYS))
def test_queue_len_zero(name):
    cfg = toy_model_cfg(name, queue_len=0)
    if name.startswith('baselines/moco'):  # the one queue you may switch off
        assert MODELS.build(cfg).queue is None
        return
    method = cfg['type']
    with pytest.raises(ValueError, match=f'{method} needs queue_len > 0'):
        MODELS.build(cfg)
