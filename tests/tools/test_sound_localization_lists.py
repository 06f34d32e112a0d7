"""tools/data/build_file_list.py flickr_soundnet / vggss: the released
sound-localization annotations (Flickr-SoundNet's XML per image, VGG-SS's
vggss.json) written small in their formats, converted by the commands of
docs/evaluation.md, and the list checked against numbers worked out by
hand; the list then read by the benchmark's dataset and scored by
SoundLocalizationMetric."""
import json
import os.path as osp
import re
import shlex
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmavcl.evaluation import SoundLocalizationMetric
from mmavcl.registry import DATASETS
from mmavcl.testing import REPO_ROOT, load_script, make_av_video

build_file_list = load_script('tools/data/build_file_list.py')
FLICKR_CFG = ('configs/_base_/datasets/'
              'bench_flickr_soundnet_sound_localization.py')


def _doc_commands(source: str):
    """The argv of the docs/evaluation.md lines that build ``source``'s
    list (the block marked as covered by this file)."""
    with open(osp.join(REPO_ROOT, 'docs/evaluation.md')) as f:
        text = f.read()
    block = re.search(r'test_sound_localization_lists\.py::.*?-->\n```bash\n'
                      r'(.*?)```', text, re.S).group(1)
    lines = block.replace('\\\n', ' ').splitlines()
    argvs = [shlex.split(ln)[2:] for ln in lines
             if f'build_file_list.py {source} ' in ln]
    assert len(argvs) == 1, lines
    return argvs[0]


def _xml(path, annotators, size=None, corner_tags=('xmin', 'ymin', 'xmax',
                                                   'ymax')):
    """An XML in the released layout: one child of the root per
    annotator, one <bbox> per box, a leading element before the corners
    (the public evaluation code skips it)."""
    parts = ['<annotation><filename>x.jpg</filename>']
    if size:
        parts.append(f'<size><width>{size[0]}</width>'
                     f'<height>{size[1]}</height></size>')
    for k, boxes in enumerate(annotators):
        parts.append('<object>')
        for box in boxes:
            corners = ''.join(f'<{t}>{v}</{t}>'
                              for t, v in zip(corner_tags, box))
            parts.append(f'<bbox><worker>{k}</worker>{corners}</bbox>')
        parts.append('</object>')
    path.write_text(''.join(parts) + '</annotation>')


def _run(tmp_path, monkeypatch, source):
    """The doc command, from ``tmp_path`` (where its data/ lies); its
    forked workers find the script's functions by module name."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, 'build_file_list', build_file_list)
    build_file_list.main(_doc_commands(source))


def test_flickr_soundnet_list(tmp_path, monkeypatch):
    root = tmp_path / 'data/flickr_soundnet'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'videos').mkdir()
    # 111: two annotators on the 256 grid (no <size>): the left half, then
    # the top-left quarter and a box of no pixel (dropped)
    _xml(root / 'Annotations/111.xml',
         [[[0, 0, 128, 256]], [[0, 0, 128, 128], [64, 64, 64, 90]]])
    # 222: a <size> of 320x240, corners read by position (unnamed tags)
    _xml(root / 'Annotations/222.xml', [[[80, 60, 240, 180]]],
         size=(320, 240), corner_tags=('a', 'b', 'c', 'd'))
    _xml(root / 'Annotations/333.xml', [[[0, 0, 10, 10]]])  # not a test id
    _xml(root / 'Annotations/444.xml', [[[0, 0, 10, 10]]])  # no video
    (root / 'test_list.txt').write_text('111.png\n222.png\n444.png\n')
    make_av_video(str(root / 'videos/111.mp4'), num_frames=31, fps=12.5,
                  size=(32, 48))
    make_av_video(str(root / 'videos/222.mp4'), num_frames=20, fps=10.0,
                  size=(32, 48), audio=False)
    _run(tmp_path, monkeypatch, 'flickr_soundnet')
    with open(root / 'sound_localization_test.json') as f:
        records = json.load(f)['data_list']
    # middle frames: 31 // 2, 20 // 2
    assert records == [
        dict(filename='111.mp4',
             frames={'15': [[[0, 0, 0.5, 1]], [[0, 0, 0.5, 0.5]]]}),
        dict(filename='222.mp4',
             frames={'10': [[[0.25, 0.25, 0.75, 0.75]]]})]
    missing = (root / 'missing_videos.txt').read_text().split('\n')[0]
    assert missing.startswith('data/flickr_soundnet/videos/444.mp4: missing')

    # the list is the benchmark's: the dataset reads it and centres its
    # 16-frame clip on the annotated frame; the metric scores a map
    # against the consensus by hand: the left half of a 4x4 map, 1 in the
    # top quarter (both annotators), 0.5 below (one): the 7 predicted
    # pixels (the left half but its smallest value) hold 3 x 1 + 4 x 0.5
    # of the ground truth's 4 x 1 + 4 x 0.5
    ann = str(root / 'sound_localization_test.json')
    cfg = Config.fromfile(osp.join(REPO_ROOT, FLICKR_CFG))
    cfg.test_dataloader.dataset.update(
        ann_file=ann, data_prefix=dict(video=str(root / 'videos')))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        ds = DATASETS.build(cfg.test_dataloader.dataset)
        item = ds[0]
    assert len(ds) == 2
    frames = item['data_samples'].view_meta[0]['frame_inds']
    # the clip starts at (31 - 16) / 2 = 7.5, taken as 8: it holds frame 15
    assert list(frames) == list(range(8, 24))
    metric = SoundLocalizationMetric(ann_file=ann,
                                     gt_consensus=cfg.test_evaluator[
                                         'gt_consensus'])
    heat = torch.zeros(4, 4)
    heat[:, :2] = 10 + torch.arange(8.).reshape(4, 2)
    heat[:, 2:] = torch.arange(8.).reshape(4, 2)
    metric.process({}, [dict(
        video_id='111.mp4', source_shape=(32, 48), heatmaps=heat[None, None],
        view_meta=[dict(frame_inds=np.array([15]), crop_box=(0, 0, 48, 32),
                        flip=False)])])
    assert metric.results == [[pytest.approx(5 / 6)]]


@pytest.mark.parametrize('xml,match', [
    ('<annotation><object><bbox>', 'malformed XML'),
    ('<annotation><object><bbox><w/><xmin>9</xmin><ymin>0</ymin>'
     '<xmax>5</xmax><ymax>9</ymax></bbox></object></annotation>',
     r'x2 < x1'),
    ('<annotation><object><bbox><w/><xmin>0</xmin><ymin>0</ymin>'
     '<xmax>300</xmax><ymax>9</ymax></bbox></object></annotation>',
     r'outside \[0, 1\]'),
    ('<annotation><object><bbox><w/><xmin>0</xmin><ymin>a</ymin>'
     '<xmax>3</xmax><ymax>9</ymax></bbox></object></annotation>',
     'pixel corners'),
])
def test_flickr_soundnet_bad_xml_names_file_and_box(tmp_path, xml, match):
    (tmp_path / '7.xml').write_text(xml)
    with pytest.raises(SystemExit, match=rf'7\.xml.*{match}'):
        build_file_list.main(['flickr_soundnet', '--src', str(tmp_path),
                              '--videos', str(tmp_path), '--out-dir',
                              str(tmp_path)])


def _vggss(path, entries):
    path.write_text(json.dumps([dict(file=f, bbox=b, **{'class': 'c'})
                                for f, b in entries]))


def test_vggss_list(tmp_path, monkeypatch):
    root = tmp_path / 'data/vggss'
    videos = tmp_path / 'data/vggsound/videos'
    root.mkdir(parents=True)
    videos.mkdir(parents=True)
    garbage = -2.8823037615171176e+16  # as in the released file
    _vggss(root / 'vggss.json', [
        ('aaaaaaaaaaa_000010', [[0.1, 0.2, 0.5, 0.6],
                                [0.3, 0.2, 0.6, garbage]]),
        ('bbbbbbbbbbb_000000', [[0.0, 0.0, 1.0, 1.0]]),
        ('ccccccccccc_000030', [[0.2, 1.0, 0.7, 1.0]]),  # no pixel
        ('ddddddddddd_000040', [[0.1, 0.1, 0.2, 0.2]]),  # no video
    ])
    # 5 s: frame floor(5 x 12.5) = 62 of 70; a 4 s clip: its last frame
    make_av_video(str(videos / 'aaaaaaaaaaa_000010.mp4'), num_frames=70,
                  fps=12.5, size=(32, 48), audio=False)
    make_av_video(str(videos / 'bbbbbbbbbbb_000000.mp4'), num_frames=40,
                  fps=10.0, size=(32, 48), audio=False)
    make_av_video(str(videos / 'ccccccccccc_000030.mp4'), num_frames=70,
                  fps=12.5, size=(32, 48), audio=False)
    argv = _doc_commands('vggss')
    assert '--clip-boxes' in argv
    # without --clip-boxes the corner outside [0, 1] names its entry
    with pytest.raises(SystemExit, match=r'vggss\.json: entry 0 '
                       r'\(aaaaaaaaaaa_000010\), box 1: .*outside'):
        monkeypatch.chdir(tmp_path)
        build_file_list.main([a for a in argv if a != '--clip-boxes'])
    _run(tmp_path, monkeypatch, 'vggss')
    with open(root / 'sound_localization_test.json') as f:
        records = json.load(f)['data_list']
    assert records == [
        dict(filename='aaaaaaaaaaa_000010.mp4',
             frames={'62': [[[0.1, 0.2, 0.5, 0.6]]]}),
        dict(filename='bbbbbbbbbbb_000000.mp4',
             frames={'39': [[[0.0, 0.0, 1.0, 1.0]]]})]
    assert (root / 'missing_videos.txt').read_text() == \
        'data/vggsound/videos/ddddddddddd_000040.mp4: missing\n'
    # the metric takes the list (it refuses an empty frame or a bad box)
    SoundLocalizationMetric(
        ann_file=str(root / 'sound_localization_test.json'))


@pytest.mark.parametrize('entries,match', [
    ([('a', [[0.6, 0.1, 0.2, 0.5]])], r'entry 0 \(a\), box 0: .*x2 < x1'),
    ([('a', [[0.1, 0.1, 0.2]])], r'entry 0 \(a\), box 0: .*four numbers'),
    ([('a', [[0.1, 0.1, 0.2, 0.2]]), dict(bbox=[])], r'entry 1 needs'),
])
def test_vggss_bad_entries_name_file_and_entry(tmp_path, entries, match):
    path = tmp_path / 'vggss.json'
    path.write_text(json.dumps(
        [e if isinstance(e, dict) else dict(file=e[0], bbox=e[1])
         for e in entries]))
    with pytest.raises(SystemExit, match=rf'vggss\.json: {match}'):
        build_file_list.main(['vggss', '--src', str(path), '--videos',
                              str(tmp_path), '--out-dir', str(tmp_path)])
    assert not (tmp_path / 'sound_localization_test.json').exists()
