"""Sound-source localization end to end (#24 item 1): the toy set's boxes
against its decoded frames and audio, the similarity maps against hand-built
features and GLCL's own modules, the box ground truth of the metric against
hand-built maps, and tools/test.py on the toy set with a checkpoint of the
toy GLCL config, its cIoU/AUC recomputed from the dumped maps; the
visualization tool on that dump."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

from mmavcl.datasets.media import build_video_reader, decode_audio_spans
from mmavcl.evaluation import SoundLocalizationMetric
from mmavcl.models import SoundLocalizer, audio_visual_maps, project_map
from mmavcl.models.necks import ConvMLPNeck, MLPNeck
from mmavcl.registry import MODELS
from mmavcl.testing import last_logged_metrics, load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = ('configs/benchmarks/r3d-18-2path/'
       'sound-localization_r3d-18-2path_1xb2-16x1x3_toy.py')
GLCL_TOY = 'configs/glcl/glcl_r3d-18-2path_toy.py'


@pytest.fixture(scope='module')
def toy_set(tmp_path_factory):
    """4 videos of 2 s (2 val), the generator's pixel boxes."""
    out = str(tmp_path_factory.mktemp('soundloc') / 'toy_soundloc')
    made = load_script('tools/data/make_toy_dataset.py'
                       ).make_sound_localization_set(
                           out, num_videos=4, val_ratio=0.5, duration=2.0)
    return out, made


def test_toy_boxes_are_what_the_decoded_frames_show(toy_set):
    """Only the sounding square has (near) pure white and black pixels:
    their bounding box in each decoded frame is the annotated box (1 px
    of H.264 slack), absent exactly where the square is not in view; the
    tone is on exactly in the frames the square is shown."""
    out, made = toy_set
    for rel, boxes in made['boxes'].items():
        path = osp.join(out, rel)
        frames = build_video_reader(path, backend='pyav').get_batch(
            np.arange(len(boxes)))
        assert len(frames) == 32
        for i, (frame, box) in enumerate(zip(frames, boxes)):
            extreme = (frame > 225).all(-1) | (frame < 30).all(-1)
            ys, xs = np.nonzero(extreme)
            if box[0] < 0:
                assert len(ys) < 3, (rel, i)
                continue
            found = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            np.testing.assert_allclose(found, box, atol=1, err_msg=(rel, i))
        visible = boxes[:, 0] >= 0
        assert visible.any()
        # in view once: one entry at most, one exit at most
        steps = np.diff(visible.astype(int))
        assert (steps == 1).sum() <= 1 and (steps == -1).sum() <= 1
        # frame i spans [i / 16, (i + 1) / 16); skip the frames next to a
        # switch (the AAC frame smears the edge)
        spans = [(i / 16, (i + 1) / 16) for i in range(len(boxes))]
        waves = decode_audio_spans(path, spans)
        for i, (wave, start, rate) in enumerate(waves):
            first = int(round((spans[i][0] - start) * rate))
            wave = wave[first:first + int(rate / 16)]
            if visible[max(i - 1, 0):i + 2].all():
                assert np.sqrt(np.mean(wave**2)) > 0.1, (rel, i)
            elif not visible[max(i - 1, 0):i + 2].any():
                assert np.sqrt(np.mean(wave**2)) < 0.03, (rel, i)
    with open(osp.join(out, 'sound_localization_val.json')) as f:
        records = json.load(f)['data_list']
    assert [r['filename'] for r in records] == [
        line.split()[0] for line in made['val']]
    for rec in records:
        boxes = made['boxes'][rec['filename']]
        shown = {str(i) for i in np.flatnonzero(boxes[:, 0] >= 0)}
        assert set(rec['frames']) == shown
        for key, (annotator, ) in rec['frames'].items():
            np.testing.assert_allclose(np.array(annotator[0]) * 64,
                                       boxes[int(key)])


def test_maps_are_cosines_at_the_right_place():
    # feature cell (t=0, y=1, x=0) equals the audio embedding: cosine 1
    feat = torch.zeros(1, 3, 1, 2, 2)
    feat[0, :, 0] = torch.tensor([[[1., 0.], [0., 1.]],
                                  [[0., 1.], [1., 0.]],
                                  [[0., 0.], [2., 1.]]])
    audio = torch.tensor([[0., 1., 2.]])
    raw = audio_visual_maps(feat, audio)
    # by hand: cells [1,0,0], [0,1,0] / [0,1,2], [1,0,1] against [0,1,2]
    want = torch.tensor([[0., 1 / 5**.5], [1., 2 / 10**.5]])
    torch.testing.assert_close(raw[0, 0], want)
    assert raw[0, 0, 1, 0] == pytest.approx(1.0)
    big = audio_visual_maps(feat, audio, size=(4, 8, 8))
    assert big.shape == (1, 4, 8, 8)
    # corners not aligned: the outer pixels lie beyond the cell centres
    # and keep the corner cells' values
    assert big[0, 0, 7, 0] == pytest.approx(1.0)
    assert big[0, 0, 0, 7] == pytest.approx(float(want[0, 1]))
    assert int(big[0, 2].argmax()) // 8 >= 4  # the hot cell: bottom left
    assert int(big[0, 2].argmax()) % 8 < 4


def test_mlp_projection_at_every_position_is_the_pooled_one_on_a_cell():
    torch.manual_seed(0)
    neck = MLPNeck(in_channels=6, hid_channels=5, out_channels=4,
                   norm_cfg=dict(type='BN1d'), with_last_bn=True).eval()
    neck(torch.randn(8, 6))  # eval BN with default stats; any input
    fmap = torch.randn(2, 6, 3, 2, 2)
    out = project_map(neck, fmap)
    assert out.shape == (2, 4, 3, 2, 2)
    torch.testing.assert_close(out[:, :, 1, 0, 1],
                               neck(fmap[:, :, 1, 0, 1]))
    conv = ConvMLPNeck(in_channels=6, out_channels=4, num_layers=1, ndim=3)
    torch.testing.assert_close(project_map(conv, fmap), conv(fmap))


def _toy_model(config=GLCL_TOY):
    """The initial weights of a toy pretraining config (GLCL's by
    default), eval mode."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def _localizer():
    cfg = Config.fromfile(osp.join(ROOT, TOY))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        return MODELS.build(cfg.model)


def test_glcl_checkpoint_loads_and_maps_are_glcls_similarities():
    glcl = _toy_model()
    loc = _localizer()
    assert isinstance(loc, SoundLocalizer)
    loc.load_state_dict(glcl.state_dict())
    torch.testing.assert_close(loc.video_proj.mlp[0].weight,
                               glcl.slow_proj.mlp[0].weight)
    video = torch.randn(2, 3, 16, 32, 32)
    audio = torch.randn(2, 1, 32, 50)
    maps = loc(dict(video=[video], audio=[audio]), mode='tensor')
    assert maps.shape == (2, 1, 16, 32, 32)
    # GLCL's global similarity s_ii(p), per slow frame, normalised
    with torch.no_grad():
        slow = glcl.slow_proj(glcl.video_maps(video)[0])   # (B, C, T, h, w)
        a = glcl.audio_global_proj(glcl.audio_sequence(audio)).mean(2)
        ref = torch.einsum('bcthw,bc->bthw', slow, a) / (
            slow.norm(dim=1) * a.norm(dim=1)[:, None, None, None])
    torch.testing.assert_close(
        loc(dict(video=[video], audio=[audio]), mode='tensor')[:, 0],
        torch.nn.functional.interpolate(
            ref[:, None], size=(16, 32, 32), mode='trilinear')[:, 0])
    # a checkpoint without the slow projection is refused by name
    sd = {k: v for k, v in glcl.state_dict().items()
          if not k.startswith('slow_proj.')}
    with pytest.raises(KeyError, match='video_proj'):
        _localizer().load_state_dict(sd)


def _write_list(path, records):
    path.write_text(json.dumps(dict(metainfo={}, data_list=records)))
    return str(path)


def test_metric_builds_box_maps_through_crops_and_nearest_frames(tmp_path):
    """A source frame 16x8 (H x W); boxes normalised to it; views resized
    (and cropped) to 8x4 maps. Values worked out by hand."""
    ann = _write_list(tmp_path / 'sl.json', [
        dict(filename='a.mp4', frames={
            # left half of the frame, two annotators agreeing
            '10': [[[0, 0, 0.5, 1]], [[0, 0, 0.5, 1]]],
            # top quarter, one annotator (two boxes united)
            '31': [[[0, 0, 0.5, 0.25], [0.5, 0, 1, 0.25]]]})])
    metric = SoundLocalizationMetric(ann_file=ann)
    left = torch.zeros(8, 4)
    left[:, :2] = 1 + torch.arange(8.)[:, None]  # top half of values left
    top = torch.zeros(8, 4)
    top[:2] = 5.0
    top[2:4, :2] = 4.0
    heat = torch.stack([torch.stack([left, top]),
                        torch.stack([top, left])])        # (V=2, T=2, 8, 4)
    sample = dict(video_id='a.mp4', source_shape=(16, 8), heatmaps=heat,
                  view_meta=[dict(frame_inds=np.array([9, 11]),
                                  crop_box=(0, 0, 8, 16), flip=False),
                             dict(frame_inds=np.array([29, 30]),
                                  crop_box=(0, 0, 8, 16), flip=False)])
    metric.process({}, [sample])
    # frame 10: nearest sampled frame 9 (view 0, t 0, the `left` map):
    # median threshold 1 -> the 14 left pixels above it of 16 left pixels:
    # cIoU = 14 / 16. Frame 31: nearest 30 (view 1, t 1, `left` again) vs
    # the top 2 rows (8 px): of its 14 predicted pixels (rows 1-7 of the
    # left half) 2 lie in row 1: 2 / (8 + 12)
    assert metric.results[0] == pytest.approx([14 / 16, 2 / 20])
    # flipped view: the left box becomes the right half
    flipped = dict(sample, view_meta=[
        dict(sample['view_meta'][0], flip=True), sample['view_meta'][1]])
    metric.results.clear()
    metric.process({}, [flipped])
    assert metric.results[0][0] == 0.0
    # a crop of the right half: the left-half box is outside it
    cropped = dict(sample, view_meta=[
        dict(sample['view_meta'][0], crop_box=(4, 0, 8, 16)),
        sample['view_meta'][1]])
    metric.results.clear()
    metric.process({}, [cropped])
    assert metric.results[0][0] == 0.0
    with pytest.raises(KeyError, match='b.mp4'):
        metric.process({}, [dict(sample, video_id='b.mp4')])
    bad = _write_list(tmp_path / 'bad.json', [
        dict(filename='a.mp4', frames={'3': [[[0.5, 0, 0.2, 1]]]})])
    with pytest.raises(ValueError, match='bad.json.*a.mp4'):
        SoundLocalizationMetric(ann_file=bad)


def _ciou_by_hand(heat, box):
    """Median-thresholded map vs a 0/1 pixel box (x2, y2 exclusive)."""
    gt = np.zeros(heat.shape)
    gt[box[1]:box[3], box[0]:box[2]] = 1
    pred = heat > np.sort(heat.ravel())[heat.size // 2]
    return (pred & (gt > 0)).sum() / (gt.sum() + (pred & (gt == 0)).sum())


TOY_PAIRS = [
    (TOY, GLCL_TOY, (3, 16)),
    ('configs/benchmarks/r3d-18/sound-localization_r3d-18_1xb2-8x1x6_toy.py',
     'configs/avtss/avtss_r3d-18_toy.py', (6, 8)),
]


@pytest.mark.parametrize('config,pretrain,views', TOY_PAIRS,
                         ids=['glcl', 'avtss'])
def test_toy_sound_localization_end_to_end(toy_set, tmp_path, config,
                                           pretrain, views):
    out, made = toy_set
    ckpt = str(tmp_path / 'toy.pth')
    torch.save(dict(state_dict=_toy_model(pretrain).state_dict(), meta={}),
               ckpt)
    dump = str(tmp_path / 'preds.pkl')
    ann = f'{out}/sound_localization_val.json'
    load_script('tools/test.py').main([
        osp.join(ROOT, config), ckpt, '--work-dir', str(tmp_path / 'work'),
        '--dump', dump, '--cfg-options',
        f'test_dataloader.dataset.data_root={out}',
        'test_dataloader.num_workers=0', f'test_evaluator.ann_file={ann}'])
    logged = last_logged_metrics(str(tmp_path / 'work'))

    # independently: every frame with the square in view, the map of the
    # first sampled frame with that index, the generator's pixel box
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 2
    cious = []
    for p in preds:
        assert p['heatmaps'].shape == views + (64, 64)
        boxes = made['boxes'][p['video_id']]
        # clips overlap (3 x 16 or 6 x 8 frames of 32): a frame's first
        at = {}
        for v, m in enumerate(p['view_meta']):
            for t, i in enumerate(m['frame_inds']):
                at.setdefault(int(i), (v, t))
        for i in np.flatnonzero(boxes[:, 0] >= 0):
            v, t = at[i]
            cious.append(_ciou_by_hand(p['heatmaps'][v, t].numpy(),
                                       boxes[i]))
    cious = np.array(cious)
    assert len(cious) == sum((b[:, 0] >= 0).sum()
                             for v, b in made['boxes'].items()
                             if f'{v} 0' in made['val'])
    thr = np.arange(21) / 20
    success = np.array([(cious >= t).mean() for t in thr])
    auc = np.sum((success[1:] + success[:-1]) / 2) / 20
    assert logged['sound_loc/cIoU@0.5'] == pytest.approx(
        100 * (cious >= 0.5).mean())
    assert logged['sound_loc/AUC'] == pytest.approx(100 * auc, abs=1e-3)
    assert logged['sound_loc/mean_cIoU'] == pytest.approx(
        100 * cious.mean(), abs=1e-3)

    # the visualization tool on the same dump
    written = load_script('tools/analysis/vis_sound_localization.py').main([
        dump, '--data-root', out, '--out', str(tmp_path / 'vis'),
        '--ann-file', ann, '--num-frames', '3', '--scale', '2'])
    assert len(written) == 4
    png = np.asarray(Image.open(written[0]).convert('RGB'))
    assert png.shape == (128, 3 * 128, 3)
    green = (png[..., 1] == 255) & (png[..., 0] == 0) & (png[..., 2] == 0)
    assert green.any()  # the annotated box is drawn
    gif = Image.open(written[1])
    assert gif.n_frames == views[0] * views[1]


PAPER_PAIRS = [
    ('r3d-18-2path',
     'configs/glcl/glcl_r3d-18-2path_8xb32-32x1x1-10e_k400.py'),
    ('r2plus1d-18',
     'configs/avtss/avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py'),
    ('r3d-18', 'configs/baselines/'
     'avc_r3d-18_audio-r2d-18_8xb32-16x2x1-200e_vggsound.py'),
]


@pytest.mark.parametrize('backbone,pretrain', PAPER_PAIRS,
                         ids=[b for b, _ in PAPER_PAIRS])
def test_paper_localizers_load_their_pretraining_checkpoint(backbone,
                                                            pretrain):
    """Each set's sound-localization model takes the state dict of the
    paper pretraining config it names (every key, every shape), and
    computes the pretraining's log-mel (only the step count differs)."""
    bench = osp.join(ROOT, 'configs/benchmarks', backbone,
                     f'sound-localization_{backbone}_8xb4-16x1x1_vggss.py')
    pre_cfg = Config.fromfile(osp.join(ROOT, pretrain))
    loc_cfg = Config.fromfile(bench)
    with DefaultScope.overwrite_default_scope('mmavcl'):
        pre = MODELS.build(pre_cfg.model)
        loc = MODELS.build(loc_cfg.model)
    loc.load_state_dict(pre.state_dict())
    own = dict(loc.named_parameters())
    key = next(k for k in own if k.startswith('video_proj.'))
    src = loc_cfg.model.checkpoint_prefixes['video_proj'] + key.split(
        '.', 1)[1]
    torch.testing.assert_close(own[key], pre.state_dict()[src])
    a = dict(loc_cfg.model.data_preprocessor.audio_cfg)
    b = dict(pre_cfg.model.data_preprocessor.audio_cfg)
    a.pop('num_steps', None)
    b.pop('num_steps', None)
    assert a == b
    for norm in ('mean', 'std'):
        assert loc_cfg.model.data_preprocessor.get(norm) == \
            pre_cfg.model.data_preprocessor.get(norm), norm


def test_local_maps_compare_each_frame_with_its_own_sound():
    # two steps: step 0's audio matches cell (0, 0), step 1's cell (1, 1)
    feat = torch.zeros(1, 2, 2, 2, 2)
    feat[0, 0, 0, 0, 0] = feat[0, 1, 1, 1, 1] = 1.0
    feat[0, 1, 0, 1, 1] = feat[0, 0, 1, 0, 0] = 0.5
    audio = torch.tensor([[[1., 0.], [0., 1.]]])          # (B, C, T)
    maps = audio_visual_maps(feat, audio)
    assert maps[0, 0, 0, 0] == pytest.approx(1.0)
    assert maps[0, 0, 1, 1] == pytest.approx(0.0)
    assert maps[0, 1, 1, 1] == pytest.approx(1.0)
    assert maps[0, 1, 0, 0] == pytest.approx(0.0)
    with pytest.raises(ValueError, match='audio embeddings'):
        audio_visual_maps(feat, torch.ones(1, 2, 3))


def test_glcl_local_features_give_per_frame_maps():
    """GLCL's local branch: the fast pathway through fast_proj against
    audio_local_proj's sequence, averaged over each frame's window (the
    frame's own audio steps, r = Ta' / T)."""
    glcl = _toy_model()
    cfg = Config.fromfile(osp.join(ROOT, TOY))
    proj = dict(type='ConvMLPNeck', in_channels=16, out_channels=16,
                num_layers=1, ndim=3)
    model = dict(cfg.model, video_stage=1, audio_time='local',
                 video_proj=proj,
                 audio_proj=dict(proj, in_channels=64, ndim=1),
                 checkpoint_prefixes=dict(video_proj='fast_proj.',
                                          audio_proj='audio_local_proj.'))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        loc = MODELS.build(model)
    loc.load_state_dict(glcl.state_dict())
    video = torch.randn(2, 3, 16, 32, 32)
    audio = torch.randn(2, 1, 32, 48)  # 3 steps a frame
    with torch.no_grad():
        maps = loc.heatmaps(video, audio)
        fast = glcl.fast_proj(glcl.video_maps(video)[1])   # (B, C, 16, h, w)
        seq = glcl.audio_local_proj(glcl.audio_sequence(audio))
    r = seq.shape[2] // fast.shape[2]
    assert r * fast.shape[2] == seq.shape[2]
    a = seq.reshape(*seq.shape[:2], fast.shape[2], r).mean(3)
    ref = torch.einsum('bcthw,bct->bthw', fast, a) / (
        fast.norm(dim=1) * a.norm(dim=1)[..., None, None])
    torch.testing.assert_close(maps, torch.nn.functional.interpolate(
        ref[:, None], size=(16, 32, 32), mode='trilinear')[:, 0])
    with pytest.raises(ValueError, match='pointwise'):
        with DefaultScope.overwrite_default_scope('mmavcl'):
            MODELS.build(dict(cfg.model, audio_time='local', audio_proj=dict(
                type='MLPNeck', in_channels=64, out_channels=8)))
