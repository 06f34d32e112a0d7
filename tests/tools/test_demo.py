"""A shortened `make demo`: the same script and configs, tiny budget.

Checks the chain runs end to end (dataset → audio-visual pretraining through
tools/train.py → frozen features of the pretrained and of a random-init
backbone → linear probe and retrieval) and writes what the README promises.
Whether SSL beats random init is measured by the full demo, not here: two
epochs on 8 videos are too few to learn anything.
"""
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_demo_chain_shortened(tmp_path):
    work = tmp_path / 'work'
    out = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'demo.py'), '--work-dir',
         str(work), '--data-root', str(tmp_path / 'toy'), '--epochs', '2',
         '--num-per-class', '4', '--batch-size', '4'],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for step in ('1/4', '2/4', '3/4', '4/4'):
        assert f'==> {step}' in out.stdout
    assert 'linear top-1, SSL' in out.stdout
    summary = json.load(open(work / 'summary.json'))
    for key in ('linear_top1_ssl', 'linear_top1_random', 'retrieval_r1_ssl',
                'retrieval_r1_random'):
        assert 0.0 <= summary[key] <= 100.0
    assert summary['epochs'] == 2
    assert osp.isfile(summary['checkpoint'])
    with open(work / 'loss_curve.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
