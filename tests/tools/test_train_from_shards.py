"""tools/train.py: one epoch of the toy AVC config from local shards, from
``s3://`` shards on a loopback S3 server (credentials and endpoint from the
``AWS_*`` environment variables), and from ``http://`` files."""
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmavcl.testing import serve_directory, serve_moto, serve_s3

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHARDS_CFG = osp.join(ROOT, 'configs', 'demo',
                      'avc_r3d-10_1xb4-8x2x1-1e_toy_shards.py')
FILES_CFG = osp.join(ROOT, 'configs', 'demo',
                     'avc_r3d-10_1xb16-8x2x1-50e_toy.py')
# the 4 training videos in batches of 2, in the main process (small and
# quick: the point is where the bytes come from)
SMALL = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0']


@pytest.fixture(scope='module')
def toy_shards(tiny_toy_av, tmp_path_factory):
    """The toy training set as shards of 2 by tools/data/make_shards.py."""
    out = str(tmp_path_factory.mktemp('toy_shards') / 'shards')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'data',
                                             'make_shards.py'),
                    osp.join(tiny_toy_av, 'train.txt'), tiny_toy_av, out,
                    '--samples-per-shard', '2'], env=_env(), check=True,
                   capture_output=True, timeout=120)
    return out


def _env(**extra):
    return dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', **extra)


def _train(cfg, work, options, env=None):
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), cfg,
         '--work-dir', str(work), '--cfg-options', *options],
        env=env or _env(), capture_output=True, text=True, timeout=300,
        cwd=ROOT)
    log = res.stdout + res.stderr
    assert res.returncode == 0, log[-4000:]
    assert 'Epoch(train) [1][2/2]' in log, log[-3000:]
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
    return log


def test_train_one_epoch_from_shards(toy_shards, tmp_path):
    _train(SHARDS_CFG, tmp_path / 'work', [
        'train_dataloader.dataset.shards='
        f'{toy_shards}/shard-000-{{000000..000001}}.tar'] + SMALL)


@pytest.mark.parametrize('serve', [serve_s3, serve_moto],
                         ids=['s3-subset', 'moto'])
def test_train_one_epoch_from_s3_shards(toy_shards, tmp_path, serve):
    """serve_s3 checks the access key from AWS_ACCESS_KEY_ID; moto is a
    full S3 implementation."""
    os.symlink(toy_shards, tmp_path / 'bucket')
    with serve(str(tmp_path), access_key='toy-key') as endpoint:
        env = _env(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID='toy-key',
                   AWS_SECRET_ACCESS_KEY='toy-secret',
                   AWS_REGION='us-east-1')
        _train(SHARDS_CFG, tmp_path / 'work', [
            'train_dataloader.dataset.shards='
            's3://bucket/shard-000-{000000..000001}.tar'] + SMALL, env)


def test_train_one_epoch_from_http_files(tiny_toy_av, tmp_path):
    with serve_directory(tiny_toy_av) as url:
        log = _train(FILES_CFG, tmp_path / 'work', [
            f'train_dataloader.dataset.data_root={url}',
            'train_dataloader.persistent_workers=False',
            'train_cfg.max_epochs=1'] + SMALL)
    assert 'Epoch(train) [1][3/2]' not in log
