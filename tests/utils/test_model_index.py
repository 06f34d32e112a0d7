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
