"""The K400 shard dataset configs (configs/_base_/datasets/k400_*_shards.py)
are their file-based twins with the dataset swapped for AVShardDataset:
the same pipeline, audio source and loader; each builds on real shards of
the toy set and yields the inputs the file-based dataset yields for the same
video (views, video shapes; bit-exact for GLCL's deterministic pipeline)."""
import contextlib
import glob
import io
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import mmavcl.datasets  # noqa: F401
from mmavcl.registry import DATASETS
from mmavcl.testing import load_script, serve_s3

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', '_base_', 'datasets')
SHARD_CFGS = sorted(glob.glob(osp.join(CFG_DIR, 'k400_*_shards.py')))
#: what the loader of a shard config changes (and why: the dataset splits
#: and reshuffles the shards itself, in workers started per epoch from a
#: fork server: obstore does not survive fork())
SWAPPED = {'dataset', 'sampler', 'persistent_workers',
           'multiprocessing_context'}


def _twin(path: str) -> str:
    return path.replace('_shards.py', '.py')


def test_every_method_has_a_shard_config():
    names = {osp.basename(p) for p in SHARD_CFGS}
    for method in ('vclr_segments', 'glcl_clip', 'ctrlaug_global_local',
                   'avtss_pairs', 'ssl_2clip_av'):
        assert f'k400_{method}_shards.py' in names, method


@pytest.mark.parametrize('path', SHARD_CFGS, ids=osp.basename)
def test_shard_config_is_its_twin_with_the_dataset_swapped(path):
    shard, files = Config.fromfile(path), Config.fromfile(_twin(path))
    a, b = shard.train_dataloader, files.train_dataloader
    assert a.dataset.type == 'AVShardDataset'
    assert b.dataset.type == 'AVVideoDataset'
    assert a.dataset.pipeline == b.dataset.pipeline == files.train_pipeline
    assert a.dataset.audio_source == b.dataset.audio_source
    assert a.sampler is None and a.persistent_workers is False
    assert a.multiprocessing_context == 'forkserver'
    assert {k: v for k, v in a.items() if k not in SWAPPED} == \
        {k: v for k, v in b.items() if k not in SWAPPED}


def test_k400_shards_demo_config_is_the_avtss_config_on_shards():
    """The 8-GPU command of docs/data_preparation.md runs this config: the
    AVTSS method config with the loader of k400_avtss_pairs_shards.py."""
    demo = Config.fromfile(osp.join(
        ROOT, 'configs', 'demo',
        'avtss_r2plus1d-18_8xb32-16x1x2-200e_k400_shards.py'))
    method = Config.fromfile(osp.join(
        ROOT, 'configs', 'avtss',
        'avtss_r2plus1d-18_8xb32-16x1x2-200e_k400.py'))
    base = Config.fromfile(osp.join(CFG_DIR, 'k400_avtss_pairs_shards.py'))
    assert demo.train_dataloader == base.train_dataloader
    for key in method:
        if key != 'train_dataloader':
            assert demo[key] == method[key], key


@pytest.fixture(scope='module')
def toy_shards(tiny_toy_av, tmp_path_factory):
    """The 4 training videos of the toy set in 2 shards (make_shards.py)."""
    make_shards = load_script('tools/data/make_shards.py')
    out = str(tmp_path_factory.mktemp('k400_shards'))
    with contextlib.redirect_stdout(io.StringIO()):
        make_shards.make_shards(osp.join(tiny_toy_av, 'train.txt'),
                                tiny_toy_av, out, samples_per_shard=2)
    return out + '/shard-000-{000000..000001}.tar'


def _inputs(item):
    return {k: v for k, v in item['inputs'].items()
            if isinstance(v, (list, torch.Tensor))}


@pytest.mark.parametrize('path', SHARD_CFGS, ids=osp.basename)
def test_shard_config_builds_and_reads_like_its_twin(path, toy_shards,
                                                     tiny_toy_av):
    shard_cfg = Config.fromfile(path).train_dataloader.dataset
    shard_cfg.shards = toy_shards
    ds = DATASETS.build(shard_cfg)
    assert len(ds) == 4  # from the shards' index.json
    first = next(iter(ds))
    key = first['data_samples'].metainfo['filename'].rsplit('#', 1)[1]
    rel = next(ln.split()[0] for ln in open(osp.join(tiny_toy_av,
                                                     'train.txt'))
               if ln.split()[0].replace('/', '_') == key)
    file_cfg = Config.fromfile(_twin(path)).train_dataloader.dataset
    file_cfg.update(data_root=tiny_toy_av, ann_file='train.txt',
                    data_prefix=dict(video=''))
    files = DATASETS.build(file_cfg)
    idx = next(i for i in range(len(files))
               if files.get_data_info(i)['filename'].endswith(rel))
    second = files[idx]
    a, b = _inputs(first), _inputs(second)
    assert a.keys() == b.keys()
    for k in a:
        va = a[k] if isinstance(a[k], list) else [a[k]]
        vb = b[k] if isinstance(b[k], list) else [b[k]]
        assert len(va) == len(vb), k
        if k == 'video':  # an audio view's length follows its drawn speed
            assert [v.shape for v in va] == [v.shape for v in vb]
        if 'glcl' in path:  # no random draw: the same tensors
            for x, y in zip(va, vb):
                np.testing.assert_array_equal(x.numpy(), y.numpy())


@contextlib.contextmanager
def _s3_loader(toy_shards, tmp_path, **loader_options):
    """The GLCL shard config's train loader reading the toy shards from a
    loopback bucket; built (so its length is read from the bucket's
    index.json in this process, and obstore's tokio runtime runs here)."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    os.symlink(osp.dirname(toy_shards), tmp_path / 'bucket')
    cfg = Config.fromfile(osp.join(CFG_DIR, 'k400_glcl_clip_shards.py'))
    loader_cfg = cfg.train_dataloader
    # the config pins batches for a GPU's copies; with no accelerator torch
    # warns that it cannot, and pinning is not what these tests check
    loader_cfg.update(batch_size=2, num_workers=1, pin_memory=False,
                      **loader_options)
    with serve_s3(str(tmp_path)) as endpoint:
        loader_cfg.dataset.update(
            shards='s3://bucket/' + osp.basename(toy_shards),
            backend_args=dict(endpoint_url=endpoint,
                              aws_access_key_id='testing',
                              aws_secret_access_key='x',
                              region='us-east-1'))
        with DefaultScope.overwrite_default_scope('mmavcl'):
            loader = Runner.build_dataloader(loader_cfg)
        assert len(loader) == 2  # 4 samples in batches of 2, by the index
        yield loader, loader_cfg


def test_shard_loader_reads_s3_in_workers_after_the_index(toy_shards,
                                                          tmp_path):
    """A worker reads a shard from the bucket after the main process read
    the index. With workers forked from this process that first read hung
    (measured), hence the configs' fork server; ``timeout`` turns a hang
    into an error here."""
    with _s3_loader(toy_shards, tmp_path, timeout=120) as (loader, _):
        batch = next(iter(loader))
    assert len(batch['data_samples']) == 2


def test_forked_worker_after_an_s3_read_stops_with_the_remedy(toy_shards,
                                                             tmp_path):
    """The same loader with ``fork`` (the default before the configs' fork
    server): the worker's first S3 request would never return; it stops at
    once with an error naming the URL and the setting instead, and it is
    not a bad sample (``bad_sample_policy='skip'`` does not swallow it)."""
    with _s3_loader(toy_shards, tmp_path, timeout=60,
                    multiprocessing_context='fork') as (loader, cfg):
        assert cfg.dataset.bad_sample_policy == 'skip'
        with pytest.raises(Exception) as info:
            next(iter(loader))
    text = str(info.value)
    assert 'ForkedObjectStoreError' in text or 'forked from one' in text
    assert "multiprocessing_context='forkserver'" in text
    assert 's3://bucket/' in text
