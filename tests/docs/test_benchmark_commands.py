"""docs/benchmarks.md, "Decoder threads": the three commands run as
printed (their file kinds, thread types and iteration options), on tiny
files: the doc's arguments are kept and small-file options appended
(argparse keeps the last value), so a kind or option the script no longer
has fails here. The full-size runs take minutes; what they print is
checked by ``tests/benchmarks/test_benchmarks.py``."""
import os.path as osp
import shlex
from typing import List

from mmavcl.testing import REPO_ROOT, load_script

DOC = 'docs/benchmarks.md'
SCRIPT = 'benchmarks/benchmark_decode_threads.py'
RUNNABLE = load_script('tests/docs/test_runnable_commands.py')
#: 2.5 s at 16 fps holds a sample's two 16-frame clips of every 2nd frame;
#: 64x48 is the smallest size at which x264 still writes the open GOP the
#: h264-open-gop-mkv kind stands for
TINY = ['--iters', '1', '--rounds', '1', '--workers', '0', '--duration',
        '2.5', '--size', '64x48', '--fps', '16', '--keyint', '8']


def _commands() -> List[List[str]]:
    blocks = [b.script for b in RUNNABLE.shell_blocks()
              if b.where.startswith(DOC + ':') and SCRIPT in b.script
              and 'test_decode_threads_commands_run_as_written' in b.marker]
    assert len(blocks) == 1, f'{DOC}: one block of {SCRIPT} marked ' \
        'covered-by this test'
    return [shlex.split(line)
            for line in blocks[0].replace('\\\n', ' ').splitlines()
            if line.strip()]


def test_decode_threads_commands_run_as_written(tmp_path, monkeypatch):
    commands = _commands()
    assert len(commands) == 3
    # the script imports its neighbour bench_utils, as when run from there
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    bench = load_script(SCRIPT)
    for argv in commands:
        assert argv[:2] == ['python', SCRIPT], argv
        args = argv[2:]
        kinds = args[args.index('--kinds') + 1:]
        kinds = kinds[:next((i for i, a in enumerate(kinds)
                             if a.startswith('--')), len(kinds))]
        rows = bench.main(args + TINY + ['--video-dir', str(tmp_path)])
        assert sorted({r['kind'] for r in rows}) == sorted(kinds), argv
        assert all(r['cpu_ms_per_sample'] > 0 for r in rows), rows
