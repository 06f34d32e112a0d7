"""``--resume`` / ``load_from`` a checkpoint behind a URI: ``s3://`` on the
loopback S3 endpoint (:func:`mmavcl.testing.serve_s3`) and ``http://`` on
the loopback file server, each a real server.

mmengine loaded ``s3://`` only through petrel_client (an ImportError here)
and ``http://`` through ``torch.hub``, which caches by file name (a second
``iter_4.pth`` URL got the first one's bytes) and fully unpickles."""
import os
import os.path as osp
import shutil

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

import engine_toys as T
from mmavcl.testing import serve_directory, serve_s3_to_env
from mmavcl.utils.checkpoint import TRUST_ENV, UntrustedCheckpointError


def _train(work: str, max_iters: int, lr: float = 0.1, **kw):
    runner = T.build_runner(T.toy_cfg(
        work, by_epoch=False, max_iters=max_iters, ckpt_interval=4,
        sampler='InfiniteSampler', lr=lr, **kw))
    runner.train()
    return runner


def _weights(path: str) -> dict:
    return torch.load(path, weights_only=False)['state_dict']


def _assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture
def bucket(tmp_path, monkeypatch):
    """Run A's and run B's ``iter_4.pth`` (B: another learning rate) as
    ``ckpts/a/iter_4.pth`` and ``ckpts/b/iter_4.pth`` of a folder that is
    both served: yields (the folder, the S3 endpoint)."""
    root = tmp_path / 'store'
    for name, lr in (('a', 0.1), ('b', 0.01)):
        _train(str(tmp_path / name), 4, lr=lr)
        os.makedirs(root / 'ckpts' / name)
        shutil.copy(tmp_path / name / 'iter_4.pth', root / 'ckpts' / name)
    # torch.hub's cache, where mmengine's http loader kept downloads
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv(TRUST_ENV, raising=False)
    with serve_s3_to_env(str(root), monkeypatch, access_key='AK'):
        yield root


def test_resume_from_s3_and_http_continues_the_run(tmp_path, bucket):
    """Resumed at iteration 4 from run A's checkpoint, the run ends with
    the weights of A trained without a break to 6 (exact resume)."""
    whole = _train(str(tmp_path / 'whole'), 6).model.state_dict()
    with serve_directory(str(bucket)) as url:
        for name, source in (('s3', 's3://ckpts/a/iter_4.pth'),
                             ('http', f'{url}/ckpts/a/iter_4.pth')):
            work = str(tmp_path / f'resumed_{name}')
            runner = _train(work, 6, resume=True, load_from=source)
            # started at 4: iteration 4's checkpoint is not written again
            assert runner.iter == 6
            assert sorted(p for p in os.listdir(work)
                          if p.endswith('.pth')) == ['iter_6.pth']
            _assert_equal(_weights(osp.join(work, 'iter_6.pth')), whole)


@pytest.mark.parametrize('scheme', ['s3', 'http'])
def test_each_url_is_read_not_a_cached_file_of_the_same_name(
        bucket, scheme):
    with serve_directory(str(bucket)) as url:
        base = 's3://ckpts' if scheme == 's3' else f'{url}/ckpts'
        for name in ('a', 'b'):
            loaded = CheckpointLoader.load_checkpoint(
                f'{base}/{name}/iter_4.pth', map_location='cpu')
            _assert_equal(loaded['state_dict'], _weights(
                osp.join(bucket, 'ckpts', name, 'iter_4.pth')))


class _Payload:
    """Unpickles as ``os.mkdir(path)``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path, ))


@pytest.mark.parametrize('scheme', ['s3', 'http'])
def test_a_remote_checkpoint_loads_weights_only(tmp_path, bucket, scheme):
    marker = str(tmp_path / 'PWNED')
    state = torch.load(osp.join(bucket, 'ckpts', 'a', 'iter_4.pth'),
                       weights_only=False)
    state['payload'] = _Payload(marker)
    torch.save(state, osp.join(bucket, 'ckpts', 'evil.pth'))
    with serve_directory(str(bucket)) as url:
        uri = 's3://ckpts/evil.pth' if scheme == 's3' else \
            f'{url}/ckpts/evil.pth'
        with pytest.raises(UntrustedCheckpointError,
                           match=f'{uri}: refusing to unpickle'):
            CheckpointLoader.load_checkpoint(uri, map_location='cpu')
    assert not osp.exists(marker), 'the payload ran'


@pytest.mark.parametrize('scheme', ['s3', 'http'])
def test_a_truncated_or_missing_remote_checkpoint_names_the_uri(
        bucket, scheme):
    path = osp.join(bucket, 'ckpts', 'a', 'iter_4.pth')
    data = open(path, 'rb').read()
    with open(osp.join(bucket, 'ckpts', 'cut.pth'), 'wb') as f:
        f.write(data[:len(data) // 2])
    with serve_directory(str(bucket)) as url:
        base = 's3://ckpts' if scheme == 's3' else f'{url}/ckpts'
        with pytest.raises(RuntimeError, match=(
                f'{base}/cut.pth \\({len(data) // 2} bytes\\) is not a '
                'complete checkpoint')):
            CheckpointLoader.load_checkpoint(f'{base}/cut.pth')
        with pytest.raises(FileNotFoundError,
                           match=f'checkpoint {base}/none.pth does not'):
            CheckpointLoader.load_checkpoint(f'{base}/none.pth')
