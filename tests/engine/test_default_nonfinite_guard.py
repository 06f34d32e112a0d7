"""The non-finite loss guard is on in every shipped config (issue #19).

``configs/_base_/default_runtime.py`` registers ``NonFiniteLossGuardHook``
(``action='stop'``) under ``default_hooks``, which configs merge on
inheritance. The runs below inherit that file for real (a config file with
``_base_``) and train ``ToyMoCo`` on vectors whose data samples name
files; sample 9 is NaN, so batch 3 (samples 8-11) has a NaN loss.
"""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import engine_toys as T
from mmavcl.engine.hooks import NonFiniteLossError, NonFiniteLossGuardHook
from mmavcl.engine.hooks.nonfinite_guard_hook import merge_guard_cfgs
from mmavcl.registry import DATASETS
from mmavcl.structures import AVDataSample


@DATASETS.register_module(force=True)
class NamedToyVectors(T.ToyVectors):
    """``ToyVectors`` whose samples carry the metainfo of a video dataset."""

    def __getitem__(self, i: int):
        out = super().__getitem__(i)
        out['data_samples'] = AVDataSample(metainfo=dict(
            filename=f'/data/videos/clip_{i:03d}.mp4',
            video_id=f'clip_{i:03d}.mp4'))
        return out


def _runner(tmp_path, extra: str = ''):
    """A runner of a config file that inherits default_runtime.py."""
    cfg = T.toy_cfg(str(tmp_path / 'work'), shuffle=False, nan_index=9,
                    ckpt_interval=1)
    cfg.train_dataloader.dataset.type = 'NamedToyVectors'
    return T.build_runner_with_runtime(tmp_path, cfg, extra)


def _guards(runner):
    return [h for h in runner.hooks if isinstance(h, NonFiniteLossGuardHook)]


def _finite(state):
    return all(torch.isfinite(v).all() for v in state.values()
               if v.is_floating_point())


def test_default_guard_stops_naming_the_batch_files(tmp_path):
    runner = _runner(tmp_path)
    (guard, ) = _guards(runner)
    assert guard.action == 'stop'
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    msg = str(info.value)
    assert 'iteration 3' in msg and 'loss_nce=nan' in msg
    assert 'on a batch of 4 file(s): /data/videos/clip_008.mp4, ' \
        '/data/videos/clip_009.mp4, /data/videos/clip_010.mp4, ' \
        '/data/videos/clip_011.mp4' in msg
    work = tmp_path / 'work'
    assert not osp.exists(work / 'iter_3.pth')  # no NaN checkpoint
    assert open(work / 'last_checkpoint').read().endswith('iter_2.pth')
    ck = torch.load(work / 'iter_2.pth', weights_only=False)
    assert _finite(ck['state_dict'])
    assert _finite(dict(runner.model.named_parameters()))


def test_a_guard_in_custom_hooks_is_merged_into_the_default(tmp_path):
    """A config's own guard (here 'skip') is merged into the default one:
    one guard runs, with the keys the config named ('skip') and the
    default's others (max_grad_norm_ratio=1000), so the default 'stop'
    neither overrules it nor runs beside it."""
    runner = _runner(tmp_path, "\ncustom_hooks = [dict(type="
                     "'NonFiniteLossGuardHook', action='skip')]\n")
    (guard, ) = _guards(runner)
    assert (guard.action, guard.max_grad_norm_ratio) == ('skip', 1000)
    runner.train()  # through both bad iterations (3 and 9)
    assert guard.num_skipped == 2 and len(guard.guards) == 1
    ck = torch.load(tmp_path / 'work' / 'iter_12.pth', weights_only=False)
    assert _finite(ck['state_dict'])


def test_merge_guard_cfgs():
    default = dict(checkpoint=dict(type='SafeCheckpointHook'),
                   nonfinite_guard=dict(type='NonFiniteLossGuardHook',
                                        action='stop',
                                        max_grad_norm_ratio=1000,
                                        max_grad_norm=50.0))
    other = dict(type='ParamSchedulerHook')
    custom = [dict(type='mmavcl.NonFiniteLossGuardHook', action='skip',
                   max_grad_norm_ratio=None), other,
              dict(type=NonFiniteLossGuardHook, grad_norm_warmup=5)]
    before = copy.deepcopy((default, custom))
    hooks, rest, merged = merge_guard_cfgs(default, custom)
    assert (default, custom) == before  # the caller's configs stay as given
    # the last custom type wins; an explicit None is kept, unnamed keys
    # keep the default's values
    assert merged == dict(type=NonFiniteLossGuardHook, action='skip',
                          max_grad_norm_ratio=None, max_grad_norm=50.0,
                          grad_norm_warmup=5)
    assert hooks == dict(checkpoint=default['checkpoint'],
                         nonfinite_guard=merged)
    assert rest == [other]
    # nothing to merge into, or a built hook: registered as given
    built = NonFiniteLossGuardHook(action='skip')
    for args in [(dict(nonfinite_guard=None), custom),
                 (default, [built]), (default, None),
                 (dict(nonfinite_guard=built), custom)]:
        assert merge_guard_cfgs(*args) == (*args, None)


def test_a_guard_without_the_default_has_the_default_ratio(tmp_path):
    """A config that does not inherit default_runtime.py (or removed its
    guard) and names the guard gets the same ratio."""
    runner = T.build_runner(T.toy_cfg(
        str(tmp_path), custom_hooks=[dict(type='NonFiniteLossGuardHook')]))
    (guard, ) = _guards(runner)
    assert guard.max_grad_norm_ratio == 1000


def test_action_off_turns_the_default_guard_off(tmp_path):
    # the key merges with the base's: a derived config writes
    # default_hooks = dict(nonfinite_guard=dict(action='off'))
    runner = _runner(tmp_path, "\ndefault_hooks['nonfinite_guard'] = "
                     "dict(action='off')\n")
    (guard, ) = _guards(runner)
    assert guard.action == 'off'
    runner.train()
    assert not _finite(torch.load(tmp_path / 'work' / 'iter_3.pth',
                                  weights_only=False)['state_dict'])


def test_every_shipped_config_has_the_guard():
    paths = [p for p in glob.glob(osp.join(T.REPO, 'configs', '**', '*.py'),
                                  recursive=True) if '_base_' not in p]
    # a floor that proves the glob found the shipped configs (their number
    # changes as benchmark configs are shared between methods)
    assert len(paths) > 50
    for path in paths:
        cfg = Config.fromfile(path)
        hook = cfg.default_hooks.get('nonfinite_guard')
        assert hook == dict(type='NonFiniteLossGuardHook', action='stop',
                            max_grad_norm_ratio=1000), path
        assert not any(h.get('type') == 'NonFiniteLossGuardHook'
                       for h in cfg.get('custom_hooks', [])), path
