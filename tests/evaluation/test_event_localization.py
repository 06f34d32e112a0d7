"""Audio-visual event localization (AVE protocol): the segment accuracy
against hand-computed values, the AVE annotation format, the segment
sampler, the toy events set checked against its decoded content, every
event-localization config's model on a tiny input, and the toy chain
(toy AVTSS pretraining -> tools/train.py head -> tools/test.py) with the
printed accuracy recomputed from the dumped predictions and the
annotation file."""
import glob
import os.path as osp
import pickle

import av
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmavcl.datasets import AnnotationError, AVEDataset, SampleEventSegments
from mmavcl.datasets.ave_dataset import read_ave_list
from mmavcl.evaluation import SegmentAccuracyMetric, segment_accuracy
from mmavcl.registry import MODELS
from mmavcl.testing import last_logged_metrics, load_script, make_toy_data
from mmavcl.utils.checkpoint import safe_torch_load

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# torch on one thread in every test here (tests/conftest.py)
pytestmark = pytest.mark.usefixtures('one_thread')
TOY = ('configs/benchmarks/r3d-18/'
       'event-localization_r3d-18_1xb4-8x2x10-20e_toy.py')
PRETRAIN = 'configs/avtss/avtss_r3d-18_toy.py'
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'benchmarks', '*',
                                    'event-localization_*.py')))

# 2 videos x 4 segments, background 9; worked out by hand:
# video 0: gt [9, 1, 1, 9] pred [9, 1, 2, 9] -> 3 right (event 1/2, bg 2/2)
# video 1: gt [3, 3, 3, 9] pred [3, 9, 3, 3] -> 2 right (event 2/3, bg 0/1)
GT = [np.array([9, 1, 1, 9]), np.array([3, 3, 3, 9])]
PRED = [np.array([9, 1, 2, 9]), np.array([3, 9, 3, 3])]


def test_segment_accuracy_hand_computed():
    out = segment_accuracy(PRED, GT, background=9)
    assert out['seg_acc'] == pytest.approx(100 * 5 / 8)
    assert out['event_acc'] == pytest.approx(100 * 3 / 5)
    assert out['bg_acc'] == pytest.approx(100 * 2 / 3)
    # all segments one pool, not a mean of per-video accuracies
    assert out['seg_acc'] != pytest.approx(100 * (3 / 4 + 2 / 4) / 2 + 1)
    with pytest.raises(ValueError, match='segments'):
        segment_accuracy([np.zeros(3)], [np.zeros(4)], 9)


def test_metric_reads_predictions_and_metainfo():
    metric = SegmentAccuracyMetric(background=9)
    samples = [
        dict(pred_segment_labels=torch.from_numpy(p), segment_labels=list(g),
             video_id=f'v{i}') for i, (p, g) in enumerate(zip(PRED, GT))
    ]
    metric.process({}, samples[:1])
    metric.process({}, samples[1:])
    out = metric.compute_metrics(metric.results)
    assert out['seg_acc'] == pytest.approx(62.5)
    assert out['bg_baseline'] == pytest.approx(100 * 3 / 8)
    with pytest.raises(KeyError, match='pred_segment_labels'):
        metric.process({}, [dict(segment_labels=[9], video_id='x')])


def test_ave_format(tmp_path):
    ann = tmp_path / 'trainSet.txt'
    ann.write_text('Category&VideoID&Quality&StartTime&EndTime\n'
                   'Bark&aaa&good&0&10\n'
                   'Cat&bbb&bad&3&7\n'
                   'Cat&ccc&good&1&2\n'
                   'Cat&ccc&good&8&10\n')
    ds = AVEDataset(str(ann), classes=['Bark', 'Cat'])
    assert len(ds) == 3 and ds.background == 2
    info = [ds.get_data_info(i) for i in range(3)]
    assert [i['video_id'] for i in info] == ['aaa.mp4', 'bbb.mp4', 'ccc.mp4']
    assert info[0]['segment_labels'] == [0] * 10
    assert info[1]['segment_labels'] == [2, 2, 2, 1, 1, 1, 1, 2, 2, 2]
    assert info[2]['segment_labels'] == [2, 1, 2, 2, 2, 2, 2, 2, 1, 1]
    assert info[1]['label'] == 1
    bad = tmp_path / 'bad.txt'
    bad.write_text('Bark&aaa&good&0&10\n'
                   'Dog&bbb&good&0&10\n'
                   'Bark&ccc&good&4\n'
                   'Bark&ddd&good&5&12\n'
                   'Bark&eee&good&0&5\nCat&eee&good&4&6\n')
    with pytest.raises(AnnotationError) as err:
        AVEDataset(str(bad), classes=['Bark', 'Cat'])
    msg = str(err.value)
    assert "bad.txt:2: unknown category 'Dog'" in msg
    assert 'bad.txt:3: 4 fields' in msg
    assert 'bad.txt:4: event [5, 12) s outside' in msg
    assert 'eee: segments [4]' in msg


def test_segment_sampler_centres_one_clip_per_second():
    res = SampleEventSegments(clip_len=8, frame_interval=2, audio=True)(
        dict(total_frames=160, fps=16.0, filename='x'))
    starts = [v['frame_inds'][0] for v in res['video_views']]
    assert starts == list(range(0, 160, 16))  # the whole of each second
    assert len(res['audio_views']) == 10
    # 25 fps, 16 frames: centred on (i + 0.5) s, the last one moved inside
    res = SampleEventSegments(clip_len=16, num_segments=10)(
        dict(total_frames=245, fps=25.0, filename='x'))
    starts = [int(v['frame_inds'][0]) for v in res['video_views']]
    want = [int(np.round((i + .5) * 25 - 8)) for i in range(10)]
    want[-1] = 245 - 16
    assert starts == want


@pytest.mark.parametrize('temporal', ['bilstm', 'conv', 'none'])
def test_head_uses_the_neighbouring_segments(temporal):
    """Segment i's label is the sign of segment i-1's first feature: only
    a head that sees its neighbours can learn it ('none' stays near
    chance)."""
    from mmavcl.models import TemporalSegmentHead
    torch.manual_seed(0)
    x = torch.randn(64, 10, 4)
    y = torch.zeros(64, 10, dtype=torch.long)
    y[:, 1:] = (x[:, :-1, 0] > 0).long()
    head = TemporalSegmentHead(num_classes=2, in_channels=4,
                               hidden_channels=16, temporal=temporal,
                               dropout_ratio=0.0)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        head.loss(x, y)['loss_cls'].backward()
        opt.step()
    head.eval()
    logits = head(x)
    assert logits.shape == (64, 10, 2)
    acc = (logits.argmax(-1)[:, 1:] == y[:, 1:]).float().mean().item()
    if temporal == 'none':
        assert acc < 0.7, acc
    else:
        assert acc > 0.95, acc


def _per_second(path, fps, sr=16000):
    """Mean absolute frame difference and audio RMS of each second."""
    with av.open(path) as c:
        frames = np.stack([f.to_ndarray(format='rgb24').astype(np.float32)
                           for f in c.decode(video=0)])
    with av.open(path) as c:
        wave = np.concatenate([f.to_ndarray().mean(0)
                               for f in c.decode(audio=0)])
    diff = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    n = len(frames) // int(fps)
    motion = np.array([diff[i * int(fps):(i + 1) * int(fps) - 1].mean()
                       for i in range(n)])
    rms = np.array([np.sqrt(np.mean(wave[i * sr:(i + 1) * sr]**2))
                    for i in range(n)])
    return motion, rms


def test_toy_events_are_where_the_annotation_says(tmp_path):
    out = str(tmp_path / 'toy_ave')
    split = load_script('tools/data/make_toy_dataset.py').make_toy_events(
        out, num_per_class=2, classes=['horizontal', 'circle_cw'], size=32,
        fps=8.0, num_segments=6, workers=1)
    assert len(split['train']) == 2 and len(split['test']) == 2
    lines = read_ave_list(osp.join(out, 'Annotations.txt'))
    assert open(osp.join(out, 'Annotations.txt')).readline().strip() == (
        'Category&VideoID&Quality&StartTime&EndTime')
    assert len(lines) == 4
    for cat, vid, start, end in lines:
        assert vid.startswith(cat)
        motion, rms = _per_second(osp.join(out, 'AVE', vid + '.mp4'), 8.0)
        want = (np.arange(6) >= start) & (np.arange(6) < end)
        # still camera: sensor noise only; panning: several grey levels
        assert ((motion > 3) == want).all(), (vid, motion, start, end)
        assert ((rms > 0.05) == want).all(), (vid, rms, start, end)
        assert rms[~want].max() < 0.02 and rms[want].min() > 0.1


@pytest.mark.parametrize('path', CONFIGS,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_config_model_runs_tiny_segments(path):
    cfg = Config.fromfile(path)
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    segs, frames = 2, 8
    video = [torch.randint(0, 255, (1, 3, frames, 32, 32), dtype=torch.uint8)
             for _ in range(segs)]
    inputs = dict(video=[v[0] for v in video])
    if model.audio_backbone is not None:
        inputs['audio'] = [torch.randn(16000) for _ in range(segs)]
    from mmavcl.structures import AVDataSample
    sample = AVDataSample(metainfo=dict(segment_labels=[0, 1]))
    data = dict(inputs={k: [[x] for x in v] for k, v in inputs.items()},
                data_samples=[sample])
    with torch.no_grad():
        out = model.test_step(data)[0]
    num_classes = cfg.model.head.num_classes
    assert out.pred_segment_scores.shape == (segs, num_classes)
    assert out.pred_segment_labels.shape == (segs, )
    # frozen encoders: only the head trains
    trainable = {n.split('.')[0] for n, p in model.named_parameters()
                 if p.requires_grad}
    assert trainable == {'head'}


def test_toy_chain_pretrained_head_then_test(tmp_path):
    """docs/evaluation.md, event localization on the toy set: the commands
    as documented (a smaller set, fewer epochs)."""
    make_toy_data(str(tmp_path))  # data/toy_av: 2 videos a class, 2 s
    data = str(tmp_path / 'data' / 'toy_ave')
    load_script('tools/data/make_toy_dataset.py').main([
        '--out', data, '--events', '--num-per-class', '3', '--workers',
        '1'])
    work = str(tmp_path / 'work')
    load_script('tools/train.py').main([
        osp.join(ROOT, PRETRAIN), '--work-dir', f'{work}/avtss',
        '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=4',
        f'train_dataloader.dataset.data_root={tmp_path}/data/toy_av'])
    pre = f'{work}/avtss/epoch_1.pth'
    opts = [f'train_dataloader.dataset.data_root={data}',
            f'test_dataloader.dataset.data_root={data}',
            'train_dataloader.num_workers=0', 'test_dataloader.num_workers=0']
    load_script('tools/train.py').main([
        osp.join(ROOT, TOY), '--work-dir', f'{work}/ev', '--cfg-options',
        f'model.pretrained={pre}', 'train_cfg.max_epochs=3', *opts])
    head_ckpt = f'{work}/ev/epoch_3.pth'
    # the frozen encoders are the pretrained ones, and saved with the head
    pre_sd = safe_torch_load(pre)['state_dict']
    ev_sd = safe_torch_load(head_ckpt)['state_dict']
    for key in ('backbone.conv1.conv.weight',
                'audio_backbone.conv1.conv.weight'):
        if key in pre_sd:
            assert torch.equal(pre_sd[key], ev_sd[key]), key
    assert any(k.startswith('head.rnn.') for k in ev_sd)
    dump = f'{work}/preds.pkl'
    load_script('tools/test.py').main([
        osp.join(ROOT, TOY), head_ckpt, '--work-dir', f'{work}/test',
        '--dump', dump, '--cfg-options', *opts[1::2]])
    logged = last_logged_metrics(f'{work}/test')
    with open(dump, 'rb') as f:
        preds = {p['video_id']: p['pred_segment_labels'].numpy()
                 for p in pickle.load(f)}
    # independently: the test list's seconds, labelled by hand
    classes = ['horizontal', 'vertical', 'circle_cw', 'circle_ccw']
    right = total = right_bg = 0
    for cat, vid, start, end in read_ave_list(f'{data}/testSet.txt'):
        gt = [classes.index(cat) if start <= s < end else 4
              for s in range(10)]
        pred = preds.pop(vid + '.mp4')
        right += int((pred == np.array(gt)).sum())
        right_bg += sum(g == 4 for g in gt)
        total += 10
    assert not preds  # every test video predicted once
    assert logged['event_loc/seg_acc'] == pytest.approx(100 * right / total)
    assert logged['event_loc/bg_baseline'] == pytest.approx(
        100 * right_bg / total)
