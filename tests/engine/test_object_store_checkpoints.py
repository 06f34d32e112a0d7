"""Checkpoints written to ``out_dir='s3://...'`` by a real ``AVRunner`` on
moto's S3 server (:func:`mmavcl.testing.serve_moto`): they land in the
bucket, ``max_keep_ckpts`` prunes the bucket, ``--resume auto`` finds them
there after the local work dir is gone, a new run does not overwrite them,
and an upload refused by the server
(:func:`mmavcl.testing.failing_uploads`) is retried, or reported with its
URI, without losing an older checkpoint.

mmengine's CheckpointHook failed at the start of training with petrel's
ImportError: it infers a deprecated FileClient from ``out_dir``, whose
table gives ``s3://`` to Petrel."""
import io
import json
import os
import os.path as osp
import shutil
from typing import Dict, List

import pytest
import torch

import engine_toys as T
from mmavcl.datasets.media import remote
from mmavcl.datasets.media.remote import RemoteStorageError
from mmavcl.engine.checkpointing import PreviousRunError
from mmavcl.engine.hooks.safe_logger_hook import own_log_files
from mmavcl.testing import failing_uploads, s3_client_env, serve_moto

BUCKET = 'ckpts'


@pytest.fixture(scope='module')
def moto_endpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp('store')
    os.makedirs(root / BUCKET)
    with serve_moto(str(root), access_key='AK') as endpoint:
        yield endpoint


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """Point the object-store backend at moto; yields a boto3 client (an
    independent reader of the bucket)."""
    import boto3
    for name, value in s3_client_env(moto_endpoint, 'AK').items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(remote, 'FETCH_BACKOFF', 0.01)
    return boto3.client('s3', endpoint_url=moto_endpoint,
                        region_name='us-east-1', aws_access_key_id='AK',
                        aws_secret_access_key='x')


def _keys(client, prefix: str) -> List[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(o['Key'][len(prefix):] for o in listed.get('Contents', []))


def _object(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)['Body'].read()


def _local(*path: str) -> bytes:
    with open(osp.join(*path), 'rb') as f:
        return f.read()


def _object_weights(client, key: str) -> Dict[str, torch.Tensor]:
    data = client.get_object(Bucket=BUCKET, Key=key)['Body'].read()
    return torch.load(io.BytesIO(data), weights_only=False)['state_dict']


def _cfg(work: str, max_iters: int, out_dir: str, **kw):
    cfg = T.toy_cfg(work, by_epoch=False, max_iters=max_iters,
                    sampler='InfiniteSampler', **kw)
    cfg.default_hooks.checkpoint.out_dir = out_dir
    return cfg


def _train(cfg):
    runner = T.build_runner(cfg)
    runner.train()
    return runner


def _assert_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_checkpoints_and_logs_land_in_the_bucket_and_are_pruned(
        tmp_path, s3, moto_endpoint, monkeypatch):
    work = str(tmp_path / 'run1')
    cfg = _cfg(work, 8, f's3://{BUCKET}/exp', ckpt_interval=2,
               max_keep_ckpts=2, validate=True)
    cfg.default_hooks.checkpoint.update(save_best='mean_norm',
                                        rule='greater')
    cfg.default_hooks.logger.out_dir = f's3://{BUCKET}/logs'
    with failing_uploads(moto_endpoint, failures=0) as proxy:
        monkeypatch.setenv('AWS_ENDPOINT_URL', proxy['endpoint'])
        runner = _train(cfg)
    # iter_2 and iter_4 were removed from the bucket as 6 and 8 came, and
    # each earlier best checkpoint as a better one came
    assert len({p for p in proxy['stored'] if '/best_' in p}) > 1
    best = [h for h in runner.hooks if hasattr(h, 'best_ckpt_path')][0]
    assert best.best_ckpt_path.startswith(f's3://{BUCKET}/exp/run1/best_')
    assert _keys(s3, 'exp/run1/') == sorted([
        osp.basename(best.best_ckpt_path), 'iter_6.pth', 'iter_8.pth'])
    assert not [p for p in os.listdir(work) if p.endswith('.pth')]
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == f's3://{BUCKET}/exp/run1/iter_8.pth'
    _assert_equal(_object_weights(s3, 'exp/run1/iter_8.pth'),
                  runner.model.state_dict())
    # SafeLoggerHook uploads the run's log dir when training ends, under
    # the log dir's name as locally
    log_dir = osp.basename(runner.log_dir)
    assert _keys(s3, f'logs/run1/{log_dir}/') == sorted([
        f'{log_dir}.log', f'{log_dir}.py', f'vis_data/{log_dir}.json',
        'vis_data/config.py', 'vis_data/scalars.json'])
    for name in (f'{log_dir}.log', 'vis_data/scalars.json'):
        assert _object(s3, f'logs/run1/{log_dir}/{name}') == \
            _local(runner.log_dir, name)


def test_resume_auto_from_the_bucket_equals_an_unbroken_run(
        tmp_path, s3, moto_endpoint, monkeypatch):
    whole = _train(T.toy_cfg(str(tmp_path / 'whole'), by_epoch=False,
                             max_iters=8, sampler='InfiniteSampler'))
    work = str(tmp_path / 'run2')
    _train(_cfg(work, 4, f's3://{BUCKET}/exp'))
    # the node is lost with its disk: only the bucket holds the run
    shutil.rmtree(work)
    with failing_uploads(moto_endpoint, failures=0) as proxy:
        monkeypatch.setenv('AWS_ENDPOINT_URL', proxy['endpoint'])
        resumed = _train(_cfg(work, 8, f's3://{BUCKET}/exp', resume=True))
    monkeypatch.setenv('AWS_ENDPOINT_URL', moto_endpoint)
    # resumed at 4 (a run from scratch would end equal too, but write 4)
    assert proxy['stored'] == [f'/{BUCKET}/exp/run2/iter_8.pth']
    assert _keys(s3, 'exp/run2/') == ['iter_4.pth', 'iter_8.pth']
    _assert_equal(resumed.model.state_dict(), whole.model.state_dict())
    # an explicit --resume URI, into another work dir
    again = _train(_cfg(str(tmp_path / 'run3'), 8, f's3://{BUCKET}/exp',
                        resume=True,
                        load_from=f's3://{BUCKET}/exp/run2/iter_4.pth'))
    _assert_equal(again.model.state_dict(), whole.model.state_dict())


def test_a_refused_upload_is_retried(tmp_path, s3, moto_endpoint,
                                     monkeypatch):
    with failing_uploads(moto_endpoint, failures=2) as proxy:
        monkeypatch.setenv('AWS_ENDPOINT_URL', proxy['endpoint'])
        _train(_cfg(str(tmp_path / 'run4'), 4, f's3://{BUCKET}/exp'))
    assert proxy['refused'] == [f'/{BUCKET}/exp/run4/iter_4.pth'] * 2
    assert _keys(s3, 'exp/run4/') == ['iter_4.pth']


def test_an_upload_failing_for_good_names_the_uri_and_loses_nothing(
        tmp_path, s3, moto_endpoint, monkeypatch):
    work = str(tmp_path / 'run5')
    _train(_cfg(work, 4, f's3://{BUCKET}/exp', max_keep_ckpts=1))
    before = _object_weights(s3, 'exp/run5/iter_4.pth')
    with failing_uploads(moto_endpoint, failures=None) as proxy:
        monkeypatch.setenv('AWS_ENDPOINT_URL', proxy['endpoint'])
        with pytest.raises(RemoteStorageError, match=(
                f'cannot upload s3://{BUCKET}/exp/run5/iter_8.pth: .*503.*'
                r'\(after 4 attempts\)')):
            _train(_cfg(work, 8, f's3://{BUCKET}/exp', resume=True,
                        max_keep_ckpts=1))
    assert len(proxy['refused']) == 1 + remote.FETCH_RETRIES
    # max_keep_ckpts=1: iter_4 is only removed once iter_8 is stored
    assert _keys(s3, 'exp/run5/') == ['iter_4.pth']
    _assert_equal(_object_weights(s3, 'exp/run5/iter_4.pth'), before)


def test_a_new_run_keeps_an_earlier_runs_checkpoints_in_the_bucket(
        tmp_path, s3):
    """Found in the bucket alone (the local work dir is gone): refused,
    or with start_over moved aside within the bucket."""
    work = str(tmp_path / 'run6')
    _train(_cfg(work, 4, f's3://{BUCKET}/exp'))
    earlier = _object_weights(s3, 'exp/run6/iter_4.pth')
    shutil.rmtree(work)
    with pytest.raises(PreviousRunError,
                       match=f's3://{BUCKET}/exp/run6/iter_4.pth'):
        _train(_cfg(work, 4, f's3://{BUCKET}/exp', lr=0.5))
    assert _keys(s3, 'exp/run6/') == ['iter_4.pth']
    runner = _train(_cfg(work, 4, f's3://{BUCKET}/exp', lr=0.5,
                         start_over=True))
    aside = f'superseded_{runner.timestamp}/iter_4.pth'
    assert _keys(s3, 'exp/run6/') == ['iter_4.pth', aside]
    _assert_equal(_object_weights(s3, f'exp/run6/{aside}'), earlier)
    _assert_equal(_object_weights(s3, 'exp/run6/iter_4.pth'),
                  runner.model.state_dict())


def test_a_later_run_keeps_the_logs_an_earlier_run_uploaded(tmp_path, s3):
    """mmengine's LoggerHook uploads the log dir to ``<out_dir>/<work dir
    name>/<path>``: a resumed run with it replaced the
    ``vis_data/scalars.json`` and ``vis_data/config.py`` of the run before
    it (measured before ``SafeLoggerHook``; the first run here uses
    ``LoggerHook``, as an older config would). ``SafeLoggerHook`` keeps the
    log dir's name in the keys, and leaves a key that exists (two runs of
    one name started in the same second) alone, keeping the local file
    even with ``keep_local=False``."""
    work = str(tmp_path / 'run7')
    cfg = _cfg(work, 4, f's3://{BUCKET}/exp')
    cfg.default_hooks.logger.update(type='LoggerHook',
                                    out_dir=f's3://{BUCKET}/logs')
    first = _train(cfg)
    before = {k: _object(s3, f'logs/run7/{k}')
              for k in _keys(s3, 'logs/run7/')}
    assert 'vis_data/scalars.json' in before
    T.next_timestamp(first.timestamp)
    cfg = _cfg(work, 8, f's3://{BUCKET}/exp', resume=True)
    cfg.default_hooks.logger.update(out_dir=f's3://{BUCKET}/logs',
                                    keep_local=False)
    second = T.build_runner(cfg)
    ts = second.timestamp
    # the key of this run's scalars, taken by a same-second namesake
    taken = f'logs/run7/{ts}/vis_data/scalars.json'
    s3.put_object(Bucket=BUCKET, Key=taken, Body=b'namesake')
    second.train()
    for key, data in before.items():
        assert _object(s3, f'logs/run7/{key}') == data, key
    assert _object(s3, taken) == b'namesake'
    # the scalars stay on disk; the uploaded files are removed locally
    assert json.loads(_local(second.log_dir, 'vis_data/scalars.json')
                      .splitlines()[-1])['iter'] == 8
    assert sorted(_keys(s3, f'logs/run7/{ts}/')) == sorted([
        f'{ts}.log', f'{ts}.py', f'vis_data/{ts}.json',
        'vis_data/config.py', 'vis_data/scalars.json'])
    assert not osp.exists(osp.join(second.log_dir, f'{ts}.py'))
    assert b'max_iters=8' in _object(s3, f'logs/run7/{ts}/{ts}.py')


def test_each_log_file_is_uploaded_by_one_rank():
    """The ranks of a node see one log dir; mmengine uploaded all of it
    from every rank."""
    names = ['20240501_100000.log', '20240501_100000.py',
             'vis_data/scalars.json', 'vis_data/config.py',
             '20240501_100000_node1_device0_rank0.log',
             '20240501_100000_node1_device1_rank1.log',
             '20240501_100000_device3_rank12.log']
    assert own_log_files(names, 0) == [
        '20240501_100000.log', '20240501_100000.py',
        'vis_data/scalars.json', 'vis_data/config.py',
        '20240501_100000_node1_device0_rank0.log']
    assert own_log_files(names, 1) == [
        '20240501_100000_node1_device1_rank1.log']
    assert own_log_files(names, 12) == ['20240501_100000_device3_rank12.log']
    assert own_log_files(names, 2) == []
