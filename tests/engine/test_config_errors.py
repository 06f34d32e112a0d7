"""Configuration mistakes explained through the real runner: an unknown
``type`` anywhere names its key path and suggests the registered name; a
train dataloader with no batch says why instead of mmengine's
``epoch_length must be a positive integer``."""
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

import engine_toys as T
from mmavcl.engine.runner import check_train_batches
from mmavcl.registry import UnknownTypeError, explain_unknown_types
from mmavcl.testing import load_script


def _backbone(cfg):
    cfg.model = dict(type='AVRecognizer', cls_head=None,
                     backbone=dict(type='ResNet3D', depth=18))


def _hook(cfg):
    cfg.custom_hooks = [dict(type='SlowHook', seconds=0.0),
                        dict(type='RecordIndiceHook')]


def _dataset(cfg):
    cfg.train_dataloader.dataset.type = 'ToyVector'


def _optimizer(cfg):
    cfg.optim_wrapper.optimizer.type = 'SGDD'


def _scheduler(cfg):
    cfg.param_scheduler[1].type = 'CosineAnnealingLr'


def _runner(cfg):
    cfg.runner_type = 'AVRuner'


# (config change, key path, wrong name, suggested name, needs train())
CASES = {
    'model.backbone': (_backbone, 'model.backbone', 'ResNet3D', 'ResNet3d',
                       False),
    'hook': (_hook, 'custom_hooks[1]', 'RecordIndiceHook',
             'RecordIndicesHook', False),
    'dataset': (_dataset, 'train_dataloader.dataset', 'ToyVector',
                'ToyVectors', True),
    'optimizer': (_optimizer, 'optim_wrapper.optimizer', 'SGDD', 'SGD',
                  True),
    'param_scheduler': (_scheduler, 'param_scheduler[1]',
                        'CosineAnnealingLr', 'CosineAnnealingLR', True),
    'runner_type': (_runner, 'runner_type', 'AVRuner', 'AVRunner', False),
}


@pytest.mark.parametrize('case', list(CASES))
def test_unknown_type_names_the_key_and_suggests(tmp_path, case):
    change, path, wrong, right, at_train = CASES[case]
    cfg = T.toy_cfg(str(tmp_path / 'work'), by_epoch=False, max_iters=1)
    change(cfg)
    with pytest.raises(UnknownTypeError) as err:
        runner = T.build_runner(cfg)
        assert at_train, 'built without error'
        runner.train()
    msg = str(err.value)
    assert msg.startswith(f'{path}: unknown type {wrong!r}'), msg
    assert f'did you mean {right!r}' in msg, msg
    assert isinstance(err.value, KeyError)  # old `except KeyError` works


def test_unknown_type_through_tools_train(tmp_path):
    cfg = T.toy_cfg('unused', by_epoch=False, max_iters=1)
    _backbone(cfg)
    config = T.write_cfg(str(tmp_path / 'typo.py'), cfg)
    with pytest.raises(UnknownTypeError) as err:
        load_script('tools/train.py').main(
            [config, '--work-dir', str(tmp_path / 'work')])
    assert str(err.value).startswith(
        "model.backbone: unknown type 'ResNet3D' (not in the mmavcl::model "
        "registry); did you mean 'ResNet3d'"), str(err.value)


def test_unrelated_key_errors_pass_through_and_error_pickles():
    original = KeyError('no such key')
    with pytest.raises(KeyError) as err:
        with explain_unknown_types({'model': {'type': 'X'}}):
            raise original
    assert err.value is original
    e = UnknownTypeError('ResNet3D', 'mmavcl::model', ['ResNet3d'],
                         ['model.backbone'])
    back = pickle.loads(pickle.dumps(e))  # crosses process boundaries
    assert str(back) == str(e) and back.paths == ['model.backbone']
    # nothing close: the message says where custom classes come from
    with pytest.raises(UnknownTypeError, match='custom_imports'):
        with explain_unknown_types():
            from mmavcl.registry import MODELS
            MODELS.build(dict(type='Qwxyz'))


def test_train_loader_without_a_batch_is_explained(tmp_path):
    # the reported symptom: an epoch-based scheduler converted to
    # iterations on a loader of length 0
    cfg = T.toy_cfg(str(tmp_path / 'work'), n=3, batch_size=4)
    cfg.train_dataloader.drop_last = True
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True,
                                T_max=2, convert_to_iter_based=True)]
    with pytest.raises(ValueError) as err:
        T.build_runner(cfg).train()
    msg = str(err.value)
    assert 'epoch_length' not in msg
    for part in ('ToyVectors) has 3 sample(s)', 'batch_size=4',
                 'drop_last=True', 'batch_size to at most 3',
                 'drop_last=False'):
        assert part in msg, msg


def test_no_batch_message_counts_ranks_and_spares_working_loaders():
    data = list(torch.arange(5.))
    # 2 ranks: each gets ceil(5 / 2) = 3 samples, batch 4
    loader = DataLoader(data, batch_size=4, drop_last=True,
                        sampler=DistributedSampler(data, num_replicas=2,
                                                   rank=0, shuffle=False))
    with pytest.raises(ValueError, match=r'has 5 sample\(s\), split over 2 '
                       r'processes each gets 3.*at most 3.*fewer processes'):
        check_train_batches(loader)
    with pytest.raises(ValueError, match='is empty'):
        check_train_batches(DataLoader([], batch_size=4))
    # these yield batches: no error
    check_train_batches(DataLoader(data, batch_size=4, drop_last=False))
    from mmengine.dataset import InfiniteSampler
    check_train_batches(DataLoader(data, batch_size=8, drop_last=True,
                                   sampler=InfiniteSampler(data, seed=0)))
