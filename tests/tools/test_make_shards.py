"""tools/data/make_shards.py on the toy set: shards AVShardDataset reads,
parts that partition the list, resumable."""
import json
import os
import os.path as osp
import subprocess
import sys

from mmavcl.datasets import AVShardDataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'data', 'make_shards.py')
PIPE = [dict(type='VideoInit', backend='pyav'),
        dict(type='SampleClips', clip_len=4, frame_interval=2, num_clips=1,
             mode='uniform'),
        dict(type='DecodeVideoViews'), dict(type='PackAVInputs')]


def _run(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = subprocess.run([sys.executable, TOOL, *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_make_shards_read_back_resume_and_parts(tiny_toy_av, tmp_path):
    ann = osp.join(tiny_toy_av, 'train.txt')
    out = str(tmp_path / 'one')
    _run(ann, tiny_toy_av, out, '--samples-per-shard', '3')
    index = json.load(open(osp.join(out, 'index.json')))
    assert index['shards'] == {'shard-000-000000.tar': 3,
                               'shard-000-000001.tar': 1}
    ds = AVShardDataset(out + '/shard-000-{000000..000001}.tar', PIPE)
    items = list(ds)
    assert len(items) == len(ds) == 4
    labels = sorted(int(it['data_samples'].gt_label) for it in items)
    with open(ann) as f:
        assert labels == sorted(int(ln.split()[1]) for ln in f)
    # resumable: a complete shard is kept, a missing one rewritten
    first = osp.join(out, 'shard-000-000000.tar')
    mtime = os.stat(first).st_mtime_ns
    os.remove(osp.join(out, 'shard-000-000001.tar'))
    _run(ann, tiny_toy_av, out, '--samples-per-shard', '3')
    assert os.stat(first).st_mtime_ns == mtime
    assert osp.isfile(osp.join(out, 'shard-000-000001.tar'))
    # two parts: disjoint, together the list
    parts = str(tmp_path / 'parts')
    for i in range(2):
        _run(ann, tiny_toy_av, parts, '--num-parts', '2', '--part', str(i))
    _run(ann, tiny_toy_av, parts, '--merge-index')
    merged = json.load(open(osp.join(parts, 'index.json')))
    assert merged['num_samples'] == 4 and len(merged['shards']) == 2
