"""Video fingerprinting (AVTSS): the R@k/mAP functional against hand-made
features and a brute-force reference, FingerprintMetric through process /
compute_metrics, and tools/test.py on real edited toy copies with a
checkpoint of the toy AVTSS config, checked against the dumped features."""
import json
import os.path as osp
import pickle

import numpy as np
import pytest
import torch

from mmavcl.evaluation import FingerprintMetric
from mmavcl.evaluation.functional import (fingerprint_ranks,
                                          fingerprint_scores)
from mmavcl.testing import last_logged_metrics, load_script

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = 'configs/benchmarks/r3d-18/fingerprint_r3d-18_1xb4-8x1x5_toy.py'


# gallery: 4 orthonormal videos; queries with ranks worked out by hand
E = np.eye(4)
HAND = dict(
    gallery=E, gallery_ids=['g0', 'g1', 'g2', 'g3'],
    queries=np.stack([
        E[0],                          # exact: rank 0, AP 1
        0.6 * E[1] + 0.8 * E[2],       # g2 (0.8) before g1 (0.6): AP 1/2
        E[2] + E[3],                   # tie g2 = g3: against it, AP 1/2
        0.5 * E[0] + 0.6 * E[1] + 0.62 * E[3],  # g3, g1 before g0: AP 1/3
    ]),
    sources=['g0', 'g1', 'g3', 'g0'], edits=['a', 'a', 'b', 'b'])


def test_hand_built_r1_and_map():
    out = fingerprint_scores(HAND['queries'], HAND['sources'],
                             HAND['edits'], HAND['gallery'],
                             HAND['gallery_ids'], topk=(1, 2))
    ap = [1, 1 / 2, 1 / 2, 1 / 3]
    assert out['R@1'] == pytest.approx(25.0)
    assert out['R@2'] == pytest.approx(75.0)
    assert out['mAP'] == pytest.approx(100 * np.mean(ap))
    assert out['a/R@1'] == pytest.approx(50.0)
    assert out['a/mAP'] == pytest.approx(75.0)
    assert out['b/R@1'] == pytest.approx(0.0)
    assert out['b/R@2'] == pytest.approx(50.0)
    assert out['b/mAP'] == pytest.approx(100 * (1 / 2 + 1 / 3) / 2)


def _brute_force(q, src, g, gid):
    """Sort the gallery for each query (negatives first among equal
    similarities) and read AP off the sorted list."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    first, aps = [], []
    for qi, s in zip(q, src):
        sims = [(float(qi @ gj), gj_id == s)
                for gj, gj_id in zip(g, gid)]
        order = sorted(sims, key=lambda x: (-x[0], x[1]))
        rel = [i for i, (_, p) in enumerate(order) if p]
        first.append(rel[0])
        aps.append(np.mean([(j + 1) / (pos + 1)
                            for j, pos in enumerate(rel)]))
    return np.array(first), np.array(aps)


def test_ranks_match_brute_force_with_several_relevant_items():
    rng = np.random.default_rng(0)
    # gallery rows drawn from the 6 signed axis vectors: a similarity is
    # then one coordinate of the query, so identical rows tie exactly
    # whatever the summation order; ids repeat (1-3 relevant items)
    pool = np.concatenate([np.eye(3), -np.eye(3)])
    g = pool[rng.integers(0, 6, 40)]
    gid = [f'v{i % 17}' for i in range(40)]
    q = rng.normal(size=(25, 3))
    src = [f'v{i % 17}' for i in rng.integers(0, 17, 25)]
    first, ap = fingerprint_ranks(q, src, g, gid, chunk_size=7)
    ref_first, ref_ap = _brute_force(q, src, g, gid)
    np.testing.assert_array_equal(first, ref_first)
    np.testing.assert_allclose(ap, ref_ap, rtol=1e-12)


def test_collapsed_features_score_nothing():
    out = fingerprint_scores(np.ones((3, 8)), ['a', 'b', 'c'], ['x'] * 3,
                             np.ones((5, 8)), list('abcde'))
    assert out['R@1'] == 0.0
    assert out['mAP'] == pytest.approx(100 / 5)


def test_source_missing_from_gallery_is_named():
    with pytest.raises(ValueError, match='zz'):
        fingerprint_ranks(np.eye(2), ['a', 'zz'], np.eye(2), ['a', 'b'])


def _listing(path):
    records = [dict(filename=g, source=g, edit='original')
               for g in HAND['gallery_ids']]
    records += [dict(filename=f'q{i}.mp4', source=s, edit=e)
                for i, (s, e) in enumerate(zip(HAND['sources'],
                                               HAND['edits']))]
    path.write_text(json.dumps(dict(metainfo={}, data_list=records)))
    return str(path)


def test_metric_averages_clips_and_splits_gallery_from_queries(tmp_path):
    metric = FingerprintMetric(ann_file=_listing(tmp_path / 'fp.json'),
                               topk=(1, ))
    rows = [(g, HAND['gallery'][i])
            for i, g in enumerate(HAND['gallery_ids'])]
    rows += [(f'q{i}.mp4', v) for i, v in enumerate(HAND['queries'])]
    rng = np.random.default_rng(1)
    samples = []
    for vid, vec in rows:
        unit = vec / np.linalg.norm(vec)
        # two clips whose normalised mean is the hand-made vector
        noise = rng.normal(size=4)
        noise -= (noise @ unit) * unit
        clips = np.stack([unit + 0.3 * noise, unit - 0.3 * noise])
        clips /= np.linalg.norm(clips, axis=1, keepdims=True)
        samples.append(dict(features=torch.from_numpy(clips).float(),
                            video_id=vid))
    metric.process({}, samples[:5])
    metric.process({}, samples[5:])
    out = metric.compute_metrics(metric.results)
    assert out['R@1'] == pytest.approx(25.0)
    assert out['mAP'] == pytest.approx(100 * np.mean([1, .5, .5, 1 / 3]),
                                       abs=1e-4)
    assert set(out) == {'R@1', 'mAP', 'a/R@1', 'a/mAP', 'b/R@1', 'b/mAP'}


def test_metric_names_a_video_missing_from_the_list(tmp_path):
    metric = FingerprintMetric(ann_file=_listing(tmp_path / 'fp.json'))
    metric.process({}, [dict(features=torch.ones(1, 4),
                             video_id='stray.mp4')])
    with pytest.raises(KeyError, match='stray.mp4'):
        metric.compute_metrics(metric.results)


def _avtss_toy_checkpoint(path):
    """A checkpoint of configs/avtss/avtss_r3d-18_toy.py (its initial
    weights: what matters here is the key layout tools/test.py loads)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmavcl.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs/avtss/avtss_r3d-18_toy.py'))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)


def test_toy_fingerprint_end_to_end(tmp_path):
    data = str(tmp_path / 'toy_av')
    load_script('tools/data/make_toy_dataset.py').make_toy_dataset(
        data, num_per_class=1, classes=['horizontal', 'vertical',
                                        'circle_cw'], duration=1.5,
        workers=1)
    fp_list = f'{data}/fingerprint.json'
    listing = load_script('tools/data/make_fingerprint_queries.py').main([
        'val.txt', '--data-root', data, '--out-list', fp_list,
        '--edits', 'scale', 'crop+reencode'])
    assert len(listing['data_list']) == 3 * 3
    ckpt = str(tmp_path / 'avtss_toy.pth')
    _avtss_toy_checkpoint(ckpt)
    dump = str(tmp_path / 'preds.pkl')
    load_script('tools/test.py').main([
        osp.join(ROOT, TOY), ckpt, '--work-dir', str(tmp_path / 'work'),
        '--dump', dump, '--cfg-options', f'test_dataloader.dataset.'
        f'data_root={data}', 'test_dataloader.num_workers=0',
        f'test_evaluator.ann_file={fp_list}'])
    logged = last_logged_metrics(str(tmp_path / 'work'))

    # independently: mean of the L2-normalised clip features per video,
    # cosine against the originals, rank of the source
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    assert len(preds) == 9
    assert preds[0]['features'].shape == (5, 64)  # 5 clips, 64-d backbone
    vec = {}
    for p in preds:
        x = p['features'].double().numpy()
        x = (x / np.linalg.norm(x, axis=1, keepdims=True)).mean(0)
        vec[p['video_id']] = x / np.linalg.norm(x)
    recs = listing['data_list']
    gal = [r['filename'] for r in recs if r['edit'] == 'original']
    hits, rr = {}, {}
    for r in recs:
        if r['edit'] == 'original':
            continue
        sims = {g: vec[r['filename']] @ vec[g] for g in gal}
        better = sum(s >= sims[r['source']] for g, s in sims.items()
                     if g != r['source'])
        hits.setdefault(r['edit'], []).append(better == 0)
        rr.setdefault(r['edit'], []).append(1 / (1 + better))
    for edit in ('scale', 'crop+reencode'):
        assert logged[f'fingerprint/{edit}/R@1'] == pytest.approx(
            100 * np.mean(hits[edit]))
        assert logged[f'fingerprint/{edit}/mAP'] == pytest.approx(
            100 * np.mean(rr[edit]), abs=1e-3)
    all_rr = [x for v in rr.values() for x in v]
    assert logged['fingerprint/mAP'] == pytest.approx(
        100 * np.mean(all_rr), abs=1e-3)
