"""model-index.yml and the per-method metafiles (OpenMMLab format): every
pretraining config of a method folder is listed once, under its file name,
with a path from the repository root that exists, in a collection of that
metafile, and with the epochs and total batch its merged config really has.
Benchmark configs (``configs/benchmarks/``, one set per backbone) and the
demo (``configs/demo/``) are not model-zoo entries. ``mim search`` reading
the index: tests/tools/test_openmmlab_tools.py."""
import glob
import os.path as osp
import re

import pytest
import yaml
from mmengine.config import Config

import mmavcl  # noqa: F401  (the mmavcl:: prefix inside some configs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NOT_IN_ZOO = ('_base_', 'benchmarks', 'demo')


def _load(rel: str) -> dict:
    with open(osp.join(ROOT, rel), encoding='utf-8') as f:
        return yaml.safe_load(f)


def _metafiles() -> dict:
    return {rel: _load(rel) for rel in _load('model-index.yml')['Import']}


def _method_configs() -> list:
    found = [osp.relpath(p, ROOT) for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)]
    return sorted(p for p in found
                  if p.split('/')[1] not in NOT_IN_ZOO)


def test_index_imports_one_metafile_per_method_folder():
    imported = _load('model-index.yml')['Import']
    on_disk = sorted(osp.relpath(p, ROOT) for p in glob.glob(
        osp.join(ROOT, 'configs', '*', 'metafile.yml')))
    assert sorted(imported) == on_disk
    folders = {p.split('/')[1] for p in _method_configs() if p.count('/') > 1}
    assert {p.split('/')[1] for p in on_disk} == folders


def test_every_method_config_is_listed_once_and_exists():
    listed = []
    for rel, meta in _metafiles().items():
        collections = {c['Name'] for c in meta['Collections']}
        for c in meta['Collections']:
            assert osp.isfile(osp.join(ROOT, c['README'])), (rel, c)
        for m in meta['Models']:
            assert osp.isfile(osp.join(ROOT, m['Config'])), (rel, m['Name'])
            assert m['Name'] == osp.splitext(osp.basename(m['Config']))[0]
            assert m['In Collection'] in collections, (rel, m['Name'])
            # no released weights yet: nothing may pretend otherwise
            assert m['Weights'] is None and m['Results'] == [], m['Name']
            listed.append(m['Config'])
    assert len(listed) == len(set(listed)), 'a config is listed twice'
    assert sorted(listed) == _method_configs()


@pytest.mark.parametrize(
    'entry', [m for meta in _metafiles().values() for m in meta['Models']],
    ids=lambda m: m['Name'])
def test_metadata_matches_the_merged_config(entry):
    cfg = Config.fromfile(osp.join(ROOT, entry['Config']))
    meta = entry['Metadata']
    assert meta['Epochs'] == cfg.train_cfg.max_epochs
    gpus = re.search(r'_(\d+)xb\d+-', osp.basename(entry['Config']))
    per_gpu = cfg.train_dataloader.batch_size
    if gpus:
        assert meta['Batch Size'] == int(gpus.group(1)) * per_gpu
        assert meta['Training Resources'] == f'{gpus.group(1)} GPUs'
    assert meta['Architecture'][0] == cfg.model.type


_BB = r'(?:r3d-18|r3d-18-2path|r3d-50|r2plus1d-18|tsn-r50|audio-r[12]d-18)'
_METHOD = r'(?:vclr|glcl|ctrlaug|avtss|moco|simclr|avc)'
_PAPER = re.compile(rf'^{_METHOD}_{_BB}(?:_{_BB})?_\d+xb\d+-\d+x\d+x\d+-'
                    rf'\d+e_(?:k400|vggsound)$')
_TOY = re.compile(rf'^{_METHOD}_{_BB}_toy$')
# feature extraction for temporal localizers names its snippet stride
# (`16x1-s16`: 16 frames, interval 1, a snippet every 16 frames)
_BENCH = re.compile(rf'^(?:linear|finetune|retrieval|fingerprint|'
                    rf'tal-features|event-localization|sound-localization)'
                    rf'_{_BB}_\d+xb\d+-'
                    rf'(?:\d+x\d+x\d+|\d+s|\d+x\d+-s\d+)(?:-\d+e)?_'
                    rf'[a-z0-9]+(?:-\w+)?$')


def test_config_names_follow_the_scheme():
    """docs/config.md, "Naming": every config file name (the entry point
    and the demo excepted, as documented there), and the scheme's method
    and backbone names are the ones the doc lists."""
    bad = []
    for path in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                          recursive=True):
        rel = osp.relpath(path, ROOT)
        parts = rel.split('/')
        if '_base_' in parts or parts[1] == 'demo' or \
                rel == 'configs/vclr_r3d_k400.py':
            continue
        stem = osp.splitext(parts[-1])[0]
        ok = _BENCH.match(stem) if parts[1] == 'benchmarks' else (
            _PAPER.match(stem) or _TOY.match(stem))
        if not ok:
            bad.append(rel)
    assert not bad, bad
    with open(osp.join(ROOT, 'docs', 'config.md'), encoding='utf-8') as f:
        doc = f.read()
    for name in re.findall(r'\w[\w-]*', _METHOD[3:-1]):
        assert f'`{name}`' in doc, name
    for name in ('r3d-18-2path', 'r3d-18_audio-r2d-18', 'fingerprint',
                 'tal-features', '16x1-s16', 'event-localization', 'lrw',
                 'ffpp-c23', 'sound-localization'):
        assert f'`{name}`' in doc, name
