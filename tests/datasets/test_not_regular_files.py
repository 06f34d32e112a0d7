"""A FIFO, directory, socket or device where a media file is expected.

Opening a FIFO blocks until a writer comes, so every check runs in a
child process with a timeout: a reader that opens one fails the test
instead of hanging it. The files are real (``os.mkfifo``, a bound Unix
socket, ``/dev/null``); the media next to them is written with PyAV.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from mmavcl.testing import make_av_video, make_audio_file
from mmavcl.testing.scripts import REPO_ROOT

#: what each kind of file is called in the error
KINDS = {'fifo': 'a FIFO (named pipe)', 'dir': 'a directory',
         'socket': 'a socket', 'device': 'a character device'}

#: runs in the child: every entry point on every kind of file, each
#: outcome as ``[type, filename, stream, reason]`` (or ``'ok'``)
CHECKS = textwrap.dedent('''
    import json, sys
    from mmavcl.datasets import AVAudioDataset, AVVideoDataset
    from mmavcl.datasets.media import (DecordVideoReader, PyAVVideoReader,
                                       decode_audio_spans, probe_audio_timing,
                                       probe_media)
    from mmavcl.datasets.media.remote import open_stream

    root, kinds = sys.argv[1], sys.argv[2].split(',')
    video_pipe = [dict(type='VideoInit', backend=None),
                  dict(type='SampleClips', clip_len=4, audio=True),
                  dict(type='DecodeVideoViews'),
                  dict(type='DecodeAudioViews', on_missing_audio='silence'),
                  dict(type='PackAVInputs')]
    audio_pipe = [dict(type='AudioInit'),
                  dict(type='SampleAudioClips', clip_duration=0.5),
                  dict(type='DecodeAudioViews', fixed_duration=0.5),
                  dict(type='PackAVInputs')]

    def outcome(call):
        try:
            call()
        except Exception as err:
            return [type(err).__name__, getattr(err, 'filename', None),
                    getattr(err, 'stream', None),
                    getattr(err, 'reason', str(err))]
        return 'ok'

    def video_ds(name, backend, audio_source='container'):
        with open(f'{root}/list.txt', 'w') as f:
            f.write(f'{name}.mp4 0\\n')
        video_pipe[0]['backend'] = backend
        return AVVideoDataset(f'{root}/list.txt', pipeline=video_pipe,
                              data_prefix=dict(video=root, audio=root),
                              audio_source=audio_source)

    def audio_ds(name):
        with open(f'{root}/audio.txt', 'w') as f:
            f.write(f'{name}.wav 0\\n')
        return AVAudioDataset(f'{root}/audio.txt', pipeline=audio_pipe,
                              data_prefix=dict(audio=root))

    got = {}
    for kind in kinds:
        video, wav = f'{root}/{kind}.mp4', f'{root}/{kind}.wav'
        got[kind] = {
            'dataset decord': outcome(lambda: video_ds(kind, 'decord')[0]),
            'dataset pyav': outcome(lambda: video_ds(kind, 'pyav')[0]),
            # the good video, this kind of file as its sidecar
            'sidecar': outcome(lambda: video_ds(f'good_{kind}', 'pyav',
                                                'sidecar')[0]),
            'audio dataset': outcome(lambda: audio_ds(kind)[0]),
            'PyAVVideoReader': outcome(lambda: PyAVVideoReader(video)),
            'DecordVideoReader': outcome(lambda: DecordVideoReader(video)),
            'probe_media': outcome(lambda: probe_media(video)),
            'probe_audio_timing': outcome(lambda: probe_audio_timing(wav)),
            'decode_audio_spans': outcome(
                lambda: decode_audio_spans(wav, [(0.0, 0.5)])),
            'open_stream': outcome(lambda: open_stream(video).__enter__()),
        }
    got['good'] = outcome(lambda: video_ds('good_fifo', 'pyav')[0])
    print(json.dumps(got))
''')


def _make(kind: str, path: str) -> None:
    if kind == 'fifo':
        os.mkfifo(path)
    elif kind == 'dir':
        os.mkdir(path)
    elif kind == 'device':
        os.symlink(os.devnull, path)  # the link's target is what is read
    else:
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)  # the inode stays after the socket closes
        s.close()


def test_not_a_regular_file_is_a_clear_error_and_never_blocks(tmp_path):
    """Each kind of file, as a video (both backends), as a video's sidecar
    (also under ``on_missing_audio='silence'``: it is a bad file, not a
    missing one), as an audio-only sample, and handed to each reader: a
    ``MediaDecodeError`` ``not a regular file: <path> is a FIFO (named
    pipe)`` naming the file and its stream, at once. Before, a FIFO video
    was an "empty file (0 bytes)" (its size reads 0), and a FIFO sidecar or
    audio sample blocked its reader forever."""
    root = str(tmp_path)
    kinds = sorted(KINDS)
    for kind in kinds:
        for ext in ('.mp4', '.wav'):
            _make(kind, f'{root}/{kind}{ext}')
        make_av_video(f'{root}/good_{kind}.mp4', num_frames=8, size=(32, 32))
        _make(kind, f'{root}/good_{kind}.wav')
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, '-c', CHECKS, root, ','.join(kinds)],
        capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got.pop('good') == 'ok'  # the video itself is fine
    for kind in kinds:
        for entry, result in got[kind].items():
            audio = entry in ('sidecar', 'audio dataset',
                              'probe_audio_timing', 'decode_audio_spans')
            path = f'{root}/{"good_" if entry == "sidecar" else ""}' \
                f'{kind}{".wav" if audio else ".mp4"}'
            stream = 'audio' if audio else (
                'shard' if entry == 'open_stream' else 'video')
            assert result == [
                'MediaDecodeError', path, stream,
                f'not a regular file: {path} is {KINDS[kind]}'
            ], (kind, entry, result)


@pytest.mark.parametrize('workers', [1, 2])
def test_check_dataset_reports_what_the_file_is(tmp_path, workers):
    """``check_dataset.py``: a FIFO, directory or socket as the video, and
    a FIFO as a sidecar, are bad entries naming the path and what it is,
    found at once (well inside ``--timeout``), not "empty file" (a FIFO's
    size reads 0) or a timeout after blocking."""
    from mmavcl.testing import load_script
    check = load_script('tools/data/check_dataset.py')
    v = tmp_path / 'v'
    for n in ('good', 'fifo_sidecar'):
        make_av_video(str(v / f'{n}.mp4'), num_frames=8, size=(32, 32),
                      audio=False)
    make_audio_file(str(v / 'good.wav'), duration=0.5)
    for kind in ('fifo', 'dir', 'socket'):
        _make(kind, str(v / f'{kind}.mp4'))
    os.mkfifo(str(v / 'fifo_sidecar.wav'))
    names = ['good', 'fifo', 'dir', 'socket', 'fifo_sidecar']
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{n}.mp4 0\n' for n in names))
    report = str(tmp_path / 'r.json')
    summary = check.main([str(ann), '--data-prefix', str(v), '--workers',
                          str(workers), '--timeout', '30', '--audio-source',
                          'sidecar', '--out', str(tmp_path / 'c.txt'),
                          '--report', report])
    reasons = {e['filename'].rsplit('/', 1)[1]: e['reason']
               for e in json.load(open(report))['entries']}
    assert reasons['good.mp4'] is None
    for kind in ('fifo', 'dir', 'socket'):
        path = str(v / f'{kind}.mp4')
        assert reasons[f'{kind}.mp4'] == \
            f'video: not a regular file: {path} is {KINDS[kind]}'
    assert reasons['fifo_sidecar.mp4'] == 'audio: not a regular file: ' \
        f'{v / "fifo_sidecar.wav"} is a FIFO (named pipe)'
    assert summary['timed_out'] == 0 and summary['ok'] == 1
