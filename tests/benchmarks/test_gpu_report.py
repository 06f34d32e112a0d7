"""benchmarks/gpu_report.sh stays runnable on a GPU machine: its
benchmark commands name existing configs and flags the benchmark accepts
(checked through the benchmark's own parser, in the script's dry run), and
benchmarks/gpu_wheels.sh fetches the tested versions for an offline one;
``--video-hwaccel`` reaches the video readers."""
import os
import os.path as osp
import shlex
import subprocess
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'benchmarks', 'gpu_report.sh')
sys.path.insert(0, osp.join(ROOT, 'benchmarks'))
import benchmark_augment  # noqa: E402
import benchmark_pipeline  # noqa: E402
import benchmark_train  # noqa: E402


WHEELS_SCRIPT = osp.join(ROOT, 'benchmarks', 'gpu_wheels.sh')


def dry_run(argv, **env):
    return subprocess.run(
        argv, cwd=ROOT, check=True, capture_output=True, text=True,
        env=dict(os.environ, DRY_RUN='1', PYTHON='python3', **env)).stdout


def test_gpu_report_commands_parse(tmp_path):
    out = dry_run(['bash', SCRIPT, str(tmp_path / 'report')])
    steps = dict(line.split(': ', 1) for line in out.splitlines())
    # the open question (issue 25's GPU profile of the augmentation and
    # layout) first, then NVDEC's speed, then issue 8's target row
    assert list(steps)[:7] == [
        'aug_batched', 'aug_kornia', 'aug_batched_channels_last',
        'augment_only', 'nvdec_tests', 'nvdec_pipeline', 'bf16_170x128']
    assert not (tmp_path / 'report' / 'summary.txt').exists()
    benches = 0
    for name, cmd in steps.items():
        argv = shlex.split(cmd)
        if 'benchmarks/benchmark_train.py' in argv:
            args = benchmark_train.parse_args(
                argv[argv.index('benchmarks/benchmark_train.py') + 1:])
            assert osp.isfile(osp.join(ROOT, args.config)), name
            assert args.device == 'cuda' and args.loader_workers == 8
            assert args.videos > 0
            if name.startswith('aug_'):
                # the repeated batch only, profiled
                assert args.profile > 0 and args.precision == 'bf16'
                assert args.video_aug_impl in name
                assert args.channels_last == name.endswith('channels_last')
            else:
                assert args.data_bound_iters > 0 and args.precision in name
            benches += 1
        elif 'benchmarks/benchmark_augment.py' in argv:
            args = benchmark_augment.parse_args(
                argv[argv.index('benchmarks/benchmark_augment.py') + 1:])
            assert args.device == 'cuda' and args.clips == 32, name
        elif 'benchmarks/benchmark_pipeline.py' in argv:
            args, rest = benchmark_pipeline.parse_args(
                argv[argv.index('benchmarks/benchmark_pipeline.py') + 1:])
            assert not rest and args.video_hwaccel == 'cuda', name
        else:
            assert 'MMAVCL_TEST_CUDA=1' in argv, cmd
            pytest_args = argv[argv.index('pytest'):]
            assert pytest_args[:3] == ['pytest', '-m', 'cuda'], cmd
            assert osp.exists(osp.join(ROOT, pytest_args[3])), cmd
    assert benches == 9
    hw = benchmark_train.parse_args(shlex.split(
        steps['bf16_340x256_nvdec'])[3:])
    assert hw.video_hwaccel == 'cuda' and hw.video_size == '340x256'
    assert 'OMP_NUM_THREADS=1' in steps['bf16_170x128_omp1']
    assert '--profile' in steps['bf16_170x128']


def test_steps_variable_runs_only_the_named_steps(tmp_path):
    # the one command of docs/benchmarks.md for issue 25's GPU check
    out = dry_run(['bash', SCRIPT, str(tmp_path / 'report')],
                  STEPS='aug_batched aug_kornia aug_batched_channels_last '
                  'augment_only')
    assert [line.split(': ')[0] for line in out.splitlines()] == [
        'aug_batched', 'aug_kornia', 'aug_batched_channels_last',
        'augment_only']


def test_offline_wheels_are_the_tested_versions_and_installed_first(
        tmp_path):
    with open(osp.join(ROOT, 'requirements', 'constraints.txt')) as f:
        pinned = {
            line.split('==')[0].lower().replace('_', '-'): line.strip()
            for line in f if '==' in line}
    argv = shlex.split(dry_run(['bash', WHEELS_SCRIPT, 'wheels']))
    assert argv[1:4] == ['-m', 'pip', 'download'] and '--no-deps' in argv
    assert argv[argv.index('--python-version') + 1] == '3.12'
    assert argv[argv.index('-d') + 1] == 'wheels'
    pins = [a for a in argv if '==' in a]
    names = {p.split('==')[0].lower().replace('_', '-') for p in pins}
    assert {'av', 'decord', 'mmengine', 'mmcv-lite', 'kornia'} <= names
    for pin in pins:
        assert pinned[pin.split('==')[0].lower().replace('_', '-')] == pin

    out = dry_run(['bash', SCRIPT, str(tmp_path / 'report')], WHEELS='wheels')
    first, second = out.splitlines()[:2]
    name, cmd = first.split(': ', 1)
    assert name == 'install_wheels'
    argv = shlex.split(cmd)
    assert argv[1:4] == ['-m', 'pip', 'install'] and '--no-index' in argv
    assert argv[-1] == 'wheels/*.whl'
    assert second.startswith('aug_batched: ')


def test_video_hwaccel_reaches_the_readers():
    import torch
    from mmengine.config import Config

    from mmavcl.datasets import HWAccelError
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs/baselines/moco_r3d-18_8xb32-16x2x2-200e_k400.py'))
    benchmark_train.use_video_hwaccel(cfg, 'cuda')
    init = [t for t in cfg.train_dataloader.dataset.pipeline
            if t['type'] == 'VideoInit']
    assert init and all(t['backend'] == 'pyav' and t['hwaccel'] == 'cuda'
                        for t in init)
    assert cfg.train_dataloader.multiprocessing_context == 'spawn'
    if torch.cuda.is_available():
        return
    # without a GPU: the clear error, raised while the benchmark plans
    with pytest.raises(HWAccelError, match="hwaccel='cuda'"):
        benchmark_pipeline.main([
            '--video-hwaccel', 'cuda', '--pipelines', 'ssl_2clip_av',
            '--keyints', '30', '--iters', '2', '--num-videos', '1',
            '--duration', '2', '--size', '64x48', '--no-mmaction'])


def test_steps_keep_results_failures_and_timeouts(tmp_path):
    """A real (non-dry) run with a stand-in interpreter: a failing step
    leaves its result lines and its last words, a hung one is cut off at
    STEP_TIMEOUT, and neither stops the steps after it."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\n'
                    'case "$*" in *"-m pytest "*) exec sleep 30;; esac\n'
                    'echo "mmavcl vs reference: 1.23x"\n'
                    'echo "it broke"\n'
                    'exit 3\n')
    fake.chmod(0o755)
    out = tmp_path / 'report'
    subprocess.run(['bash', SCRIPT, str(out)], cwd=ROOT, check=True,
                   env=dict(os.environ, PYTHON=str(fake), STEP_TIMEOUT='1',
                            DATA=str(tmp_path / 'data')))
    summary = (out / 'summary.txt').read_text()
    steps = summary.split('== ')[1:]
    assert [s.split(':')[0] for s in steps] == list(dict(
        line.split(': ', 1) for line in dry_run(
            ['bash', SCRIPT, str(tmp_path / 'dry')]).splitlines()))
    for step in steps:
        # (tmp_path, in every command, has "pytest" in its name)
        if ' -m pytest ' in step.splitlines()[0]:
            assert 'timed out after 1 s' in step and 'rc=124' in step
        else:
            assert 'mmavcl vs reference: 1.23x' in step
            assert '   | it broke' in step and 'rc=3,' in step


def test_deadline_skips_the_steps_it_leaves_no_time_for(tmp_path):
    """With DEADLINE the report ends inside a lent machine's call limit:
    the steps that still have 30 s run, the others are listed as skipped."""
    fake = tmp_path / 'python'
    fake.write_text('#!/bin/sh\nsleep 2\necho "mmavcl vs reference: 1.23x"\n')
    fake.chmod(0o755)
    out = tmp_path / 'report'
    subprocess.run(['bash', SCRIPT, str(out)], cwd=ROOT, check=True,
                   timeout=60,
                   env=dict(os.environ, PYTHON=str(fake), DEADLINE='33',
                            DATA=str(tmp_path / 'data')))
    steps = (out / 'summary.txt').read_text().split('== ')[1:]
    ran = [s for s in steps if 'rc=0' in s]
    skipped = [s for s in steps if 'skipped:' in s]
    assert ran and skipped and len(ran) + len(skipped) == len(steps)
    assert steps.index(ran[-1]) < steps.index(skipped[0])
    assert 'of DEADLINE=33' in skipped[0]
