"""docs/data_preparation.md, "Large-scale data", run as written on the toy
set: each block the doc marks ``covered-by`` one of these tests is taken
from the doc, its K400 paths and sizes swapped for the toy set's (every
swap must apply, so the doc and this test cannot drift apart), and run in
a sandbox checkout (tests/docs/test_runnable_commands.py) with the bucket
``s3://my-bucket/`` served by a loopback S3 server over the sandbox's
``data/`` and the endpoint and credentials in the ``AWS_*`` variables, as
the doc says."""
import json
import os
import os.path as osp
import subprocess
from typing import List, Tuple

import pytest

from mmavcl.testing import load_script, make_toy_data, serve_s3

DOC = 'docs/data_preparation.md'
RUNNABLE = load_script('tests/docs/test_runnable_commands.py')


def _blocks(test: str) -> List[str]:
    found = [b.script for b in RUNNABLE.shell_blocks()
             if b.where.startswith(DOC + ':') and f'::{test}' in b.marker]
    assert found, f'{DOC} has no block covered by {test}'
    return found


def _swap(script: str, swaps: List[Tuple[str, str]]) -> str:
    for old, new in swaps:
        assert old in script, f'{old!r} is no longer in the {DOC} block:\n' \
            f'{script}'
        script = script.replace(old, new)
    return script


#: K400 -> the toy set (4 training videos: 2 shards of 2)
K400_TO_TOY = [
    ('data/kinetics400/kinetics400_train_list_videos.txt',
     'data/toy_av/train.txt'),
    ('data/kinetics400/kinetics400_train_list_shuffled.txt',
     'data/toy_av/train_shuffled.txt'),
    ('data/kinetics400/videos_train', 'data/toy_av'),
    ('kinetics400_shards', 'toy_av_shards'),
    ('--samples-per-shard 1000', '--samples-per-shard 2'),
]
TOY_RANGE = ('{000000..000239}', '{000000..000001}')


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory):
    """A sandbox checkout with ``data/toy_av`` (4 training videos) and the
    environment of a machine whose ``s3://my-bucket/`` is its ``data/``
    (one for both tests: the toy run rewrites the shards the first wrote,
    which make_shards.py keeps as they are)."""
    tmp_path = tmp_path_factory.mktemp('large_scale')
    seed = make_toy_data(str(tmp_path / 'seed'))
    box = RUNNABLE.make_sandbox(str(tmp_path / 'repo'),
                                osp.join(seed, 'data'))
    buckets = tmp_path / 'buckets'
    buckets.mkdir()
    os.symlink(osp.join(box, 'data'), buckets / 'my-bucket')
    with serve_s3(str(buckets), access_key='AKTEST') as endpoint:
        env = RUNNABLE._env(str(tmp_path))
        env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID='AKTEST',
                   AWS_SECRET_ACCESS_KEY='secret', AWS_REGION='us-east-1')
        yield box, env


def _run(script: str, box: str, env: dict) -> str:
    out = subprocess.run(['bash', '-euo', 'pipefail', '-c', script],
                         cwd=box, env=env, capture_output=True, text=True,
                         timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, f'{script}\n---\n{log[-4000:]}'
    return log


def test_list_to_shards_to_8_gpu_run(sandbox):
    box, env = sandbox
    shard_block, run_block = _blocks('test_list_to_shards_to_8_gpu_run')
    _run(_swap(shard_block, K400_TO_TOY), box, env)
    # the shuffled list holds the same lines; the shards hold every video
    with open(osp.join(box, 'data/toy_av/train.txt')) as f:
        lines = sorted(f.read().split('\n'))
    with open(osp.join(box, 'data/toy_av/train_shuffled.txt')) as f:
        assert sorted(f.read().split('\n')) == lines
    with open(osp.join(box, 'data/toy_av_shards/index.json')) as f:
        index = json.load(f)
    assert index['shards'] == {'shard-000-000000.tar': 2,
                               'shard-000-000001.tar': 2}
    # 2 CPU ranks for 8 GPUs; 0 epochs: everything but the epoch is built
    # (its length from the bucket's index.json: 2 samples a rank)
    script = _swap(run_block, [
        ('kinetics400_shards', 'toy_av_shards'), TOY_RANGE,
        (' 8 \\\n', ' 2 \\\n'),
        ('.tar"', '.tar" train_cfg.max_epochs=0 '
         'train_dataloader.batch_size=2 train_dataloader.num_workers=1 '
         'randomness.seed=0')
    ])
    _run(script, box, env)
    cfg_dump = osp.join(
        box, 'work_dirs', 'avtss_r2plus1d-18_8xb32-16x1x2-200e_k400_shards',
        'avtss_r2plus1d-18_8xb32-16x1x2-200e_k400_shards.py')
    with open(cfg_dump) as f:
        dumped = f.read()
    assert 's3://my-bucket/toy_av_shards/shard-000-{000000..000001}.tar' \
        in dumped and "type='AVShardDataset'" in dumped


def test_toy_run_from_the_bucket(sandbox):
    box, env = sandbox
    block, = _blocks('test_toy_run_from_the_bucket')
    script = _swap(block, [('--samples-per-shard 8', '--samples-per-shard 2'),
                           ('{000000..000002}', '{000000..000001}')])
    log = _run(script, box, env)
    # one epoch of the 4 videos, batch 4, read from s3://my-bucket
    assert 'Epoch(train) [1][1/1]' in log, log[-3000:]
    work = osp.join(box, 'work_dirs', 'avc_r3d-10_1xb4-8x2x1-1e_toy_shards')
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))
