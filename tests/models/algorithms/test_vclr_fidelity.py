"""VCLR against the official code (issue #20, section 3): the anchor a and
p2, p3 are the query tuple's own augmented tensors, and the paper configs
scale the lr as 0.1 x global batch / 256.

Official [CODE dataset/dataset_kinetics.py KineticsClipFolderDatasetOrderTSN]:
``frame1_aug1 = queue_images[r]``, ``frame2_aug``, ``frame3_aug`` are the
augmented query frames themselves; only ``frame1_aug2`` (a+) is a fresh
augmentation: 7 augmented frames per sample, not 10.
"""
import copy
import os.path as osp
import types

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner

from alg_helpers import build, close, optim, samples
from test_alg_vclr import B, K, QLEN, reference, vclr_cfg

from mmavcl.datasets.media import write_video
from mmavcl.registry import DATASETS, MODELS, TRANSFORMS
from mmavcl.testing.media import decode_frame_index, timestamp_frames

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CFG = osp.join(ROOT, 'configs')
TSN = 'vclr/vclr_tsn-r50_8xb32-1x1x10-400e_k400.py'
PAPER = [TSN, 'vclr/vclr_r3d-18_8xb32-8x2x10-400e_k400.py',
         'vclr/vclr_r3d-50_8xb16-8x2x10-200e_k400.py', 'vclr_r3d_k400.py']
BITS = 10


# ------------------------------------------------- the loss, by hand
def reuse_batch(seed, frames=2, size=32):
    """7 views [a+, q1..q3, k1..k3] and the sampler's labels."""
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(B, 3, frames, size, size, generator=g)
             for _ in range(2 * K + 1)]
    labels = []
    for i in range(B):
        perm = torch.randperm(K, generator=g).tolist()   # T_q[pos] = seg
        r = [0, K - 1][i % 2]
        where = {seg: pos for pos, seg in enumerate(perm)}
        lab = dict(order=int(torch.randint(4, (1, ), generator=g)),
                   query_index_anchor=where[r])
        for j, seg in enumerate(s for s in range(K) if s != r):
            lab[f'query_index_p{j + 2}'] = where[seg]
        labels.append(lab)
    return dict(inputs=dict(video=views), data_samples=samples(B, labels))


def as_ten_views(data):
    """The 10-view layout [a, a+, p2, p3, q.., k..] the reference reads,
    with a, p2, p3 gathered from the query views sample by sample."""
    views = data['inputs']['video']
    t_q = views[1:K + 1]
    labs = [s.pretext_labels for s in data['data_samples']]

    def gather(key):
        return torch.stack([t_q[lab[key]][i] for i, lab in enumerate(labs)])

    ten = [gather('query_index_anchor'), views[0]]
    ten += [gather(f'query_index_p{j}') for j in range(2, K + 1)]
    return dict(inputs=dict(video=ten + list(views[1:])),
                data_samples=data['data_samples'])


def test_reuse_layout_losses_match_the_hand_written_reference():
    torch.manual_seed(0)
    cfg = vclr_cfg()
    cfg['reuse_query_views'] = True
    model = build(cfg)
    ref = copy.deepcopy(model)
    data = reuse_batch(5)
    log = model.train_step(data, optim(model))
    exp = reference(ref, as_ten_views(data), 'segments')
    for key in ('loss_inter', 'loss_intra', 'loss_segment', 'loss_order'):
        close(log[key], exp[key])
    n_inter = K * B
    close(model.queue_inter.queue[:n_inter], exp['z_keys'])
    close(model.queue_segment.queue[:B], exp['g_k'])
    assert int(model.queue_inter.ptr) == n_inter % QLEN


def test_reuse_layout_errors():
    cfg = vclr_cfg()
    cfg['reuse_query_views'] = True
    model = build(cfg)
    data = reuse_batch(6)
    data['inputs']['video'] = data['inputs']['video'] + [
        data['inputs']['video'][0]] * 3
    with pytest.raises(ValueError, match='exactly 7 video views.*reuse'):
        model.train_step(data, optim(model))
    data = reuse_batch(6)
    for s in data['data_samples']:
        del s.pretext_labels['query_index_p3']
    with pytest.raises(KeyError, match='query_index_p3'):
        model.train_step(data, optim(model))
    data = reuse_batch(6)
    data['data_samples'][0].pretext_labels['query_index_anchor'] = 3
    with pytest.raises(ValueError, match='query_index_anchor'):
        model.train_step(data, optim(model))


# --------------------------------------- the paper config, real data
@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('k400')
    for i, fps in enumerate((30, 25)):
        write_video(str(root / f'v{i}.mp4'),
                    timestamp_frames(int(10 * fps), (64, 80), bits=BITS),
                    fps=fps, keyint=fps)
    (root / 'list.txt').write_text('v0.mp4 0\nv1.mp4 1\n')
    return root


def _pipeline(crop=32):
    cfg = Config.fromfile(osp.join(CFG, TSN))
    pipe = copy.deepcopy(cfg.train_dataloader.dataset.pipeline)
    for t in pipe:
        if t['type'] == 'RandomResizedCropViews':
            t['size'] = crop
    return cfg, pipe


def test_anchor_views_are_the_query_frames_in_decoded_content(video_root):
    """Before any crop: a+ decodes to the frame of T_q[query_index_anchor]
    (the first or last segment's), p2 < p3 to the other two query frames in
    time order, and only 7 views are decoded (10 before)."""
    _, pipe = _pipeline()
    steps = [TRANSFORMS.build(t) for t in pipe
             if t['type'] in ('VideoInit', 'SampleSegments',
                              'DecodeVideoViews')]
    np.random.seed(0)
    for _ in range(20):
        res = dict(filename=str(video_root / 'v0.mp4'))
        for t in steps:
            res = t(res)
        assert len(res['video_imgs']) == 7
        codes = [int(decode_frame_index(x, bits=BITS)[0])
                 for x in res['video_imgs']]
        a_pos, t_q = codes[0], codes[1:4]
        lab = res['pretext_labels']
        a = t_q[lab['query_index_anchor']]
        p2, p3 = t_q[lab['query_index_p2']], t_q[lab['query_index_p3']]
        assert a_pos == a
        assert a in (min(t_q), max(t_q))
        assert sorted([a, p2, p3]) == sorted(t_q) and p2 < p3


def test_model_gets_the_query_tensors_as_a_p2_p3(video_root):
    """Through the TSN config's pipeline, data preprocessor (colour jitter,
    grayscale, blur per view) and model: the tensors the online encoder
    sees as a and the key encoder sees as p2, p3 ARE the augmented query
    views (equal element for element); a+ is a fresh augmentation."""
    cfg, pipe = _pipeline()
    ds = copy.deepcopy(cfg.train_dataloader.dataset)
    ds.update(data_root=str(video_root), ann_file='list.txt',
              data_prefix=dict(video=''), pipeline=pipe)
    dataset = DATASETS.build(ds)
    np.random.seed(1)
    torch.manual_seed(1)
    data = pseudo_collate([dataset[0], dataset[1]])
    assert len(data['inputs']['video']) == 7

    model_cfg = cfg.model.to_dict()
    model_cfg['init_cfg'] = None   # no MoCo file here
    model_cfg['queue_len'] = 16
    model = MODELS.build(model_cfg)
    model.train()
    seen = {}
    pre = model.data_preprocessor.forward

    def spy_pre(*args, **kwargs):
        out = pre(*args, **kwargs)
        seen['views'] = [v.clone() for v in out['inputs']['video']]
        return out

    def spy(name, fn):
        # one encoder per view kind, called with the online modules for
        # queries and the momentum copy for keys: recorded apart
        def wrapped(views, net):
            key = name + ('_key' if net is model.momentum_encoder.module
                          else '')
            seen.setdefault(key, []).append(
                [x.clone() for x in views] if isinstance(views, list)
                else views.clone())
            return fn(views, net)
        return wrapped

    model.data_preprocessor.forward = spy_pre
    model.encode_frame = spy('frame', model.encode_frame)
    model.encode_tuple = spy('tuple', model.encode_tuple)
    log = model.train_step(data, optim(model))
    assert all(torch.isfinite(v).all() for v in log.values())

    views = seen['views']
    assert len(views) == 7          # augmented: a+, q1..q3, k1..k3
    t_q = seen['tuple'][0]
    for got, want in zip(t_q, views[1:4]):
        assert torch.equal(got, want)
    a, = seen['frame']
    a_pos, p2, p3 = seen['frame_key']
    assert torch.equal(a_pos, views[0])
    for i, s in enumerate(data['data_samples']):
        lab = s.pretext_labels
        assert torch.equal(a[i], t_q[lab['query_index_anchor']][i])
        assert torch.equal(p2[i], t_q[lab['query_index_p2']][i])
        assert torch.equal(p3[i], t_q[lab['query_index_p3']][i])
        # a+ shows the same frame with its own crop and colours
        assert not torch.equal(a_pos[i], a[i])


# ------------------------------------------------------------ the lr
@pytest.mark.parametrize('name', PAPER)
def test_paper_configs_scale_lr_by_global_batch_over_256(name):
    """lr = 0.1 x global batch / 256 [CODE train_vclr.py], applied by
    mmengine's own Runner.scale_lr at the configs' 8 GPUs."""
    cfg = Config.fromfile(osp.join(CFG, name))
    assert cfg.auto_scale_lr.enable is True
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.optim_wrapper.optimizer.lr == 0.1
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), cfg.optim_wrapper)
    bs = cfg.train_dataloader.batch_size
    fake = types.SimpleNamespace(
        _train_dataloader=dict(batch_size=bs), world_size=8,
        logger=types.SimpleNamespace(info=lambda *a: None),
        param_schedulers=None)
    Runner.scale_lr(fake, wrapper, cfg.auto_scale_lr)
    lr = wrapper.optimizer.param_groups[0]['lr']
    assert lr == pytest.approx(0.1 * 8 * bs / 256)
    assert lr == pytest.approx({32: 0.1, 16: 0.05}[bs])
