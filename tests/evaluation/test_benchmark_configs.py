"""The benchmark set of every backbone (configs/benchmarks/<backbone>/*.py):
each config loads, names registered parts, points at the split/fold its name
says, and its model builds and runs a tiny input; every backbone has the
whole set, no two configs are the same, and the commands of the method
READMEs load each pretraining config's weights into the benchmark's
backbone."""
import functools
import glob
import itertools
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmavcl.registry import DATASETS, METRICS, MODELS, TRANSFORMS
from mmavcl.structures import AVDataSample

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(ROOT, 'configs', 'benchmarks')
# configs/benchmarks/_base_/ holds the protocol pieces, not runnable alone
CONFIGS = sorted(p for p in glob.glob(osp.join(BENCH, '*', '*.py'))
                 if osp.basename(osp.dirname(p)) != '_base_')
BACKBONES = sorted({osp.basename(osp.dirname(p)) for p in CONFIGS})
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
           'gallery_dataloader')


def _rel(path):
    return osp.relpath(path, ROOT)


@functools.lru_cache(maxsize=None)
def _load(path):
    return Config.fromfile(path)


def test_there_are_benchmarks_for_every_protocol():
    # {protocol}_{backbone}_{NxbM-...}_{dataset}.py
    names = [osp.basename(c)[:-3].split('_') for c in CONFIGS]
    names = [(n[0], n[-1]) for n in names]
    for proto in ('linear_ucf101-split', 'finetune_ucf101-split',
                  'linear_hmdb51-split', 'finetune_hmdb51-split'):
        for s in (1, 2, 3):
            assert any(f'{p}_{d}' == f'{proto}{s}' for p, d in names), (
                proto, s)
    assert any(f'{p}_{d}' == 'linear_k400' for p, d in names)
    assert any(f'{p}_{d}'.startswith('retrieval_ucf101') for p, d in names)


# audio-visual protocols: only backbones of an audio-visual pretraining
# have them; their model is not an AVRecognizer
AV_PROTOCOLS = ('sound-localization', )
# video backbones that only VCLR (video-only) pretrains: TSN-R50 (the
# paper's) and R3D-50 (our 3D variant)
VIDEO_ONLY = ('tsn-r50', 'r3d-50')


def _av_protocol(path):
    return osp.basename(path).split('_')[0] in AV_PROTOCOLS


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_is_consistent(path):
    cfg = _load(path)
    name = osp.basename(path)
    # event localization: frozen encoders + a temporal head over segments
    # (its models run in tests/evaluation/test_event_localization.py);
    # sound localization: frozen encoders mapping audio onto the frames
    event = name.startswith('event-localization_')
    if _av_protocol(path):
        assert cfg.model.type == 'SoundLocalizer', _rel(path)
    else:
        assert cfg.model.type == ('AVEventLocalizer' if event else
                                  'AVRecognizer'), _rel(path)
    head = cfg.model.head if event else cfg.model.get('cls_head')
    for key in LOADERS:
        loader = cfg.get(key)
        if not loader:
            continue
        ds = loader.dataset
        assert DATASETS.get(ds.type) is not None, (key, ds.type)
        for t in ds.pipeline:
            assert TRANSFORMS.get(t['type']) is not None, (key, t['type'])
        if event:  # the categories + background
            assert len(ds.classes) + 1 == head.num_classes, key
        elif head is not None:
            assert ds.num_classes == head.num_classes, key
        m = re.search(r'split(\d)', name)
        if m:
            assert f'_split_{m.group(1)}_' in ds.ann_file, (key, ds.ann_file)
        m = re.search(r'fold(\d)', name)
        if m:
            assert ds.ann_file.endswith(f'fold{m.group(1)}.txt'), key
    for key in ('val_evaluator', 'test_evaluator'):
        ev = cfg.get(key)
        for m in (ev if isinstance(ev, list) else [ev] if ev else []):
            assert METRICS.get(m['type']) is not None, (key, m['type'])
    if any(p in name for p in ('linear', 'retrieval', 'fingerprint',
                               'tal-features', 'event-localization')):
        assert cfg.model.frozen is True
    if 'finetune' in name:
        assert cfg.model.frozen is False


def _distinct_models():
    """One model per backbone (with a head where a config has one): configs
    that differ only in class count, dropout, freezing or head presence
    share a build (the consistency test checks the rest)."""
    seen = {}
    for path in CONFIGS:
        if _av_protocol(path):
            continue  # test_sound_localization_models_run
        model = _load(path).model
        if model.type != 'AVRecognizer':
            continue
        key = repr((model.backbone.to_dict(), model.modality))
        if key not in seen or seen[key][1].cls_head is None:
            seen[key] = (path, model)
    return list(seen.values())


@pytest.mark.parametrize('path,model_cfg', _distinct_models(),
                         ids=lambda x: _rel(x) if isinstance(x, str) else '')
def test_model_builds_and_runs_tiny_input(path, model_cfg):
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    model.eval()
    if model.modality == 'video':
        views = [torch.randint(0, 255, (3, 8, 16, 16), dtype=torch.uint8)
                 for _ in range(2)]
    else:
        views = [torch.randn(16000) for _ in range(2)]
    data = dict(inputs={model.modality: [[v] for v in views]},
                data_samples=[AVDataSample().set_gt_label(0)])
    with torch.no_grad():
        out = model.test_step(data)[0]
    if model.cls_head is None:
        assert out.features.shape[0] == 2
        assert torch.isfinite(out.features).all()
    else:
        assert out.pred_score.shape == (model.cls_head.num_classes, )
        assert torch.allclose(out.pred_score.sum(), torch.tensor(1.0),
                              atol=1e-5)


def _protocols(backbone):
    """``{protocol_dataset}`` names of a backbone's set, the backbone and
    the ``NxbM-...`` part taken out (``linear_ucf101-split1``)."""
    out = set()
    for path in CONFIGS:
        if osp.basename(osp.dirname(path)) != backbone:
            continue
        proto, bb, _, dataset = osp.basename(path)[:-3].split('_')
        assert bb == backbone, f'{_rel(path)}: name says {bb}'
        if dataset != 'toy':
            out.add(f'{proto}_{dataset}')
    return out


def _uni_modal(protocols):
    return {p for p in protocols if p.split('_')[0] not in AV_PROTOCOLS}


@pytest.mark.parametrize('backbone', BACKBONES)
def test_every_backbone_has_the_whole_set(backbone):
    """Video backbones share one list of protocols, audio ones another;
    the audio-visual protocols come as a whole set too, for every video
    backbone that an audio-visual method pretrains (all but VIDEO_ONLY)."""
    audio = backbone.startswith('audio')
    peers = [b for b in BACKBONES if b.startswith('audio') == audio]
    mine = _protocols(backbone)
    assert _uni_modal(mine) == _uni_modal(_protocols(peers[0])), backbone
    assert len(_uni_modal(mine)) == (6 if audio else 21)
    av = mine - _uni_modal(mine)
    if audio or backbone in VIDEO_ONLY:
        assert not av, backbone
    else:
        assert av == {'sound-localization_flickr-soundnet',
                      'sound-localization_vggss'}, backbone


_SOUND_LOC = [p for p in CONFIGS if _av_protocol(p)]


@pytest.mark.parametrize('path', _SOUND_LOC, ids=_rel)
def test_sound_localization_models_run(path):
    """Each sound-localization model builds, maps a tiny clip and its
    audio to per-frame maps of the clip's size, and names for every module
    where the pretraining checkpoint keeps it."""
    cfg = _load(path)
    with DefaultScope.overwrite_default_scope('mmavcl'):
        model = MODELS.build(cfg.model)
    model.init_weights()
    video = torch.randint(0, 255, (3, 8, 32, 48), dtype=torch.uint8)
    audio = torch.randn(16000)
    data = dict(inputs=dict(video=[[video]], audio=[[audio]]),
                data_samples=[AVDataSample()])
    out = model.test_step(data)[0]
    assert out.heatmaps.shape == (1, 8, 32, 48)
    assert out.heatmaps.abs().max() <= 1 + 1e-5
    assert set(cfg.model.checkpoint_prefixes) >= {'video_proj',
                                                  'audio_proj'}


def test_no_two_benchmark_configs_are_the_same():
    """A copy that differs only in a comment (or a name) merges to the same
    config: one file per backbone and protocol, shared by the methods."""
    merged = {p: repr(sorted(_load(p).to_dict().items())) for p in CONFIGS}
    same = [(_rel(a), _rel(b)) for a, b in itertools.combinations(CONFIGS, 2)
            if merged[a] == merged[b]]
    assert not same, same


README_PAIR = re.compile(
    r'(configs/benchmarks/[\w./-]+\.py)\b.*?'
    r'model\.pretrained=work_dirs/([\w.-]+)/epoch_(\d+)\.pth', re.S)


def _readme_commands():
    """``(readme, benchmark config, pretraining config name, epoch)`` for
    every benchmark command of ``configs/*/README.md`` (continuation lines
    joined)."""
    found = []
    for readme in sorted(glob.glob(osp.join(ROOT, 'configs', '*',
                                            'README.md'))):
        with open(readme, encoding='utf-8') as f:
            text = f.read().replace('\\\n', ' ')
        for line in text.splitlines():
            for m in README_PAIR.finditer(line):
                found.append((_rel(readme), ) + m.groups())
    return found


def test_method_readmes_point_to_the_benchmarks():
    readmes = {r for r, *_ in _readme_commands()}
    for method in ('avtss', 'baselines', 'ctrlaug', 'glcl', 'vclr'):
        assert f'configs/{method}/README.md' in readmes, method
    used = {osp.basename(osp.dirname(c)) for _, c, *_ in _readme_commands()}
    assert used == set(BACKBONES), set(BACKBONES) - used


_SHAPES = {}


def _shapes(backbone_cfg):
    """``{key: shape}`` of the backbone a config dict builds (cached)."""
    key = repr(backbone_cfg)
    if key not in _SHAPES:
        with DefaultScope.overwrite_default_scope('mmavcl'):
            module = MODELS.build(backbone_cfg)
        _SHAPES[key] = {k: tuple(v.shape)
                        for k, v in module.state_dict().items()}
    return _SHAPES[key]


@pytest.mark.parametrize('readme,bench,pretrain,epoch', _readme_commands(),
                         ids=lambda x: osp.basename(str(x)))
def test_readme_command_loads_the_pretraining_weights(readme, bench,
                                                      pretrain, epoch):
    """The checkpoint a README command names is the last one its
    pretraining config writes, and the benchmark builds the backbone that
    checkpoint holds under the benchmark's ``pretrained_prefix`` (keys and
    shapes: what ``load_backbone_checkpoint`` requires)."""
    assert osp.isfile(osp.join(ROOT, bench)), (readme, bench)
    hits = glob.glob(osp.join(ROOT, 'configs', '**', f'{pretrain}.py'),
                     recursive=True)
    assert len(hits) == 1, (readme, pretrain, hits)
    pre = Config.fromfile(hits[0])
    assert pre.train_cfg.max_epochs == int(epoch), (readme, pretrain)
    model = _load(osp.join(ROOT, bench)).model
    owner = model.pretrained_prefix.rstrip('.')
    assert owner in pre.model, (readme, owner)
    assert _shapes(pre.model[owner].to_dict()) == _shapes(
        model.backbone.to_dict()), (readme, bench, pretrain)
    if model.get('audio_backbone'):  # event localization: both encoders
        owner = model.get('audio_pretrained_prefix',
                          'audio_backbone.').rstrip('.')
        assert _shapes(pre.model[owner].to_dict()) == _shapes(
            model.audio_backbone.to_dict()), (readme, bench, pretrain)


VCLR_R3D50 = 'configs/vclr/vclr_r3d-50_8xb16-8x2x10-200e_k400.py'
R3D50_SET = [p for p in CONFIGS
             if osp.basename(osp.dirname(p)) == 'r3d-50']
R3D50_LINEAR = ('configs/benchmarks/r3d-50/'
                'linear_r3d-50_8xb32-16x2x1-100e_k400.py')


def test_vclr_r3d50_checkpoint_loads_into_the_r3d50_set(tmp_path):
    """The state dict of the VCLR R3D-50 pretraining model, saved with
    mmengine's ``save_checkpoint`` (``meta`` and ``state_dict``, as in the
    Runner's checkpoints), reaches the backbone of the r3d-50 set tensor
    for tensor through ``model.pretrained``: the ``init_weights`` that
    tools/train.py, tools/test.py and tools/extract_features.py call (an
    ``AVEventLocalizer`` runs it through ``super()``). The online backbone
    gets random values first, so no tensor can match by coincidence a
    fresh init (BN's ones and zeros) or the momentum encoder's copy, which
    the file also holds."""
    from mmengine.runner.checkpoint import (get_state_dict, save_checkpoint,
                                            weights_to_cpu)
    pre_cfg = Config.fromfile(osp.join(ROOT, VCLR_R3D50))
    with DefaultScope.overwrite_default_scope('mmavcl'):
        pre = MODELS.build(pre_cfg.model)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in pre.backbone.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
            else:  # BN's num_batches_tracked
                t.fill_(1234)
    state = weights_to_cpu(get_state_dict(pre))
    path = str(tmp_path / 'epoch_200.pth')
    save_checkpoint(dict(meta=dict(epoch=200), state_dict=state), path)
    expected = {k[len('backbone.'):]: v for k, v in state.items()
                if k.startswith('backbone.')}
    del pre, state  # about 0.5 GB: only the online backbone is compared
    # every config of the set has the pretraining backbone and prefix, so
    # one build covers the set
    for p in R3D50_SET:
        model = _load(p).model
        assert model.backbone == pre_cfg.model.backbone, _rel(p)
        assert model.pretrained_prefix == 'backbone.', _rel(p)
    bench_cfg = _load(osp.join(ROOT, R3D50_LINEAR)).model.to_dict()
    bench_cfg['pretrained'] = path
    with DefaultScope.overwrite_default_scope('mmavcl'):
        bench = MODELS.build(bench_cfg)
    bench.init_weights()
    got = bench.backbone.state_dict()
    assert sorted(got) == sorted(expected)
    for k, v in got.items():
        assert torch.equal(v, expected[k]), k
