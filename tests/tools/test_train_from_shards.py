"""tools/train.py: one epoch of the toy AVC config from shards."""
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(ROOT, 'configs', 'demo',
               'avc_r3d-10_1xb4-8x2x1-1e_toy_shards.py')


def test_train_one_epoch_from_shards(tiny_toy_av, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = str(tmp_path / 'shards')
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'data',
                                             'make_shards.py'),
                    osp.join(tiny_toy_av, 'train.txt'), tiny_toy_av, out,
                    '--samples-per-shard', '2'], env=env, check=True,
                   capture_output=True, timeout=120)
    shards = out + '/shard-000-{000000..000001}.tar'
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'train.py'), CFG,
         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
         f'train_dataloader.dataset.shards={shards}',
         'train_dataloader.batch_size=2'],
        env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-2000:]
    log = res.stdout + res.stderr
    assert 'Epoch(train) [1][2/2]' in log, log[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
