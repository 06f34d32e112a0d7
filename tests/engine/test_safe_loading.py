"""Safe checkpoint loading through the real runner.

A "malicious" checkpoint here is a real pickle whose unpickling calls
``open(marker, 'w')`` (the same mechanism as ``os.system``); the marker file
appearing on disk is proof that code ran.
"""
import os
import os.path as osp

import pytest
import torch

import engine_toys as T
from mmavcl.utils import UntrustedCheckpointError
from mmavcl.utils.checkpoint import TRUST_ENV, safe_torch_load


class _Payload:
    """Unpickles as ``open(path, 'w')``: creates a file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def _plant(tmp_path, name='evil.pth'):
    marker = str(tmp_path / 'pwned.txt')
    model = T.ToyMoCo()
    ckpt = str(tmp_path / name)
    torch.save({'state_dict': model.state_dict(), 'x': _Payload(marker)},
               ckpt)
    assert not osp.exists(marker)
    return ckpt, marker


@pytest.fixture(autouse=True)
def _no_trust_env(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def test_malicious_load_from_is_refused(tmp_path):
    ckpt, marker = _plant(tmp_path)
    cfg = T.toy_cfg(str(tmp_path / 'work'), by_epoch=False, max_iters=2,
                    load_from=ckpt)
    runner = T.build_runner(cfg)
    with pytest.raises(UntrustedCheckpointError, match='evil.pth'):
        runner.train()
    assert not osp.exists(marker)


def test_malicious_init_cfg_pretrained_is_refused(tmp_path):
    ckpt, marker = _plant(tmp_path)
    cfg = T.toy_cfg(str(tmp_path / 'work'), by_epoch=False, max_iters=2)
    cfg.model.init_cfg = dict(type='Pretrained', checkpoint=ckpt)
    runner = T.build_runner(cfg)
    with pytest.raises(UntrustedCheckpointError, match='evil.pth'):
        runner.train()
    assert not osp.exists(marker)


def test_plain_weights_load_with_weights_only(tmp_path):
    src = T.ToyMoCo()
    ckpt = str(tmp_path / 'weights.pth')
    torch.save({'state_dict': src.state_dict()}, ckpt)
    for how in ('load_from', 'init_cfg'):
        cfg = T.toy_cfg(str(tmp_path / how), by_epoch=False, max_iters=1)
        if how == 'load_from':
            cfg.load_from = ckpt
        else:
            cfg.model.init_cfg = dict(type='Pretrained', checkpoint=ckpt)
        runner = T.build_runner(cfg)
        runner._train_loop = runner.build_train_loop(runner._train_loop)
        runner._init_model_weights()
        runner.load_or_resume()
        got = runner.model.state_dict()
        for k, v in src.state_dict().items():
            assert torch.equal(got[k].cpu(), v), (how, k)


def test_own_checkpoints_load_weights_only_and_resume(tmp_path):
    work = str(tmp_path / 'work')
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=4,
                             ckpt_interval=2)).train()
    ckpt = osp.join(work, 'iter_2.pth')
    # AVRunner stores the message hub as plain data: only numpy's
    # data-only rebuild functions remain beyond torch's own allowlist
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(ckpt)
    assert unsafe and all(name.startswith('numpy.') for name in unsafe)
    state = safe_torch_load(ckpt)  # no trust needed
    assert isinstance(state['message_hub']['log_scalars'], dict)

    # auto from the work dir
    r = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=6,
                                 ckpt_interval=2, resume=True))
    r.train()
    assert r.iter == 6
    # the logging history came back as mmengine HistoryBuffers
    from mmengine.logging import HistoryBuffer
    assert isinstance(r.message_hub.log_scalars['train/loss'], HistoryBuffer)
    # explicit path (what `--resume PATH` sets)
    r = T.build_runner(T.toy_cfg(str(tmp_path / 'other'), by_epoch=False,
                                 max_iters=4, resume=True, load_from=ckpt))
    r.train()
    assert r.iter == 4
    # and as pretrained weights (load_from, tools/test.py) without trust
    r = T.build_runner(T.toy_cfg(str(tmp_path / 'probe'), by_epoch=False,
                                 max_iters=1, load_from=ckpt))
    r.train()


def test_plain_mmengine_checkpoint_resumes_only_from_its_own_work_dir(
        tmp_path):
    """A checkpoint pickled the way plain mmengine does it (HistoryBuffer
    objects, whose pickles call getattr) needs full unpickling. It is
    refused as weights and refused for resume from outside the work dir
    (the red-team's `--resume downloaded.pth`), and resumes from inside the
    run's own work dir or with the explicit opt-in."""
    from mmengine.logging import HistoryBuffer

    from mmavcl.utils.checkpoint import trusted_checkpoints
    work = str(tmp_path / 'work')
    T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=2,
                             ckpt_interval=2)).train()
    state = safe_torch_load(osp.join(work, 'iter_2.pth'))
    state['message_hub']['log_scalars'] = {
        'train/loss': HistoryBuffer([1.0, 0.5], [1, 1])}
    plain = str(tmp_path / 'plain_mmengine.pth')
    torch.save(state, plain)
    with pytest.raises(UntrustedCheckpointError):
        safe_torch_load(plain)
    r = T.build_runner(T.toy_cfg(str(tmp_path / 'probe'), by_epoch=False,
                                 max_iters=1, load_from=plain))
    with pytest.raises(UntrustedCheckpointError, match='plain_mmengine.pth'):
        r.train()
    r = T.build_runner(T.toy_cfg(str(tmp_path / 'other'), by_epoch=False,
                                 max_iters=4, resume=True, load_from=plain))
    with pytest.raises(UntrustedCheckpointError,
                       match='plain_mmengine.pth.*--trust-checkpoint'):
        r.train()
    # inside the run's own work dir: auto-resume and an explicit path
    own = osp.join(work, 'iter_2.pth')
    torch.save(state, own)
    r = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=3,
                                 ckpt_interval=100, resume=True))
    r.train()
    assert r.iter == 3
    r = T.build_runner(T.toy_cfg(work, by_epoch=False, max_iters=4,
                                 ckpt_interval=100, resume=True,
                                 load_from=own))
    r.train()
    assert r.iter == 4
    # from elsewhere with the opt-in (what --trust-checkpoint does)
    r = T.build_runner(T.toy_cfg(str(tmp_path / 'trusted'), by_epoch=False,
                                 max_iters=4, resume=True, load_from=plain))
    with trusted_checkpoints(plain):
        r.train()
    assert r.iter == 4


def test_env_opt_in_trusts_everything(tmp_path, monkeypatch):
    ckpt, marker = _plant(tmp_path)
    monkeypatch.setenv(TRUST_ENV, '1')
    cfg = T.toy_cfg(str(tmp_path / 'work'), by_epoch=False, max_iters=1,
                    load_from=ckpt)
    T.build_runner(cfg).train()
    # the opt-in really unpickles: the payload ran
    assert osp.exists(marker)
    os.remove(marker)
