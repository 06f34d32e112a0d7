"""The data tools at scale: ``--num-parts/--part`` split the input into
disjoint parts that together cover it, remote inputs (a loopback HTTP
server) give what local ones give, and ``tools/data/slurm_array.sh`` maps
a Slurm array task to its part. Real toy media throughout."""
import json
import os
import os.path as osp
import subprocess
import sys

import av
import pytest

from mmavcl.testing import load_script, serve_directory, serve_s3

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SLURM = osp.join(ROOT, 'tools', 'data', 'slurm_array.sh')


def _list_paths(ann):
    with open(ann) as f:
        return [ln.split()[0] for ln in f if ln.strip()]


def _files(root, ext):
    return {osp.relpath(osp.join(d, n), root)
            for d, _, names in os.walk(root) for n in names
            if n.endswith(ext)}


@pytest.fixture
def site(tiny_toy_av, tmp_path):
    """A folder served over HTTP: the toy videos (linked), its train list,
    and a list with one more entry whose file the server does not have."""
    site = tmp_path / 'site'
    site.mkdir()
    os.symlink(osp.join(tiny_toy_av, 'videos'), site / 'videos')
    train = open(osp.join(tiny_toy_av, 'train.txt')).read()
    (site / 'train.txt').write_text(train)
    (site / 'with_missing.txt').write_text(train + 'videos/gone/x.mp4 0\n')
    return str(site)


def test_reencode_parts_cover_the_list_local_and_remote(site, tmp_path):
    tool = load_script('tools/data/reencode_videos.py')
    dst = str(tmp_path / 'dst')
    videos = set(_list_paths(osp.join(site, 'train.txt')))
    with serve_directory(site) as url:
        # part 0 from the server, part 1 from the disk: one output tree
        tool.main([url, dst, '--ann-file', url + '/train.txt',
                   '--num-parts', '2', '--part', '0', '--workers', '1',
                   '--short-side', '32', '--keyint', '4'])
    first = _files(dst, '.mp4')
    tool.main([site, dst, '--ann-file', osp.join(site, 'train.txt'),
               '--num-parts', '2', '--part', '1', '--workers', '1',
               '--short-side', '32', '--keyint', '4'])
    second = _files(dst, '.mp4') - first
    assert first | second == videos and not first & second
    assert len(first) == len(second) == 2
    for rel in videos:  # every output is the whole video, re-encoded
        with av.open(osp.join(dst, rel)) as c:
            frames = list(c.decode(video=0))
        with av.open(osp.join(site, rel)) as c:
            assert len(frames) == c.streams.video[0].frames
        assert (frames[0].width, frames[0].height) == (32, 32)
        assert [i for i, f in enumerate(frames) if f.key_frame][:2] == [0, 4]


def test_extract_audio_parts_and_remote_equal_local(site, tmp_path):
    tool = load_script('tools/data/extract_audio.py')
    out, ref = str(tmp_path / 'out'), str(tmp_path / 'ref')
    ann = osp.join(site, 'train.txt')
    stems = {osp.splitext(p)[0] + '.wav' for p in _list_paths(ann)}
    with serve_directory(site) as url:
        assert tool.main(['--src', url, '--list', url + '/train.txt',
                          '--out', out, '--workers', '1', '--num-parts', '2',
                          '--part', '0']) == 0
    first = _files(out, '.wav')
    assert tool.main(['--src', site, '--list', ann, '--out', out,
                      '--workers', '1', '--num-parts', '2', '--part',
                      '1']) == 0
    second = _files(out, '.wav') - first
    assert first | second == stems and not first & second
    # the part read over HTTP wrote the same bytes as a local run
    assert tool.main(['--src', site, '--list', ann, '--out', ref,
                      '--workers', '1']) == 0
    for rel in first:
        assert open(osp.join(out, rel), 'rb').read() == open(
            osp.join(ref, rel), 'rb').read()


def test_check_dataset_parts_over_http(site, tmp_path):
    tool = load_script('tools/data/check_dataset.py')
    clean = str(tmp_path / 'clean.txt')
    report = str(tmp_path / 'report.json')
    with serve_directory(site) as url:
        summaries = [tool.main([
            url + '/with_missing.txt', '--data-prefix', url, '--out', clean,
            '--report', report, '--workers', '1', '--backend', 'pyav',
            '--num-parts', '2', '--part', str(p)]) for p in range(2)]
    # 5 entries: parts of 3 and 2, together every entry once
    assert [s['total'] for s in summaries] == [3, 2]
    assert sum(s['ok'] for s in summaries) == 4
    parts = [_list_paths(str(tmp_path / f'clean.part-00{p}-of-002.txt'))
             for p in range(2)]
    assert not set(parts[0]) & set(parts[1])
    assert sorted(parts[0] + parts[1]) == sorted(
        _list_paths(osp.join(site, 'train.txt')))
    entries = [e for p in range(2) for e in json.load(
        open(tmp_path / f'report.part-00{p}-of-002.json'))['entries']]
    bad = [e for e in entries if not e['ok']]
    assert len(bad) == 1 and bad[0]['filename'] == url + '/videos/gone/x.mp4'
    assert '404' in bad[0]['reason'] or 'not found' in bad[0]['reason']
    # decoded from the fetched bytes: the same records as a local scan
    tool.main([osp.join(site, 'train.txt'), '--data-prefix', site, '--out',
               str(tmp_path / 'local.txt'), '--report',
               str(tmp_path / 'local.json'), '--workers', '1', '--backend',
               'pyav'])
    local = json.load(open(tmp_path / 'local.json'))['entries']
    remote = sorted((e for e in entries if e['ok']), key=lambda e: e['line'])
    assert len(local) == len(remote) == 4

    def same(e):
        return {k: v for k, v in e.items()
                if k not in ('filename', 'audio_filename')}
    assert [same(e) for e in remote] == [same(e) for e in local]
    assert all(e['has_audio'] and e['num_frames'] > 0 for e in remote)


def test_build_file_list_parts_and_remote(tiny_toy_av, tmp_path):
    tool = load_script('tools/data/build_file_list.py')
    src = osp.join(tiny_toy_av, 'videos')

    def lines(path):
        return open(path).read().splitlines()

    whole = str(tmp_path / 'whole')
    tool.main(['folder', '--src', src, '--out-dir', whole,
               '--val-ratio', '0.5'])
    parts = str(tmp_path / 'parts')
    for p in range(3):  # 4 classes over 3 parts: 2, 1 and 1 classes
        tool.main(['folder', '--src', src, '--out-dir', parts,
                   '--val-ratio', '0.5', '--num-parts', '3', '--part',
                   str(p)])
    for name in ('train', 'val'):
        got = [lines(osp.join(parts, f'{name}.part-00{p}-of-003.txt'))
               for p in range(3)]
        flat = [x for part in got for x in part]
        assert sorted(flat) == sorted(lines(osp.join(whole, f'{name}.txt')))
        assert len(flat) == len(set(flat)) == 4
    assert lines(osp.join(parts, 'classes.txt')) == lines(
        osp.join(whole, 'classes.txt'))

    # official split files read over HTTP give what the local files give
    ucf = tmp_path / 'ucfTrainTestlist'
    ucf.mkdir()
    (ucf / 'classInd.txt').write_text('1 ApplyEyeMakeup\n2 YoYo\n')
    (ucf / 'trainlist01.txt').write_text(
        'ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\n'
        'YoYo/v_YoYo_g08_c01.avi 2\nYoYo/v_YoYo_g09_c01.avi 2\n')
    (ucf / 'testlist01.txt').write_text('YoYo/v_YoYo_g01_c01.avi\n')
    tool.main(['ucf101', '--src', str(ucf), '--out-dir', str(tmp_path / 'a'),
               '--splits', '1'])
    with serve_directory(str(ucf)) as url:
        for p in range(2):
            tool.main(['ucf101', '--src', url, '--out-dir',
                       str(tmp_path / 'b'), '--splits', '1', '--num-parts',
                       '2', '--part', str(p)])
        with pytest.raises(ValueError, match='pass an annotation list'):
            tool.main(['folder', '--src', url, '--out-dir',
                       str(tmp_path / 'c')])
    name = 'ucf101_train_split_1_videos'
    local = lines(tmp_path / 'a' / f'{name}.txt')
    remote = [lines(tmp_path / 'b' / f'{name}.part-00{p}-of-002.txt')
              for p in range(2)]
    assert remote == [local[0::2], local[1::2]] and len(local) == 3


def _slurm(args, env, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT, PYTHON=sys.executable, **env)
    for key in ('SLURM_ARRAY_TASK_ID', 'SLURM_ARRAY_TASK_COUNT',
                'SLURM_ARRAY_TASK_MIN', 'SLURM_ARRAY_TASK_MAX',
                'SLURM_ARRAY_TASK_STEP'):
        if key not in env or env[key] is None:
            env.pop(key, None)
    return subprocess.run(['bash', SLURM, *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_slurm_array_runs_the_tool_on_its_part(tiny_toy_av, tmp_path):
    src = osp.join(tiny_toy_av, 'videos')
    classes = sorted(os.listdir(src))
    args = ['tools/data/build_file_list.py', 'folder', '--src', src,
            '--out-dir', str(tmp_path)]
    # task 1 of an array of 2 (sbatch --array=0-1), and the second task of
    # --array=5-6 (no SLURM_ARRAY_TASK_COUNT: from MIN and MAX)
    for env in (dict(SLURM_ARRAY_TASK_ID='1', SLURM_ARRAY_TASK_COUNT='2'),
                dict(SLURM_ARRAY_TASK_ID='6', SLURM_ARRAY_TASK_MIN='5',
                     SLURM_ARRAY_TASK_MAX='6', SLURM_ARRAY_TASK_STEP='1')):
        res = _slurm(args, env)
        assert res.returncode == 0, res.stderr
        assert 'task 1 of 2:' in res.stderr
        assert res.stderr.rstrip().endswith('--num-parts 2 --part 1')
        got = open(tmp_path / 'all.part-001-of-002.txt').read().split()[::2]
        assert sorted({p.split('/')[0] for p in got}) == classes[1::2]
        os.remove(tmp_path / 'all.part-001-of-002.txt')
    # outside an array, with a stepped array, or given a part: refused
    for env, extra, msg in (
            (dict(), [], 'submit with sbatch --array=0-'),
            (dict(SLURM_ARRAY_TASK_ID='0', SLURM_ARRAY_TASK_COUNT='2',
                  SLURM_ARRAY_TASK_STEP='2'), [], 'has step 2'),
            (dict(SLURM_ARRAY_TASK_ID='0', SLURM_ARRAY_TASK_COUNT='2'),
             ['--part', '0'], '--part is set from the array')):
        res = _slurm(args + extra, env)
        assert res.returncode == 2 and msg in res.stderr, res.stderr
    assert os.listdir(tmp_path) == ['classes.txt']  # no part was written


def test_check_dataset_over_s3_with_worker_processes(site, tmp_path):
    """s3:// list and media (credentials and endpoint in --backend-args),
    checked in a worker process (spawned: obstore hangs in forked ones), a
    subprocess as a user runs it: every entry checked, the missing object
    named."""
    os.symlink(site, tmp_path / 'bucket')
    with serve_s3(str(tmp_path), access_key='AK') as endpoint:
        args = json.dumps(dict(endpoint_url=endpoint, aws_access_key_id='AK',
                               aws_secret_access_key='x',
                               region='us-east-1'))
        res = subprocess.run(
            [sys.executable, osp.join(ROOT, 'tools/data/check_dataset.py'),
             's3://bucket/with_missing.txt', '--data-prefix', 's3://bucket',
             '--out', str(tmp_path / 'clean.txt'), '--report',
             str(tmp_path / 'report.json'), '--workers', '1', '--timeout',
             '60', '--backend', 'pyav', '--backend-args', args],
            env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
            text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.load(open(tmp_path / 'report.json'))['summary']
    assert (summary['total'], summary['ok'], summary['timed_out']) == (5, 4, 0)
    assert sorted(_list_paths(str(tmp_path / 'clean.txt'))) == sorted(
        _list_paths(osp.join(site, 'train.txt')))
    assert 's3://bucket/videos/gone/x.mp4: video: cannot fetch: not found' \
        in res.stdout
