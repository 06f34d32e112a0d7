"""The cluster launch scripts of README.md "Training" on 2 CPU ranks.

``tools/dist_test.sh CONFIG CKPT N --dump F.pkl`` runs N gloo ranks through
torchrun and must give exactly the predictions of one ``tools/test.py``
process. ``tools/slurm_train.sh`` needs Slurm's ``srun``, which this machine
lacks: a stand-in ``srun`` on ``PATH`` records the arguments the script
passes and starts ``--ntasks`` copies of the command with the variables
Slurm and torch's env:// rendezvous read (``SLURM_PROCID``,
``SLURM_NTASKS``, ``RANK``, ``WORLD_SIZE``, ...); everything after ``srun``
(tools/train.py with ``--launcher=slurm``, gloo DDP, checkpoints) is real.
"""
import os
import os.path as osp
import pickle
import shutil
import stat
import subprocess
import sys
from typing import Dict

import pytest
import torch

from mmavcl.testing import free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LINEAR = 'configs/benchmarks/r3d-18/linear_r3d-18_1xb8-8x2x1-5e_toy.py'
DEMO = 'configs/demo/avc_r3d-10_1xb16-8x2x1-50e_toy.py'
pytestmark = pytest.mark.skipif(shutil.which('bash') is None,
                                reason='needs bash')


def _env(**extra: str) -> Dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore',
               PYTHON=sys.executable, **extra)
    # the scripts' `python` is the interpreter running the tests
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    return env


def _random_init_checkpoint(path: str) -> None:
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import mmavcl  # noqa: F401
    from mmavcl.registry import MODELS
    init_default_scope('mmavcl')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(osp.join(ROOT, LINEAR)).model)
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)


def _scores(dump: str) -> Dict[str, torch.Tensor]:
    with open(dump, 'rb') as f:
        samples = pickle.load(f)
    return {s['video_id']: torch.as_tensor(s['pred_score']) for s in samples}


def test_dist_test_two_cpu_ranks_match_one_process(tiny_toy_av, tmp_path):
    ckpt = str(tmp_path / 'random.pth')
    _random_init_checkpoint(ckpt)
    opts = ['--cfg-options',
            f'test_dataloader.dataset.data_root={tiny_toy_av}',
            'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False']
    two = subprocess.run(
        ['bash', 'tools/dist_test.sh', LINEAR, ckpt, '2', '--dump',
         str(tmp_path / 'two.pkl'), '--work-dir', str(tmp_path / 'w2'),
         *opts], cwd=ROOT, env=_env(PORT=str(free_port())),
        capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    one = subprocess.run(
        [sys.executable, 'tools/test.py', LINEAR, ckpt, '--dump',
         str(tmp_path / 'one.pkl'), '--work-dir', str(tmp_path / 'w1'),
         *opts], cwd=ROOT, env=_env(), capture_output=True, text=True,
        timeout=300)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]

    with open(osp.join(tiny_toy_av, 'val.txt')) as f:
        val = {line.split()[0] for line in f if line.strip()}
    s1, s2 = _scores(str(tmp_path / 'one.pkl')), _scores(
        str(tmp_path / 'two.pkl'))
    # every val video exactly once (no sampler padding left in the dump)
    assert set(s1) == set(s2) and len(s1) == len(val) == 4
    for vid in s1:
        assert torch.allclose(s1[vid], s2[vid], atol=1e-5), vid
    assert 'Distributed launcher: pytorch' in two.stdout + two.stderr


_SRUN = r'''#!/usr/bin/env bash
# Stand-in for Slurm's srun: record the arguments, then start --ntasks
# copies of the command with the environment Slurm (and torch's env://
# rendezvous) would give each task.
printf '%s\n' "$@" > "$SRUN_RECORD"
ntasks=1
while [ $# -gt 0 ]; do
  case "$1" in
    -p) shift 2 ;;
    --ntasks=*) ntasks="${1#--ntasks=}"; shift ;;
    -*) shift ;;
    *) break ;;
  esac
done
pids=()
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks \
  SLURM_NODELIST=localhost RANK=$i LOCAL_RANK=$i WORLD_SIZE=$ntasks \
  MASTER_ADDR=127.0.0.1 MASTER_PORT=$SRUN_PORT "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
'''


def test_slurm_train_runs_train_py_with_the_slurm_launcher(tiny_toy_av,
                                                           tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(_SRUN)
    srun.chmod(srun.stat().st_mode | stat.S_IXUSR)
    record = tmp_path / 'srun_args.txt'
    work = str(tmp_path / 'work')
    env = _env(GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
               SRUN_RECORD=str(record), SRUN_PORT=str(free_port()))
    env['PATH'] = str(bin_dir) + os.pathsep + env['PATH']
    # 4 videos, 2 ranks x batch 2: one iteration per epoch
    # run from elsewhere with a config path relative to there: the scripts
    # must not cd into the checkout (MMAction2's behave the same)
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    config = osp.relpath(osp.join(ROOT, DEMO), elsewhere)
    res = subprocess.run(
        ['bash', osp.join(ROOT, 'tools/slurm_train.sh'), 'cpu_partition',
         'avc_toy', config, work, '--cfg-options',
         f'train_dataloader.dataset.data_root={tiny_toy_av}',
         'train_dataloader.num_workers=0',
         'train_dataloader.persistent_workers=False',
         'train_dataloader.batch_size=2', 'train_cfg.max_epochs=2'],
        cwd=str(elsewhere), env=env, capture_output=True, text=True,
        timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    args = record.read_text().splitlines()
    for expected in ('--job-name=avc_toy', '--gres=gpu:2', '--ntasks=2',
                     '--ntasks-per-node=2', '--cpus-per-task=1',
                     '--kill-on-bad-exit=1'):
        assert expected in args, (expected, args)
    assert args[args.index('-p') + 1] == 'cpu_partition'
    command = args[args.index('python'):]
    assert command[:2] == ['python', '-u']
    assert command[2] == osp.join(ROOT, 'tools', 'train.py')
    assert command[3] == config
    assert f'--work-dir={work}' in command and '--launcher=slurm' in command

    ck = torch.load(osp.join(work, 'epoch_2.pth'), weights_only=False)
    assert ck['meta']['mmavcl_resume']['world_size'] == 2
    assert ck['meta']['iter'] == 2  # 2 epochs x 1 iteration
