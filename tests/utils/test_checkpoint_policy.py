"""mmavcl.utils.checkpoint: weights_only first, full unpickling if trusted."""
import os.path as osp

import pytest
import torch
from mmengine.runner.checkpoint import _load_checkpoint

from mmavcl.utils.checkpoint import (TRUST_ENV, UntrustedCheckpointError,
                                     safe_torch_load, trusted_checkpoints)


class _Payload:
    """Unpickles as ``open(path, 'w')``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture
def evil(tmp_path, monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)
    marker = str(tmp_path / 'pwned')
    path = str(tmp_path / 'sub' / 'evil.pth')
    (tmp_path / 'sub').mkdir()
    torch.save({'state_dict': {'w': torch.ones(2)}, 'x': _Payload(marker)},
               path)
    return path, marker


def test_tensors_only_load_without_trust(tmp_path):
    path = str(tmp_path / 'w.pth')
    torch.save({'state_dict': {'w': torch.arange(3.)}}, path)
    assert torch.equal(safe_torch_load(path)['state_dict']['w'],
                       torch.arange(3.))


def test_untrusted_pickle_refused_before_any_code_runs(evil):
    path, marker = evil
    with pytest.raises(UntrustedCheckpointError) as err:
        safe_torch_load(path)
    assert path in str(err.value) and TRUST_ENV in str(err.value)
    # mmengine's loader (load_from, init_cfg, tools) goes through it too
    with pytest.raises(UntrustedCheckpointError):
        _load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_trust_is_scoped_to_the_path_and_the_block(evil, tmp_path):
    path, marker = evil
    with trusted_checkpoints(str(tmp_path / 'elsewhere')):
        with pytest.raises(UntrustedCheckpointError):
            safe_torch_load(path)
    assert not osp.exists(marker)
    with trusted_checkpoints(osp.dirname(path)):
        safe_torch_load(path)
    assert osp.exists(marker)
    with pytest.raises(UntrustedCheckpointError):  # trust ended
        safe_torch_load(path)


def test_env_opt_in(evil, monkeypatch):
    path, marker = evil
    monkeypatch.setenv(TRUST_ENV, '1')
    safe_torch_load(path)
    assert osp.exists(marker)


def test_missing_and_truncated_files_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_torch_load(str(tmp_path / 'nope.pth'))
    path = str(tmp_path / 'cut.pth')
    torch.save({'w': torch.ones(100)}, path)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    with pytest.raises(RuntimeError):
        safe_torch_load(path)
