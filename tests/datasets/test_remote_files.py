"""Remote media through mmengine's fileio: the toy set served over HTTP on
loopback (a real server), read into memory by every reader."""
import os
import os.path as osp

import numpy as np
import pytest

from mmavcl.datasets import AVVideoDataset, MediaDecodeError
from mmavcl.datasets.media import remote
from mmavcl.datasets.media.remote import FetchedFile, fetch_media
from mmavcl.datasets.transforms import DecodeAudioViews, VideoInit
from mmavcl.testing import make_audio_file, serve_directory

PIPE = [
    dict(type='VideoInit', backend='pyav'),
    dict(type='SampleClips', clip_len=4, frame_interval=2, num_clips=1,
         mode='uniform', audio=True),
    dict(type='DecodeVideoViews'),
    dict(type='DecodeAudioViews', sample_rate=16000),
    dict(type='PackAVInputs'),
]


@pytest.fixture(scope='module')
def http_root(tiny_toy_av):
    with serve_directory(tiny_toy_av) as url:
        yield url


def _first_video(root):
    with open(osp.join(root, 'train.txt')) as f:
        return f.readline().split()[0]


@pytest.mark.parametrize('backend', ['pyav', 'decord'])
def test_video_from_http_equals_local(tiny_toy_av, http_root, backend):
    rel = _first_video(tiny_toy_av)
    frames = {}
    for name in (osp.join(tiny_toy_av, rel), f'{http_root}/{rel}'):
        res = VideoInit(backend=backend, decode_short_side=32)(
            dict(filename=name))
        reader = res['video_reader']
        assert isinstance(reader.filename, FetchedFile) == ('://' in name)
        frames[name] = (reader.get_batch([0, 5, 9]), res['total_frames'],
                        res['fps'])
        reader.close()
    (a, na, fa), (b, nb, fb) = frames.values()
    assert (na, fa) == (nb, fb)
    np.testing.assert_array_equal(a, b)


def test_dataset_from_http_list_and_media(tiny_toy_av, http_root):
    local = AVVideoDataset('train.txt', pipeline=PIPE,
                           data_root=tiny_toy_av)
    remote_ds = AVVideoDataset('train.txt', pipeline=PIPE,
                               data_root=http_root,
                               backend_args=dict(backend='http'))
    assert len(local) == len(remote_ds) == 4
    a, b = local[1], remote_ds[1]
    assert b['data_samples'].metainfo['filename'].startswith(http_root)
    for key in ('video', 'audio'):
        np.testing.assert_array_equal(a['inputs'][key][0].numpy(),
                                      b['inputs'][key][0].numpy())


def test_wav_sidecar_from_http(tmp_path):
    wav = make_audio_file(str(tmp_path / 'a.wav'), duration=1.0)['path']
    with serve_directory(str(tmp_path)) as url:
        views = [dict(time_span=(0.1, 0.6))]
        loc = DecodeAudioViews()(dict(audio_filename=wav, filename='x',
                                      audio_views=[dict(v) for v in views]))
        rem = DecodeAudioViews()(dict(audio_filename=f'{url}/a.wav',
                                      filename='x',
                                      audio_views=[dict(v) for v in views]))
        np.testing.assert_array_equal(loc['audio_wavs'][0],
                                      rem['audio_wavs'][0])
        # a missing remote sidecar is missing audio, not a crash
        out = DecodeAudioViews(on_missing_audio='silence')(
            dict(audio_filename=f'{url}/none.wav', filename='x',
                 audio_views=[dict(v) for v in views]))
        assert out['audio_views'][0]['missing']


def test_404_names_the_url_and_is_skipped(tiny_toy_av, http_root, tmp_path,
                                          monkeypatch):
    url = f'{http_root}/videos/nope.mp4'
    with pytest.raises(MediaDecodeError, match='nope.mp4.*HTTP 404'):
        VideoInit()(dict(filename=url))
    # through the bad-sample policy: one good and one missing video
    lst = tmp_path / 'list.txt'
    lst.write_text(f'{_first_video(tiny_toy_av)} 0\nvideos/nope.mp4 1\n')
    with serve_directory(str(tmp_path)) as list_url:
        ds = AVVideoDataset(f'{list_url}/list.txt', pipeline=PIPE,
                            data_root=http_root, bad_sample_policy='skip')
        out = ds[1]
        skipped = out['data_samples'].metainfo['skipped_bad_samples']
        assert skipped[0][0] == url and '404' in skipped[0][1]


def test_dead_server_is_an_error_not_a_hang(monkeypatch):
    from mmavcl.testing import free_port
    monkeypatch.setattr(remote, 'FETCH_RETRIES', 2)
    url = f'http://127.0.0.1:{free_port()}/v.mp4'
    with pytest.raises(MediaDecodeError, match=r'v\.mp4.*after 3 attempts'):
        fetch_media(url)


def test_missing_http_list_names_it(http_root):
    with pytest.raises(FileNotFoundError, match='nope.txt.*404'):
        AVVideoDataset(f'{http_root}/nope.txt')


@pytest.fixture
def s3_env(tiny_toy_av, tmp_path, monkeypatch):
    """The toy set as bucket ``toy`` of a loopback S3 endpoint, credentials
    and endpoint in the standard AWS_* variables."""
    from mmavcl.testing import serve_s3_to_env
    os.symlink(tiny_toy_av, tmp_path / 'toy')
    with serve_s3_to_env(str(tmp_path), monkeypatch,
                         access_key='AKIDTEST') as endpoint:
        yield endpoint


def test_dataset_from_s3_env_vars(tiny_toy_av, s3_env):
    local = AVVideoDataset('train.txt', pipeline=PIPE,
                           data_root=tiny_toy_av)
    s3 = AVVideoDataset('train.txt', pipeline=PIPE, data_root='s3://toy')
    a, b = local[2], s3[2]
    np.testing.assert_array_equal(a['inputs']['video'][0].numpy(),
                                  b['inputs']['video'][0].numpy())
    np.testing.assert_array_equal(a['inputs']['audio'][0].numpy(),
                                  b['inputs']['audio'][0].numpy())
    with pytest.raises(MediaDecodeError, match='s3://toy/videos/no.mp4'):
        VideoInit()(dict(filename='s3://toy/videos/no.mp4'))


def test_s3_credentials_from_backend_args(tiny_toy_av, s3_env,
                                          monkeypatch):
    rel = _first_video(tiny_toy_av)
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'WRONG')
    with pytest.raises(MediaDecodeError, match=f's3://toy/{rel}'):
        VideoInit()(dict(filename=f's3://toy/{rel}'))
    res = VideoInit(backend_args=dict(
        endpoint_url=s3_env, aws_access_key_id='AKIDTEST',
        aws_secret_access_key='secret'))(dict(filename=f's3://toy/{rel}'))
    assert res['total_frames'] == 32


@pytest.mark.parametrize('text,transient', [
    # obstore's message for a refused connection carries its duration;
    # '403' in it made the stopped-server test skip its retries at random
    ('Error performing HEAD http://127.0.0.1:33355/b/x.tar in 403.2µs - '
     'HTTP error: error sending request', True),
    ('connect to 127.0.0.1:40403 refused', True),
    ('Client error with status 403 Forbidden: <Error>', False),
    ('HTTP status client error (404 Not Found)', False),
])
def test_only_status_codes_make_an_error_final(text, transient):
    assert remote._transient(RuntimeError(text)) is transient
