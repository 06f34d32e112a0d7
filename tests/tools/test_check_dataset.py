"""tools/data/check_dataset.py on a generated list of good and bad files."""
import csv
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmavcl.datasets import AVVideoDataset
from mmavcl.testing import make_av_video, truncate_file, write_garbage

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
