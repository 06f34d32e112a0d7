"""tools/data/check_dataset.py on a generated list of good and bad files."""
import csv
import json
import os
import os.path as osp
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from mmavcl.datasets import AVVideoDataset
from mmavcl.testing import (chirp, faststart_copy, make_audio_file,
                            make_av_video, replace_video_packet,
                            timestamp_frames, truncate_file, write_audio,
                            write_garbage, write_video)
from mmavcl.testing.servers import serve_directory

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'data', 'check_dataset.py')
sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp('check')
    v = root / 'videos'
    make_av_video(str(v / 'a' / 'good1.mp4'), num_frames=30, size=(32, 48))
    make_av_video(str(v / 'a' / 'good2.mp4'), num_frames=20, fps=10,
                  size=(32, 32))
    make_av_video(str(v / 'b' / 'silent.mp4'), num_frames=25, size=(32, 32),
                  audio=False)
    (v / 'b' / 'zero.mp4').write_bytes(b'')
    write_garbage(str(v / 'b' / 'garbage.mp4'))
    truncate_file(str(v / 'a' / 'good1.mp4'), 0.5,
                  dst=str(v / 'b' / 'truncated.mp4'))
    lines = ['# header comment',
             'a/good1.mp4 0',             # 2
             'b/zero.mp4 1',              # 3
             'a/good2.mp4 1',             # 4
             'b/garbage.mp4 0',           # 5
             '',
             'b/silent.mp4 2',            # 7
             'b/missing.mp4 2',           # 8
             'b/truncated.mp4 1',         # 9
             'a/good2.mp4 cat',           # 10 bad label
             'a/good1.mp4 0']             # 11 duplicate
    ann = root / 'train.txt'
    ann.write_text('\n'.join(lines) + '\n')
    return dict(root=str(root), videos=str(v), ann=str(ann))


def test_cli_report_and_clean_list(data, tmp_path):
    out, report = str(tmp_path / 'clean.txt'), str(tmp_path / 'r.json')
    proc = subprocess.run(
        [sys.executable, TOOL, data['ann'], '--data-prefix', data['videos'],
         '--workers', '2', '--out', out, '--report', report],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'checked 9 entries: 3 good, 6 bad (1 good without audio)' in \
        proc.stdout
    assert '100%' in proc.stderr  # the progress bar ran to the end
    with open(out) as f:
        assert f.read() == 'a/good1.mp4 0\na/good2.mp4 1\nb/silent.mp4 2\n'
    rep = json.load(open(report))
    by_line = {e['line']: e for e in rep['entries']}
    assert rep['summary']['total'] == 9 and rep['summary']['bad'] == 6
    g1 = by_line[2]
    assert g1['ok'] and g1['has_audio'] and g1['num_frames'] == 30
    assert (g1['width'], g1['height'], g1['fps']) == (48, 32, 25.0)
    assert g1['duration'] == pytest.approx(1.2, abs=0.05)
    assert g1['audio_duration'] == pytest.approx(1.2, abs=0.1)
    assert g1['video_codec'] == 'h264' and g1['vfr'] is False
    assert by_line[4]['fps'] == 10.0 and by_line[4]['num_frames'] == 20
    assert by_line[7]['ok'] and not by_line[7]['has_audio']
    reasons = {k: by_line[k]['reason'] for k in (3, 5, 8, 9, 10, 11)}
    assert reasons[3] == 'video: empty file (0 bytes)'
    assert 'Invalid data' in reasons[5]
    assert reasons[8] == 'video: file does not exist'
    assert 'Invalid data' in reasons[9] or 'moov' in reasons[9]
    assert reasons[10].startswith('annotation: non-integer label')
    assert reasons[11] == 'annotation: duplicate of line 2'
    # the cleaned list trains: every entry decodes under the dataset
    ds = AVVideoDataset(out, data_prefix=dict(video=data['videos']),
                        with_label=True, pipeline=[
                            dict(type='VideoInit'),
                            dict(type='SampleClips', clip_len=4),
                            dict(type='DecodeVideoViews'),
                            dict(type='PackAVInputs')])
    assert [ds[i]['data_samples'].gt_label.item() for i in range(3)] == [
        0, 1, 2]


def test_require_audio_csv_report_and_json_list(data, tmp_path):
    from check_dataset import main
    out, report = str(tmp_path / 'clean.txt'), str(tmp_path / 'r.csv')
    summary = main([data['ann'], '--data-prefix', data['videos'],
                    '--workers', '1', '--out', out, '--report', report,
                    '--require-audio', '--min-frames', '25'])
    assert summary['ok'] == 1  # good2 has 20 frames, silent has no audio
    assert open(out).read() == 'a/good1.mp4 0\n'
    rows = {int(r['line']): r for r in csv.DictReader(open(report))}
    assert rows[7]['reason'] == 'audio: no audio stream'
    assert rows[4]['reason'] == ('video: 20 frame(s), fewer than '
                                 'min_frames=25')
    # a JSON list comes back as JSON records
    recs = [dict(filename='a/good1.mp4', label=0),
            dict(filename='b/garbage.mp4', label=1)]
    ann = tmp_path / 'l.json'
    ann.write_text(json.dumps(dict(metainfo=dict(classes=['x', 'y']),
                                   data_list=recs)))
    out = str(tmp_path / 'clean.json')
    main([str(ann), '--data-prefix', data['videos'], '--workers', '1',
          '--out', out])
    assert json.load(open(out)) == dict(metainfo=dict(classes=['x', 'y']),
                                        data_list=recs[:1])


def test_missing_data_prefix_is_one_line(data, tmp_path):
    from check_dataset import main
    with pytest.raises(FileNotFoundError, match=r"data_prefix\['video'\]"):
        main([data['ann'], '--data-prefix', str(tmp_path / 'nope'),
              '--out', str(tmp_path / 'c.txt')])


# ------------------------------------------------------------------ helpers
def _run(args, env=None, timeout=240):
    return subprocess.run([sys.executable, TOOL] + args, capture_output=True,
                          text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def _late_audio_mp4(path, offset, num_frames=60, fps=25, sample_rate=16000):
    """H.264 + AAC whose audio stream starts ``offset`` s after the video
    (its first packet's pts), as cut or badly synced downloads have."""
    frames = timestamp_frames(num_frames, (32, 32))
    wave = chirp(num_frames / fps - offset, sample_rate)
    with av.open(path, 'w') as c:
        vs = c.add_stream('libx264', rate=fps)
        vs.width = vs.height = 32
        vs.pix_fmt = 'yuv420p'
        a = c.add_stream('aac', rate=sample_rate)
        a.layout = 'mono'
        for img in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(img, 'rgb24')):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        first = int(offset * sample_rate)
        for i in range(0, len(wave), 1024):
            f = av.AudioFrame.from_ndarray(wave[None, i:i + 1024].copy(),
                                           format='fltp', layout='mono')
            f.sample_rate, f.pts = sample_rate, first + i
            for p in a.encode(f):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


def _float_wav(path, wave, sample_rate=16000):
    """32-bit float PCM WAV: the format that can hold NaN/Inf samples."""
    with av.open(path, 'w') as c:
        s = c.add_stream('pcm_f32le', rate=sample_rate)
        s.layout = 'mono'
        for i in range(0, len(wave), 1024):
            f = av.AudioFrame.from_ndarray(wave[None, i:i + 1024].copy(),
                                           format='flt', layout='mono')
            f.sample_rate, f.pts = sample_rate, i
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


# ------------------------------------------------- crashes and hangs
@pytest.mark.parametrize('workers', [1, 2])
def test_crash_and_hang_are_reported_and_the_scan_goes_on(
        tmp_path, workers):
    """A file that kills the decoder natively (SIGSEGV, abort) or blocks
    it (a sidecar whose HTTP server accepts the request and never answers)
    is reported with its own reason; the entries checked around it are
    not lost. The old tool hung forever on such files with
    ``--workers 2`` (a lost ``Pool.imap`` task) and died with
    ``--workers 1`` without a report.

    No file is known that crashes this FFmpeg/decord build, so the crash is
    injected through the tool's documented test hook
    (``MMAVCL_CHECK_FAULT``): the worker kills itself with the real signal
    as it starts decoding that file. The hang is real. (A FIFO sidecar
    blocked the same way until the readers refused non-regular files:
    ``tests/datasets/test_not_regular_files.py``.)"""
    v = tmp_path / 'v'
    names = ['g0', 'segv', 'g1', 'abort', 'stall', 'g2', 'g3']
    for n in names:
        make_av_video(str(v / f'{n}.mp4'), num_frames=8, size=(32, 32),
                      audio=False)
    for n in ('g0', 'g1', 'g2', 'g3', 'stall'):
        make_audio_file(str(v / 'audio' / f'{n}.wav'), duration=0.5)
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{n}.mp4 {i}\n' for i, n in enumerate(names)))
    out, report = str(tmp_path / 'clean.txt'), str(tmp_path / 'r.json')
    t = time.monotonic()
    with serve_directory(str(v / 'audio'), stall=['/stall.wav']) as url:
        proc = _run([str(ann), '--data-prefix', str(v), '--audio-source',
                     'sidecar', '--audio-prefix', url, '--workers',
                     str(workers), '--timeout', '3', '--out', out,
                     '--report', report],
                    env={'MMAVCL_CHECK_FAULT':
                         'segv.mp4:segv,abort.mp4:abort'},
                    timeout=120)
    took = time.monotonic() - t
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'checked 7 entries: 4 good, 3 bad' in proc.stdout
    assert 'of which 2 crashed the decoder, 1 timed out' in proc.stdout
    rep = json.load(open(report))
    by_line = {e['line']: e for e in rep['entries']}
    assert by_line[2]['reason'] == \
        'crashed (signal 11: SIGSEGV) while decoding video'
    assert by_line[4]['reason'] == \
        'crashed (signal 6: SIGABRT) while decoding video'
    assert by_line[5]['reason'].startswith(
        'timed out after 3 s while decoding audio')
    assert [by_line[i]['ok'] for i in (1, 3, 6, 7)] == [True] * 4
    assert all(by_line[i]['has_audio'] for i in (1, 3, 6, 7))
    assert rep['summary']['crashed'] == 2 and rep['summary']['timed_out'] == 1
    assert open(out).read() == 'g0.mp4 0\ng1.mp4 2\ng2.mp4 5\ng3.mp4 6\n'
    assert took < 60, took  # one 3 s timeout, not a hang


def test_workers_must_be_positive(tmp_path):
    from check_dataset import parse_args
    with pytest.raises(SystemExit):
        parse_args(['l.txt', '--data-prefix', '.', '--out', 'c.txt',
                    '--workers', '0'])


# ------------------------------------------------- media the readers take
def test_codec_rotation_late_audio_rate_and_nan_audio(tmp_path):
    """What the report says about files the training readers decode:
    AV1 (decord's FFmpeg lacks it: the PyAV fallback decodes it), a
    rotated phone video, audio that starts 1 s after the video (the old
    tool looked for it in [0, 0.5) s and rejected the file), a 44101 Hz
    sidecar (decodable: a warning), and a sidecar holding NaN/Inf (bad).

    The parent first runs a multi-threaded torch op, as a test process or
    a training script has: the odd rate's resampling kernel is built with
    torch in the forked worker, which hung there on the parent's OpenMP
    pool until the 60 s timeout."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.special.i0(torch.rand(1 << 21))
    torch.set_num_threads(threads)
    v = tmp_path / 'v'
    make_av_video(str(v / 'av1.mp4'), num_frames=10, size=(64, 64),
                  audio=False, video_codec='libsvtav1')
    with av.open(str(v / 'rot.mp4'), 'w') as c:
        vs = c.add_stream('libx264', rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 32, 'yuv420p'
        vs.set_display_rotation(90)  # stored 64x32, shown 32x64
        for img in timestamp_frames(10, (32, 64)):
            for p in vs.encode(av.VideoFrame.from_ndarray(img, 'rgb24')):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    _late_audio_mp4(str(v / 'late.mp4'), offset=1.0)
    for n in ('odd', 'nan'):
        make_av_video(str(v / f'{n}.mp4'), num_frames=10, size=(32, 32),
                      audio=False)
    write_audio(str(v / 'odd.wav'), chirp(1.0, 44101), 44101)
    wave = chirp(1.0, 16000)
    wave[100:200], wave[-50:] = np.nan, np.inf
    _float_wav(str(v / 'nan.wav'), wave)
    names = ['av1', 'rot', 'late', 'odd', 'nan']
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{n}.mp4 0\n' for n in names))
    from check_dataset import main

    def check(*extra):
        report = str(tmp_path / 'r.json')
        summary = main([str(ann), '--data-prefix', str(v), '--workers', '2',
                        '--audio-source', 'sidecar', '--out',
                        str(tmp_path / 'c.txt'), '--report', report,
                        *extra])
        return summary, {e['filename'].rsplit('/', 1)[1][:-4]: e
                         for e in json.load(open(report))['entries']}

    summary, got = check()
    assert got['av1']['ok']
    assert got['av1']['video_codec'] in ('libdav1d', 'av1')
    assert got['av1']['rotation'] == 0 and got['av1']['num_frames'] == 10
    assert got['rot']['ok'] and got['rot']['rotation'] == 90
    assert got['odd']['ok'] and got['odd']['audio_rate'] == 44101
    assert got['odd']['unusual_rate'] is True
    assert got['odd']['warning'] == 'unusual audio sample rate 44101 Hz'
    assert got['av1']['unusual_rate'] is None  # no sidecar: no audio
    assert not got['nan']['ok'] and 'non-finite' in got['nan']['reason']
    assert summary['unusual_rate'] == 1
    assert summary['warnings'] == {'unusual audio sample rate 44101 Hz': 1}
    summary, got = check('--reject-unusual-rate')
    assert got['odd']['reason'] == 'audio: unusual audio sample rate 44101 Hz'
    assert got['av1']['ok'] and got['rot']['ok']
    # container audio starting 1 s in: valid, decoded from where it starts
    ann.write_text('late.mp4 0\n')
    summary, got = check('--audio-source', 'container', '--require-audio')
    late = got['late']
    assert late['ok'], late['reason']
    assert late['audio_start'] == pytest.approx(1.0, abs=0.07)  # AAC delay
    assert late['audio_duration'] == pytest.approx(1.4, abs=0.1)
    assert late['duration'] == pytest.approx(2.4, abs=0.05)


#: name -> (container, writer's rotation, hflip, vflip, then the report's
#: rotation and flip: the picture turned counter-clockwise, then mirrored
#: left-right; an upside-down flip is a half turn mirrored)
ORIENTED = {'mirrored': ('mp4', 0, True, False, 0, True),
            'rotated': ('mp4', 90, False, False, 90, False),
            'rotated_mirrored': ('mp4', 90, True, False, 90, True),
            'upside_down': ('mp4', 0, False, True, 180, True),
            'mkv_rotated_mirrored': ('mkv', 270, True, False, 270, True)}


def test_rotation_and_flip_come_from_the_display_matrix(tmp_path):
    """Phone videos (stored 64 wide, 32 high) with a display matrix that
    turns and/or mirrors them: the report gives the matrix as the readers
    apply it (``probe_media``'s ``rotation`` and ``flip``), and the size
    as displayed. Before, ``rotation`` came from PyAV's first decoded
    frame, which reads a left-right mirror as a half turn (the mirrored
    file was reported as turned by 180 degrees), and no flip was
    reported."""
    v = tmp_path / 'v'
    stored = timestamp_frames(4, (32, 64))
    for name, (ext, deg, hflip, vflip, _, _) in ORIENTED.items():
        write_video(str(v / f'{name}.{ext}'), stored, rotation=deg,
                    hflip=hflip, vflip=vflip)
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{n}.{spec[0]} 0\n'
                           for n, spec in ORIENTED.items()))
    report = str(tmp_path / 'r.json')
    from check_dataset import main
    main([str(ann), '--data-prefix', str(v), '--workers', '2', '--out',
          str(tmp_path / 'c.txt'), '--report', report])
    got = {osp.splitext(osp.basename(e['filename']))[0]: e
           for e in json.load(open(report))['entries']}
    for name, (_, _, _, _, rotation, flip) in ORIENTED.items():
        e = got[name]
        assert e['ok'], e['reason']
        assert (e['rotation'], e['flip']) == (rotation, flip), name
        shown = (32, 64) if rotation % 180 == 0 else (64, 32)
        assert (e['height'], e['width']) == shown, name


def test_clean_list_keeps_names_with_unicode_line_breaks(tmp_path):
    """The cleaned list is cut by the parser's own line numbers: names
    holding U+2028, NEL or a form feed (``str.splitlines`` breaks lines at
    them) keep every later line in place."""
    v = tmp_path / 'v'
    names = ['a\u2028b.mp4', 'c\x85d.mp4', 'e\x0cf.mp4', 'g.mp4']
    for n in names:
        make_av_video(str(v / n), num_frames=8, size=(32, 32), audio=False)
    write_garbage(str(v / 'bad.mp4'))
    lines = [f'{names[0]} 0', 'bad.mp4 1', f'{names[1]} 1', f'{names[2]} 2',
             'bad.mp4 2', f'{names[3]} 3']
    ann = tmp_path / 'l.txt'
    ann.write_bytes(('\n'.join(lines) + '\n').encode('utf-8'))
    out = tmp_path / 'clean.txt'
    from check_dataset import main
    summary = main([str(ann), '--data-prefix', str(v), '--workers', '2',
                    '--out', str(out)])
    assert summary['ok'] == 4
    assert out.read_bytes().decode('utf-8') == '\n'.join(
        lines[i] for i in (0, 2, 3, 5)) + '\n'
    ds = AVVideoDataset(str(out), data_prefix=dict(video=str(v)))
    assert [ds.get_data_info(i)['video_id'] for i in range(4)] == names


# ------------------------------------------------- --decode all
def test_decode_all_finds_damage_mid_file_the_ends_miss(tmp_path):
    """``--decode all`` on files damaged where ``--decode ends`` (the
    first and last frames and half seconds) does not look: an MPEG-4 VOP
    cut before its ``vop_coded`` flag at frame 33 of 72 (decord returns
    frame 34 for it), NaN samples 1.2 s into a 3 s float sidecar, and an
    MP4 whose index sits at its top, cut after 43 of its packets, between
    two (the header promises 72 frames: the ends pass it with decord,
    which counts the 43 frames there, and find it with PyAV alone, which
    takes the header's count), and a 16-bit WAV sidecar cut at 1.7 of the
    3 s its header gives (training reads the 1.7 s and pads the rest). A
    clean file passes both; the report names the frame, the time and the
    stream."""
    fps, n = 24, 72
    v = tmp_path / 'v'
    make_av_video(str(v / 'clean.mp4'), num_frames=n, fps=fps,
                  size=(32, 32), audio=False)
    make_audio_file(str(v / 'clean.wav'), duration=3.0)
    src = make_av_video(str(tmp_path / 'src.mkv'), num_frames=n, fps=fps,
                        size=(32, 32), audio=False, video_codec='mpeg4',
                        keyint=n)['path']
    replace_video_packet(src, str(v / 'cut.mkv'), 33, lambda vop: vop[:5])
    make_av_video(str(v / 'nan.mp4'), num_frames=n, fps=fps, size=(32, 32),
                  audio=False)
    wave = chirp(3.0, 16000)
    wave[19200:19207] = np.nan  # 1.2 s in
    _float_wav(str(v / 'nan.wav'), wave)
    # cut where the 44th video packet starts: no packet is left half
    fs = faststart_copy(str(v / 'clean.mp4'), str(tmp_path / 'fs.mp4'))
    with av.open(fs) as c:
        at = [p.pos for p in c.demux(video=0) if p.size][43]
    truncate_file(fs, at / os.path.getsize(fs), dst=str(v / 'trunc.mp4'))
    # a 16-bit WAV sidecar cut at 1.7 s of the 3 s its header gives
    make_av_video(str(v / 'short.mp4'), num_frames=n, fps=fps,
                  size=(32, 32), audio=False)
    make_audio_file(str(tmp_path / 'full.wav'), duration=3.0)
    size = os.path.getsize(tmp_path / 'full.wav')
    head = size - 3 * 16000 * 2  # the bytes before the samples
    truncate_file(str(tmp_path / 'full.wav'),
                  (head + 17 * 1600 * 2) / size, dst=str(v / 'short.wav'))
    # where the cut file's pictures end, by a plain decode: index L + 1
    # still shows picture L (on screen for a frame), L + 2 has none
    with av.open(str(v / 'trunc.mp4')) as c:
        s = c.streams.video[0]
        shown = [round(f.pts * s.time_base * fps) for f in c.decode(s)]
    missing = max(shown) + 2
    names = ['clean.mp4', 'cut.mkv', 'nan.mp4', 'trunc.mp4', 'short.mp4']
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{name} 0\n' for name in names))
    from check_dataset import main

    def check(mode):
        report = str(tmp_path / f'{mode}.json')
        summary = main([str(ann), '--data-prefix', str(v), '--workers', '2',
                        '--audio-source', 'sidecar', '--decode', mode,
                        '--out', str(tmp_path / 'c.txt'), '--report',
                        report])
        assert summary['decode'] == mode
        return {osp.basename(e['filename']): e
                for e in json.load(open(report))['entries']}

    ends = check('ends')
    for name in ('clean.mp4', 'cut.mkv', 'nan.mp4', 'short.mp4'):
        assert ends[name]['ok'], ends[name]['reason']
        assert ends[name]['frames_decoded'] is None
    from mmavcl.datasets.media import decord_available
    if decord_available():  # the default backend counts what is there
        assert ends['trunc.mp4']['ok']
        assert ends['trunc.mp4']['num_frames'] == missing - 1
    else:  # PyAV takes the header's count and misses the last frame
        assert ends['trunc.mp4']['reason'] == \
            f'video: stream ended before frame {n - 1} of {n}'

    full = check('all')
    clean = full['clean.mp4']
    assert clean['ok'] and clean['frames_decoded'] == n
    assert clean['audio_decoded'] == pytest.approx(3.0, abs=0.01)
    assert clean['error_frame'] is None and clean['error_time'] is None
    cut = full['cut.mkv']
    assert cut['reason'] == ('video: frame 33: the decoder returned no '
                             'picture for its packet (corrupt or '
                             'undecodable data)')
    assert (cut['error_frame'], cut['frames_decoded']) == (33, 33)
    assert cut['error_time'] == pytest.approx(33 / fps, abs=1e-4)
    nan = full['nan.mp4']
    assert nan['frames_decoded'] == n  # its video is fine
    assert nan['reason'] == ('audio: non-finite audio samples (7 NaN/Inf) '
                             'from 1.200 s on')
    assert nan['error_time'] == pytest.approx(1.2, abs=1e-4)
    assert nan['audio_decoded'] == pytest.approx(1.2, abs=1e-4)
    trunc = full['trunc.mp4']
    assert trunc['reason'] == \
        f'video: stream ended before frame {missing} of {n}'
    assert trunc['error_frame'] == missing
    short = full['short.mp4']
    assert short['reason'] == ('audio: audio ends at 1.700 s, 1.300 s '
                               'before the 3.000 s its header gives')
    assert short['error_time'] == short['audio_decoded'] == \
        pytest.approx(1.7, abs=1e-4)
    assert [name for name, e in full.items() if e['ok']] == ['clean.mp4']


def test_summary_groups_reasons_that_differ_by_frame_or_path(tmp_path,
                                                            capsys):
    """Two MPEG-4 files with a corrupt packet (a VOP cut before its
    ``vop_coded`` flag) at frames 20 and 33, and two files of random
    bytes: ``--decode all`` reasons that differ only in the frame and in
    the file's own path. The summary counts each pair as one reason; the
    report rows and the printed lines keep each file's own frame, time
    and path."""
    fps, n = 24, 48
    v = tmp_path / 'v'
    v.mkdir()
    src = make_av_video(str(tmp_path / 'src.mkv'), num_frames=n, fps=fps,
                        size=(32, 32), audio=False, video_codec='mpeg4',
                        keyint=n)['path']
    for frame in (20, 33):
        replace_video_packet(src, str(v / f'cut{frame}.mkv'), frame,
                             lambda vop: vop[:5])
    write_garbage(str(v / 'junk1.mp4'))
    write_garbage(str(v / 'junk2.mp4'), seed=1)
    names = ['cut20.mkv', 'cut33.mkv', 'junk1.mp4', 'junk2.mp4']
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{name} 0\n' for name in names))
    from check_dataset import main
    report = str(tmp_path / 'r.json')
    summary = main([str(ann), '--data-prefix', str(v), '--workers', '1',
                    '--audio-source', 'none', '--decode', 'all', '--out',
                    str(tmp_path / 'c.txt'), '--report', report])
    printed = capsys.readouterr().out
    rows = {osp.basename(e['filename']): e
            for e in json.load(open(report))['entries']}
    for frame in (20, 33):
        row = rows[f'cut{frame}.mkv']
        assert row['reason'] == (f'video: frame {frame}: the decoder '
                                 'returned no picture for its packet '
                                 '(corrupt or undecodable data)')
        assert (row['error_frame'], row['frames_decoded']) == (frame, frame)
        assert row['error_time'] == pytest.approx(frame / fps, abs=1e-4)
    junk = {}
    for name in ('junk1.mp4', 'junk2.mp4'):
        path = str(v / name)
        reason = rows[name]['reason']
        assert reason.startswith('video: ') and path in reason
        junk[name] = reason.replace(path, '<file>')
    assert junk['junk1.mp4'] == junk['junk2.mp4']
    for name, row in rows.items():
        assert f'{ann}:{row["line"]}: {row["filename"]}: {row["reason"]}' \
            in printed, name
    assert summary['reasons'] == {
        'video: frame <n>: the decoder returned no picture for its packet '
        '(corrupt or undecodable data)': 2,
        junk['junk1.mp4'].replace('1094995529', '<n>'): 2}


@pytest.mark.parametrize('entry, group', [
    (dict(reason='audio: audio ends at 1.700 s, 1.300 s before the 3.000 s '
          'its header gives', filename='/d/x.mp4', audio_filename='/a/x.wav'),
     'audio: audio ends at <n> s, <n> s before the <n> s its header gives'),
    (dict(reason='audio: non-finite audio samples (7 NaN/Inf) from 1.200 s '
          'on', filename='/d/x.mp4'),
     'audio: non-finite audio samples (<n> NaN/Inf) from <n> s on'),
    # the sidecar's path, not the video's; codec names keep their digits
    (dict(reason="audio: no decoder for mp3 in '/a/x.mp4.wav'",
          filename='/d/x.mp4', audio_filename='/a/x.mp4.wav'),
     "audio: no decoder for mp3 in '<file>'"),
    # a name inside a word or a longer path is not the file's own path
    (dict(reason='annotation: duplicate of line 12', filename='a'),
     'annotation: duplicate of line <n>'),
    (dict(reason='video: cannot open /data/a/x.mp4', filename='a/x.mp4'),
     'video: cannot open /data/a/x.mp4'),
    (dict(reason='crashed (signal 11: SIGSEGV) while decoding video',
          filename='/d/x.mp4'),
     'crashed (signal <n>: SIGSEGV) while decoding video'),
])
def test_reason_group_replaces_numbers_and_the_own_path(entry, group):
    from check_dataset import reason_group
    assert reason_group(entry) == group


def test_audio_reasons_are_the_training_probes(tmp_path):
    """Broken sidecars (random bytes as FLAC and as M4A, an Opus file cut
    at 30 %) get the reason the training's probe
    (``probe_audio_timing``, which ``AudioInit`` calls) raises, word for
    word. FFmpeg opens the random FLAC as an audio stream with no sample
    rate and no samples: bad for both (it was an entry without audio for
    the tool alone, which let it into the cleaned list)."""
    from mmavcl.datasets import MediaDecodeError
    from mmavcl.datasets.media import probe_audio_timing
    v, a = tmp_path / 'v', tmp_path / 'a'
    a.mkdir()
    names = ['flac', 'm4a', 'opus', 'good']
    for name in names:
        make_av_video(str(v / f'{name}.mp4'), num_frames=10, size=(32, 32),
                      audio=False)
    write_garbage(str(a / 'flac.flac'))
    write_garbage(str(a / 'm4a.m4a'))
    make_audio_file(str(tmp_path / 'full.opus'), duration=2.0)
    truncate_file(str(tmp_path / 'full.opus'), 0.3, dst=str(a / 'opus.opus'))
    make_audio_file(str(a / 'good.m4a'), duration=0.4)
    ann = tmp_path / 'l.txt'
    ann.write_text(''.join(f'{name}.mp4 0\n' for name in names))
    from check_dataset import main
    report = str(tmp_path / 'r.json')
    main([str(ann), '--data-prefix', str(v), '--audio-source', 'sidecar',
          '--audio-prefix', str(a), '--workers', '1', '--out',
          str(tmp_path / 'c.txt'), '--report', report])
    rows = {osp.basename(e['filename']): e
            for e in json.load(open(report))['entries']}
    assert rows['good.mp4']['ok'] and rows['good.mp4']['has_audio']
    for name, ext in (('flac', 'flac'), ('m4a', 'm4a'), ('opus', 'opus')):
        sidecar = str(a / f'{name}.{ext}')
        with pytest.raises(MediaDecodeError) as info:
            probe_audio_timing(sidecar)
        row = rows[f'{name}.mp4']
        assert not row['ok'] and row['audio_filename'] == sidecar
        assert row['reason'] == f'audio: {info.value.reason}', name
    assert rows['flac.mp4']['reason'] == \
        'audio: audio stream has no sample rate'
    assert open(tmp_path / 'c.txt').read() == 'good.mp4 0\n'
