"""Audio sidecars keep the container's audio/video alignment, on real files
whose audio starts 0.5 s after the first frame or 0.3 s before it.

The sidecars are written by ``tools/data/extract_audio.py`` itself (WAV,
FLAC, and the lossy M4A, Opus and MP3), and the views are compared by
content:
the audio is a chirp whose frequency encodes its time
(:func:`mmavcl.testing.decode_chirp_time`), and the sidecar's views must
equal the container's, ``padded`` flags included.
Also: sidecars without the record (older ones) count from their first
sample, and a video dataset reading one warns once per process (DataLoader
workers included), an audio-only dataset never; a shard's sidecar member is
read the same way, ``probe_audio_timing`` gives a Matroska audio stream its
own duration and every format its decoded samples' (an Ogg Opus stream
without its pre-skip), a video dataset and ``check_dataset.py`` find every
format by default, lossless first, and ``check_dataset.py`` reports a
sidecar's start on the video's clock and counts the sidecars without a
record.
"""
import json
import logging
import shutil

import av
import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.model import BaseModel
from torch.utils.data import DataLoader

from mmavcl.datasets import (AVAudioDataset, AVShardDataset, AVVideoDataset,
                             MediaDecodeError, TooManyBadSamplesError)
from mmavcl.datasets.media import (find_audio_start, probe_audio_timing,
                                   read_audio_start, write_audio)
from mmavcl.datasets.transforms import decoding
from mmavcl.registry import MODELS
from mmavcl.testing import (chirp, decode_audio_views, decode_chirp_time,
                            free_port, load_script, make_av_video, run_ranks)

SR = 16000
#: name -> (start of the video (s), audio start relative to it (s))
FILES = {'late': (0.0, 0.5), 'early': (1.0, -0.3)}
#: sidecar formats extract_audio.py writes
EXTS = ['.wav', '.flac', '.m4a', '.opus', '.mp3']
LOSSY = ('.m4a', '.opus', '.mp3')
#: ext -> (gain, tolerance) of the sidecar's views against the container's.
#: WAV, FLAC: 16-bit quantisation. M4A: re-encoding the container's AAC
#: with the same encoder at the same rate and frame grid, measured 6.3e-5.
#: MP3: LAME scales its output by 0.950 (measured 0.94999-0.95002 on float
#: and 16-bit input, amplitudes 0.1 and 0.5, 440-3000 Hz), then 1.9e-4.
#: Opus (libopus at FFmpeg's default bitrate, decoded at 48 kHz and
#: resampled to 16 kHz): measured 1.17e-2 everywhere, the codec's own error
#: (decoded at 48 kHz against the source chirp: 1.14e-2; shifted by one
#: 48 kHz sample: 0.19).
#: The lossy formats only away from the audio's abrupt start and end
#: (EDGE); a misplaced sidecar, even by a sample (45 degrees of phase at
#: the chirp's 2 kHz), is off by far more
LOSS = {'.wav': (1.0, 1e-4), '.flac': (1.0, 1e-4), '.m4a': (1.0, 3e-4),
        '.opus': (1.0, 1.5e-2), '.mp3': (0.95, 3e-4)}
#: s after the chirp's abrupt onset (0 to 0.5 amplitude) and before its
#: cut-off where a lossy codec's pre-echo and block tail differ between
#: the container's AAC and the re-encoded sidecar (up to 0.08 measured;
#: beyond 0.1 s 9.5e-4 (M4A) and 4.1e-4 (MP3), beyond 0.15 s 4.4e-4 and
#: 2.4e-4, beyond 0.2 s the values above). Where each ends:
#: test_audio_end.py
EDGE = 0.2
#: views (s from the first frame): the first two miss the late audio's
#: start, the last runs past the early audio's end (3.0 s after its start)
SPANS = [(0.0, 0.64), (0.2, 0.84), (1.5, 2.14), (2.5, 3.0)]

#: a video dataset's pipeline: one 16-frame clip at frame 5 and its audio
AV_PIPELINE = [dict(type='VideoInit', backend='pyav'),
               dict(type='SampleClips', clip_len=16, mode='fixed',
                    start_frame=5, audio=True),
               dict(type='DecodeVideoViews'), dict(type='DecodeAudioViews'),
               dict(type='PackAVInputs')]


@pytest.fixture(scope='module')
def sidecars(tmp_path_factory):
    """3 s of timestamp frames and a 3 s chirp (``make_av_video``), MP4
    and MKV, and the WAV and FLAC sidecars the real tool extracts from
    them. FFmpeg's MP4 muxer presents the late audio's AAC priming frame
    (near-silence) in the 64 ms before the chirp: an empty edit of
    0.436 s, then the priming (test_aac_priming.py); the chirp itself is at
    0.5 s in both containers."""
    root = tmp_path_factory.mktemp('sidecars')
    src, out = root / 'videos', root / 'audio'
    for name, (start, delay) in FILES.items():
        for ext in ('.mp4', '.mkv'):
            make_av_video(str(src / f'{name}_{ext[1:]}{ext}'), 75,
                          size=(32, 32), start_time=start,
                          audio_delay=delay)
    tool = load_script('tools/data/extract_audio.py')
    for ext in EXTS:
        assert tool.main(['--src', str(src), '--out', str(out), '--ext', ext,
                          '--workers', '1']) == 0
    return src, out


def _decode(video: str, audio=None, spans=SPANS, **kw):
    """The pipeline's audio views of ``video``: VideoInit (PyAV, which sets
    ``video_start_time``) then DecodeAudioViews on the container's audio or
    the sidecar ``audio``."""
    return decode_audio_views(video, spans, audio, **kw)


def _untagged(tagged: str, path: str) -> str:
    """The samples of the sidecar ``tagged`` written to ``path`` without
    the record, as an older ``extract_audio.py`` or ``ffmpeg -i v.mp4
    v.wav`` would (at the rate they decode at: 48 kHz for Opus)."""
    with av.open(tagged) as c:
        rate = c.streams.audio[0].rate
        wave = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    write_audio(path, wave, rate)
    assert read_audio_start(path) == 0.0 and read_audio_start(tagged) > 0
    return path


@pytest.fixture
def untagged_warnings(tmp_path, monkeypatch):
    """``get()``: the untagged-sidecar warnings logged so far by this
    process and its forked DataLoader workers (a file they all append to,
    on mmengine's current logger, where ``print_log`` sends them). The
    once-per-process flag starts cleared and is restored after."""
    monkeypatch.setattr(decoding, '_warned_untagged', False)
    logger = MMLogger.get_current_instance()
    path = tmp_path / 'warnings.log'
    handler = logging.FileHandler(str(path))
    handler.setLevel(logging.WARNING)
    logger.addHandler(handler)

    def get():
        handler.flush()
        return [line for line in path.read_text().splitlines()
                if 'has no alignment record' in line]

    try:
        yield get
    finally:
        logger.removeHandler(handler)
        handler.close()


def _chirp_times(wav: np.ndarray, step: int = 2000):
    """Chirp time of 1024-sample windows centred every ``step`` samples."""
    return [(k / SR, decode_chirp_time(wav[k - 512:k + 512]))
            for k in range(512, len(wav) - 511, step)]


@pytest.mark.parametrize('ext', EXTS)
@pytest.mark.parametrize('name', list(FILES))
def test_sidecar_views_equal_the_container_views(sidecars, name, ext):
    """Each view from the sidecar equals the container's within ``LOSS``
    (WAV, FLAC: 1e-4, the 16-bit quantisation; M4A, MP3: 3e-4 over 0.2 s
    from the audio's edges, MP3 at LAME's 0.95 gain; all at the source's
    16 kHz, so no resampling; Opus, decoded at 48 kHz: 1.5e-2), with the
    same ``padded`` flags, and the chirp plays
    at the view's time minus the audio's start: the late audio's first
    0.5 s are padding, the early audio runs out 0.3 s before the video
    ends. Before: the sidecar's views were 0.5 s (0.3 s) off and never
    padded at the start; M4A and MP3 sidecars had no record, and an MP3
    was read from its clock's zero, 69 ms before its first sample."""
    src, out = sidecars
    delay = FILES[name][1]
    for cext in ('.mp4', '.mkv'):
        stem = f'{name}_{cext[1:]}'
        video, audio = str(src / f'{stem}{cext}'), str(out / f'{stem}{ext}')
        first = read_audio_start(audio)
        # the MP4 presents its AAC priming frame (64 ms, near-silence)
        # before the chirp, as its edit list says; the chirp is at `delay`
        assert first == pytest.approx(delay - (0.064 if cext == '.mp4'
                                               else 0.0), abs=1e-3)
        want = _decode(video)
        got = _decode(video, audio)
        gain, tol = LOSS[ext]
        edge = EDGE if ext in LOSSY else 0.0
        for view, w, gview, g in zip(want['audio_views'], want['audio_wavs'],
                                     got['audio_views'], got['audio_wavs']):
            assert gview['padded'] == view['padded'], (cext, view)
            t = view['time_span'][0] + np.arange(len(w)) / SR
            inner = (t > delay + edge) & (t < delay + 3.0 - edge)
            np.testing.assert_allclose(g[inner], gain * w[inner], rtol=0,
                                       atol=tol, err_msg=f'{cext} {view}')
            # padding before the first sample; an Opus view is resampled
            # from 48 kHz with it, and the filter rings the onset into its
            # last 16 samples (1 ms, measured 5e-4 at most)
            reach = 16 / SR if ext == '.opus' else 0.0
            assert not g[t < first - reach].any()
            assert np.abs(g[t < first]).max(initial=0) < 1e-3
        padded = [v['padded'] for v in got['audio_views']]
        assert padded == ([True, True, False, False] if delay > 0 else
                          [False, False, False, True])
        for (t0, _), wav in zip(SPANS, got['audio_wavs']):
            for at, t in _chirp_times(wav):
                if t0 + at - delay > 0.05 and t0 + at - delay < 2.95:
                    assert t == pytest.approx(t0 + at - delay, abs=0.005)
        # a limit on padding sees the late audio's missing start (0.3 s of
        # the 0.64 s view at 0.2 s; 0.236 s in the MP4) in the sidecar as
        # in the container
        if delay > 0:
            reasons = []
            for audio_file in (None, audio):
                with pytest.raises(MediaDecodeError) as info:
                    _decode(video, audio_file, [(0.2, 0.84)],
                            max_pad_ratio=0.3)
                # (the rest says where the decoded span ends: frames or
                # samples)
                reasons.append(info.value.reason.split(';')[0])
            covers = '63%' if cext == '.mp4' else '53%'
            assert reasons[0] == reasons[1]
            assert reasons[0] == f'audio covers {covers} of view 0 ' \
                '(0.20-0.84 s)'


def test_sidecar_without_the_record_counts_from_its_first_sample(
        sidecars, tmp_path, untagged_warnings):
    """A sidecar written before the record (the same samples, no tag)
    keeps its old reading: view time 0 is its first sample (an MP3's too,
    which FFmpeg times 69 ms later), nothing is padded, so the late audio
    is heard 0.5 s early (with one warning)."""
    src, out = sidecars
    for ext in EXTS:
        with av.open(str(out / f'late_mkv{ext}')) as c:
            # FFmpeg sees the record (Ogg: in the stream's tags): ...
            tags = {**c.metadata, **c.streams.audio[0].metadata}
            assert any('MMAVCL_AUDIO_START' in f'{k}={v}'
                       for k, v in tags.items()), (ext, tags)
        old = _untagged(str(out / f'late_mkv{ext}'),
                        str(tmp_path / f'old{ext}'))
        got = _decode(str(src / 'late_mkv.mkv'), old, SPANS[:3])
        for (t0, _), view, wav in zip(SPANS, got['audio_views'],
                                      got['audio_wavs']):
            assert not view['padded']
            for at, t in _chirp_times(wav):
                assert t == pytest.approx(t0 + at, abs=0.005)
    assert len(untagged_warnings()) == 1
    opus = (out / 'late_mkv.opus').read_bytes()
    # what is not a tagged WAV, FLAC, MP4, MP3 or Ogg Opus has no record
    # (truncated headers included)
    for data in (b'RIFF\x04\x00\x00\x00WAVE', b'fLaC\x84', b'\x00' * 64,
                 b'\x00\x00\x00\x10ftypM4A ', b'\x00\x00\x00\x08moov',
                 b'ID3\x04\x00\x00\x00\x00\x01\x00TXXX', b'ID3\x02',
                 b'OggS\x00\x02' + b'\x00' * 20 + b'\x01\x08OpusHead',
                 opus[:opus.index(b'MMAVCL_AUDIO_START') + 12]):
        path = tmp_path / 'x.wav'
        path.write_bytes(data)
        assert read_audio_start(str(path)) == 0.0


def test_opus_record_is_found_across_ogg_pages(tmp_path):
    """The ``OpusTags`` packet may span Ogg pages (at most 65,025 bytes
    each): the record after 100 kB of another tag is still read, and a
    file cut inside it has none."""
    path = write_audio(str(tmp_path / 'a.opus'), chirp(0.5, SR), SR,
                       {'title': 'x' * 100000, 'MMAVCL_AUDIO_START': '-0.25'})
    data = (tmp_path / 'a.opus').read_bytes()
    assert data.count(b'OggS', 0, data.index(b'MMAVCL')) >= 3  # 2nd page on
    assert read_audio_start(path) == -0.25
    (tmp_path / 'cut.opus').write_bytes(data[:data.index(b'MMAVCL')])
    assert find_audio_start(str(tmp_path / 'cut.opus')) is None


def test_shard_sidecar_member_keeps_the_alignment(sidecars, tmp_path):
    """``make_shards.py`` packs the video and its ``.wav`` sidecar as they
    are; ``AVShardDataset(audio_source='sidecar')`` reads the member from
    memory and gives the container's view, padding and all."""
    src, out = sidecars
    root = tmp_path / 'media'
    root.mkdir()
    shutil.copy(src / 'late_mkv.mkv', root / 'clip.mkv')
    shutil.copy(out / 'late_mkv.wav', root / 'clip.wav')
    (root / 'list.txt').write_text('clip.mkv 3\n')
    load_script('tools/data/make_shards.py').main(
        [str(root / 'list.txt'), str(root), str(tmp_path / 'shards')])
    pipeline = AV_PIPELINE[:-1] + [
        dict(type='PackAVInputs', meta_keys=('audio_filename', ))]
    views = {}
    for source in ('container', 'sidecar'):
        ds = AVShardDataset(str(tmp_path / 'shards' / 'shard-000-000000.tar'),
                            pipeline, audio_source=source)
        (item, ) = list(ds)
        sample = item['data_samples']
        # the container's audio: no audio_filename (the video's own)
        assert sample.metainfo.get('audio_filename', '.mkv').endswith(
            '#clip.wav' if source == 'sidecar' else '.mkv')
        views[source] = (sample.audio_meta[0],
                         item['inputs']['audio'][0].numpy())
    (cview, cwav), (sview, swav) = views['container'], views['sidecar']
    assert sview['time_span'] == cview['time_span']
    assert sview['time_span'] == pytest.approx((0.2, 0.84))
    assert sview['padded'] and cview['padded']
    np.testing.assert_allclose(swav, cwav, rtol=0, atol=1e-4)
    assert np.abs(swav[:int(0.29 * SR)]).max() == 0


def test_matroska_audio_duration_is_its_own(tmp_path):
    """Matroska stores no stream durations. An audio stream of 1.2 s
    starting at 0.5 s next to 3 s of video: ``probe_audio_timing`` gives
    1.2 s (the decoded samples, counted here); before, the file's 3 s.
    ``check_dataset.py``'s extent agrees (before: it
    ended at 3 s and rejected the file, no samples in its last 0.5 s)."""
    check = load_script('tools/data/check_dataset.py')
    for codec, rate in (('flac', SR), ('aac', SR), ('libopus', 48000)):
        path = make_av_video(str(tmp_path / f'{codec}.mkv'), 75,
                             size=(32, 32), audio_delay=0.5,
                             audio_duration=1.2, audio_codec=codec,
                             sample_rate=rate)['path']
        with av.open(path) as c:
            frames = list(c.decode(audio=0))
            first = frames[0].time
            samples = sum(f.samples for f in frames)
        duration, start = probe_audio_timing(path)
        assert start == pytest.approx(first, abs=1e-3)
        assert duration == pytest.approx(samples / rate, abs=1e-3), codec
        if codec == 'flac':  # lossless: exactly what was written
            assert samples == 1.2 * SR
        assert check._audio_extent(path) == (start, start + duration, rate)


#: test_audio_duration_is_the_decoded_samples's formats and their decoders
DECODERS = {'opus': 'opus', 'opus16k': 'opus', 'opus_mkv': 'opus',
            'vorbis': 'vorbis', 'flac': 'flac', 'mp3': 'mp3float',
            'm4a': 'aac', 'aac_mkv': 'aac'}


@pytest.mark.parametrize('fmt', list(DECODERS))
def test_audio_duration_is_the_decoded_samples(tmp_path, fmt):
    """``probe_audio_timing``'s duration is the samples PyAV decodes (all
    of them, counted here) over the rate, for 3 s of a chirp. Before: an
    Ogg Opus file (an ``.opus`` sidecar) was 312 samples longer, 3.0065 s,
    its header duration counting the encoder's pre-skip, which the decoder
    drops. Matroska's clock counts milliseconds, so its durations (from
    the last packet's end) are within 1 ms. An M4A's is its edit list's,
    the 3 s written; FFmpeg decodes its last AAC frame whole, up to 1023
    samples of padding more."""
    rate = 16000 if fmt == 'opus16k' else 48000
    wave = chirp(3.0, rate)
    path = str(tmp_path / 'a')
    if fmt.endswith('_mkv'):
        codec = 'libopus' if fmt == 'opus_mkv' else 'aac'
        path = make_av_video(path + '.mkv', 75, size=(32, 32),
                             audio_codec=codec, sample_rate=rate)['path']
    elif fmt == 'vorbis':  # FFmpeg's Vorbis encoder takes stereo only
        path = write_audio(path + '.ogg', np.stack([wave, wave]), rate,
                           codec='vorbis')
    else:
        path = write_audio(f'{path}.{fmt[:4]}', wave, rate)
    with av.open(path) as c:
        assert c.streams.audio[0].codec_context.name == DECODERS[fmt]
        frames = list(c.decode(audio=0))
    decoded = sum(f.samples for f in frames) / frames[0].sample_rate
    duration, start = probe_audio_timing(path)
    assert start == pytest.approx(frames[0].time, abs=1e-6)
    if fmt == 'm4a':
        assert duration == 3.0 and 0 < decoded - duration < 1024 / rate
    else:
        tol = 1e-3 if fmt.endswith('_mkv') else 1e-9
        assert duration == pytest.approx(decoded, abs=tol), fmt
        assert decoded == pytest.approx(3.0, abs=0.01)  # a sane reference


def test_untagged_sidecar_warns_once_tagged_and_audio_only_never(
        sidecars, tmp_path, untagged_warnings):
    """Tagged sidecars (WAV, FLAC) read silently; the first untagged one
    warns, naming the file, what happens and the remedy; a second untagged
    one (another file, another format) does not warn again in this
    process. An audio-only dataset (ESC-50 style) reading the same
    untagged WAV never warns: its audio is no video's sidecar."""
    src, out = sidecars
    video = str(src / 'late_mkv.mkv')
    for ext in ('.wav', '.flac'):
        _decode(video, str(out / f'late_mkv{ext}'), SPANS[:1])
    assert untagged_warnings() == []
    # audio-only: the untagged WAV is the sample itself
    old = _untagged(str(out / 'late_mkv.wav'), str(tmp_path / 'old.wav'))
    (tmp_path / 'esc.txt').write_text('old.wav 0\n')
    ds = AVAudioDataset(
        str(tmp_path / 'esc.txt'), data_prefix=dict(audio=str(tmp_path)),
        pipeline=[dict(type='AudioInit'),
                  dict(type='SampleAudioClips', clip_duration=1.0,
                       num_clips=1, mode='linspace'),
                  dict(type='DecodeAudioViews', fixed_duration=1.0),
                  dict(type='PackAVInputs')])
    assert ds[0]['inputs']['audio'][0].abs().max() > 0
    assert untagged_warnings() == []
    old_flac = _untagged(str(out / 'late_mkv.flac'),
                         str(tmp_path / 'old.flac'))
    for audio in (old, old_flac, old):
        got = _decode(video, audio, SPANS[:1])
        assert not got['audio_views'][0]['padded']  # counted from sample 0
    (msg, ) = untagged_warnings()
    assert f'audio sidecar {old} has no alignment record ' \
        '(MMAVCL_AUDIO_START): its views count from its first sample' in msg
    assert 'python tools/data/extract_audio.py --src VIDEO_ROOT --out ' \
        'AUDIO_ROOT --ext .wav --overwrite' in msg


def test_untagged_sidecar_warns_once_per_dataloader_worker(
        sidecars, tmp_path, untagged_warnings):
    """``AVVideoDataset(audio_source='sidecar')`` in a DataLoader with 2
    workers: samples 0-3 have untagged sidecars, sample 4 a tagged one.
    Each worker (a process: round-robin, samples 0, 2, 4 and 1, 3) warns
    once, for its first sample; the main process decodes nothing."""
    src, out = sidecars
    root = tmp_path / 'data'
    (root / 'audio').mkdir(parents=True)
    (root / 'videos').mkdir()
    for i in range(5):
        shutil.copy(src / 'late_mkv.mkv', root / 'videos' / f'v{i}.mkv')
        if i < 4:
            _untagged(str(out / 'late_mkv.wav'),
                      str(root / 'audio' / f'v{i}.wav'))
        else:
            shutil.copy(out / 'late_mkv.wav', root / 'audio' / 'v4.wav')
    (root / 'list.txt').write_text(''.join(f'v{i}.mkv 0\n'
                                           for i in range(5)))
    ds = AVVideoDataset(str(root / 'list.txt'),
                        data_prefix=dict(video=str(root / 'videos'),
                                         audio=str(root / 'audio')),
                        pipeline=AV_PIPELINE, audio_source='sidecar')
    loader = DataLoader(ds, batch_size=1, num_workers=2,
                        collate_fn=lambda batch: batch)
    items = [b[0] for b in loader]
    assert len(items) == 5
    # the tagged sample is padded at the start (its audio starts 0.5 s in),
    # the untagged ones are not: they count from their first sample
    padded = [it['data_samples'].audio_meta[0]['padded'] for it in items]
    assert padded == [False] * 4 + [True]
    # each untagged sample names its sidecar for the train loop
    assert [it['data_samples'].metainfo.get('sidecar_without_alignment')
            for it in items] == [str(root / 'audio' / f'v{i}.wav')
                                 for i in range(4)] + [None]
    got = untagged_warnings()
    assert len(got) == 2, got
    assert {str(root / 'audio' / f'v{i}.wav') for i in (0, 1)} == {
        m.split('audio sidecar ')[1].split(' has no')[0] for m in got}
    assert decoding._warned_untagged is False  # not in the main process


@MODELS.register_module(force=True)
class ReportToyModel(BaseModel):
    """One weight times the mean of the video views: a loss DDP can reduce
    without training anything of interest."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack([v.float().mean() for v in inputs['video'][0]])
        return dict(loss=(self.w * x).mean())


def _report_rank(rank, port, root, out):
    """One of 2 gloo ranks (``launcher='pytorch'``, DDP on CPU): run A
    trains 2 epochs with the default ``DataReportHook``; run B, on the same
    data, has a limit the bad read exceeds and reports at every iteration;
    runs C and D have that limit on the dataset only (the hook takes it
    over), C in an iteration loop whose DataLoader workers start when it
    is built and persist, D in an epoch loop whose workers start each
    epoch. Each rank records how runs B, C and D stopped."""
    import os
    from mmengine.config import Config
    from mmavcl.engine import AVRunner
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2')
    two_epochs = dict(type='AVEpochBasedTrainLoop', max_epochs=2)

    def runner(name, hook, train_cfg, loader=(), dataset=()):
        return AVRunner.from_cfg(Config(dict(
            model=dict(type='ReportToyModel'),
            work_dir=f'{out}/{name}', launcher='pytorch',
            experiment_name=f'report_{name}',
            train_dataloader=dict(
                dict(batch_size=1, num_workers=1, persistent_workers=False,
                     sampler=dict(type='DefaultSampler', shuffle=False),
                     collate_fn=dict(type='pseudo_collate')),
                **dict(loader),
                dataset=dict(type='AVVideoDataset',
                             ann_file=f'{root}/list.txt',
                             data_prefix=dict(video=f'{root}/videos',
                                              audio=f'{root}/audio'),
                             pipeline=AV_PIPELINE, audio_source='sidecar',
                             bad_sample_policy='skip', **dict(dataset))),
            train_cfg=train_cfg,
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0)),
            default_hooks=dict(checkpoint=None, logger=dict(
                type='LoggerHook', interval=100)),
            custom_hooks=[hook],
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            default_scope='mmavcl', log_level='INFO')))

    def record_stop(name, *args, **kwargs):
        run = runner(name, *args, **kwargs)
        try:
            run.train()
            how = 'trained to the end'
        except TooManyBadSamplesError as err:
            how = str(err).splitlines()[0]
        with open(f'{out}/stop_{name}{rank}.json', 'w') as f:
            json.dump(dict(how=how, iter=run.iter), f)

    runner('a', dict(type='DataReportHook'), two_epochs).train()
    record_stop('b', dict(type='BadSampleSummaryHook', max_bad_ratio=0.1,
                          warmup=0, interval=1), two_epochs)
    dataset_limit = dict(max_bad_ratio=0.1, bad_ratio_warmup=0)
    record_stop('c', dict(type='DataReportHook', interval=1),
                dict(type='AVIterBasedTrainLoop', max_iters=3),
                loader=dict(persistent_workers=True, sampler=dict(
                    type='InfiniteSampler', shuffle=False)),
                dataset=dataset_limit)
    record_stop('d', dict(type='DataReportHook', interval=1), two_epochs,
                dataset=dataset_limit)


@pytest.fixture(scope='module')
def report_runs(sidecars, tmp_path_factory):
    """The runs of :func:`_report_rank` on 2 gloo ranks (a DataLoader
    worker each): only rank 1 reads an untagged sidecar and a bad (empty)
    video. Returns the data root and the runs' output dir."""
    src, out = sidecars
    tmp_path = tmp_path_factory.mktemp('report_runs')
    root = tmp_path / 'data'
    (root / 'audio').mkdir(parents=True)
    (root / 'videos').mkdir()
    # DefaultSampler without shuffling: rank 0 reads lines 0, 2, rank 1
    # lines 1, 3
    names = ['r0_a', 'r1_untagged', 'r0_b', 'r1_bad']
    for name in names[:3]:
        shutil.copy(src / 'late_mkv.mkv', root / 'videos' / f'{name}.mkv')
        shutil.copy(out / 'late_mkv.wav', root / 'audio' / f'{name}.wav')
    _untagged(str(out / 'late_mkv.wav'),
              str(root / 'audio' / 'r1_untagged.wav'))
    (root / 'videos' / 'r1_bad.mkv').write_bytes(b'')
    (root / 'list.txt').write_text(''.join(f'{n}.mkv 0\n' for n in names))
    run_ranks(_report_rank, (free_port(), str(root), str(tmp_path)))
    return root, tmp_path


#: how runs B, C and D stop on both ranks: the bad read of iteration 2
#: makes 1 of 5 reads on 2 ranks
STOP = ('1 of 5 sample reads (20.0%) on 2 rank(s) hit bad media by '
        'iteration 2, more than max_bad_ratio=0.1; report: {report}; 1 bad '
        'file(s):')


def test_untagged_sidecars_of_every_rank_are_named_on_rank_0(report_runs):
    """Two real gloo ranks training through ``AVRunner`` (a DataLoader
    worker each): only rank 1 reads an untagged sidecar and a bad (empty)
    video. Rank 1's own warnings go nowhere (mmengine's logger: ERROR only
    on its console, no log file), which left a user of 8 GPUs knowing only
    of rank 0's files. The samples carry both in their metainfo and
    ``DataReportHook`` gathers them: rank 0 logs each once (the second
    epoch reads them again and adds nothing new), lists them in
    ``bad_samples.json`` and ``sidecars_without_alignment.txt``, and counts
    the bad reads of both ranks per epoch. With a limit the bad read
    exceeds, both ranks stop at the same iteration (before, rank 1 raised
    alone and rank 0 waited for it in the epoch-end gather)."""
    root, tmp_path = report_runs
    untagged = str(root / 'audio' / 'r1_untagged.wav')
    bad = str(root / 'videos' / 'r1_bad.mkv')
    reason = 'video: empty file (0 bytes)'
    work = tmp_path / 'a'
    (log_path, ) = work.glob('*/*.log')  # rank 0's: rank 1 writes none
    log = log_path.read_text().splitlines()
    listed = log_path.parent / 'sidecars_without_alignment.txt'
    assert listed.read_text() == untagged + '\n'
    (line, ) = [x for x in log if 'without an alignment record' in x]
    assert f'Epoch 1: 1 audio sidecar(s) without an alignment record read ' \
        f'on all ranks (1 in this run): {untagged}; every one is listed in ' \
        f'{listed}' in line
    (line, ) = [x for x in log if 'new bad file(s)' in x]
    assert f'Epoch 1: 1 new bad file(s) skipped on 2 rank(s) (1 in this ' \
        f'run): {bad}: {reason}; every one is listed in ' \
        f'{work / "bad_samples.json"}' in line
    for epoch in (1, 2):  # non-persistent workers skip it again
        assert any(f'Epoch {epoch}: 1 bad sample read(s) skipped (1 file(s))'
                   f' while delivering 4 samples (20.00%): {bad}' in x
                   for x in log), epoch
    report = json.loads((work / 'bad_samples.json').read_text())
    assert report['files'] == [dict(filename=bad, reason=reason)]
    assert (report['samples_delivered'], report['bad_reads']) == (8, 2)
    for rank in range(2):
        stop = json.loads((tmp_path / f'stop_b{rank}.json').read_text())
        assert stop == dict(how=STOP.format(
            report=tmp_path / 'b' / 'bad_samples.json'), iter=1), rank
    report = json.loads((tmp_path / 'b' / 'bad_samples.json').read_text())
    assert report['files'] == [dict(filename=bad, reason=reason)]


@pytest.mark.parametrize('run', ['c', 'd'],
                         ids=['iteration_loop', 'epoch_loop'])
def test_dataset_limit_stops_every_rank_together(report_runs, run):
    """With the limit on the dataset only (``max_bad_ratio=0.1``,
    ``bad_ratio_warmup=0``), the hook takes it over: both ranks stop at
    the same iteration with the hook's error over both ranks' reads, in an
    iteration loop whose persistent DataLoader workers start when the loop
    is built (run C), and in an epoch loop (run D). Before, rank 1's worker
    applied it to its own reads and rank 1 raised alone ('... in this
    process hit bad media'), leaving rank 0 in a collective."""
    root, tmp_path = report_runs
    for rank in range(2):
        stop = json.loads((tmp_path / f'stop_{run}{rank}.json').read_text())
        assert stop == dict(how=STOP.format(
            report=tmp_path / run / 'bad_samples.json'), iter=1), rank
    report = json.loads((tmp_path / run / 'bad_samples.json').read_text())
    assert report['files'] == [dict(
        filename=str(root / 'videos' / 'r1_bad.mkv'),
        reason='video: empty file (0 bytes)')]
    assert report['max_bad_ratio'] == 0.1


#: a video's sidecars -> the one a dataset finds by default (every format
#: extract_audio.py writes, lossless first: .wav, .flac, .m4a, .opus,
#: .mp3; none: the first name, for the decoder to report as missing) and
#: the extensions it tries to find it
FOUND = {'m4a': ('.m4a', '.m4a', 3), 'opus': ('.opus', '.opus', 4),
         'mp3': ('.mp3', '.mp3', 5), 'wav_mp3': ('.wav .mp3', '.wav', 1),
         'flac_m4a': ('.m4a .flac', '.flac', 2),
         'm4a_mp3': ('.mp3 .m4a', '.m4a', 3), 'none': ('', '.wav', 5)}


def test_dataset_finds_every_sidecar_format_lossless_first(
        sidecars, tmp_path, monkeypatch):
    """``AVVideoDataset(audio_source='sidecar')`` with the default
    ``audio_exts`` finds an M4A-, Opus- or MP3-only sidecar (before: only
    ``.wav`` and ``.flac`` were looked for, and these videos had no audio)
    and prefers the lossless one of several (:data:`FOUND`), in a local
    folder, over HTTP and from S3. Each extension tried costs one
    existence request remotely, none when ``audio_exts`` names one. The
    M4A-, Opus- and MP3-only samples decode with their record: the late
    audio's first view is padded, as from the container."""
    from mmavcl.datasets.media import remote
    from mmavcl.testing import serve_directory, serve_s3
    src, out = sidecars
    root = tmp_path / 'bucket'
    (root / 'audio').mkdir(parents=True)
    (root / 'videos').mkdir()
    for key, (exts, _, _) in FOUND.items():
        shutil.copy(src / 'late_mkv.mkv', root / 'videos' / f'{key}.mkv')
        for ext in exts.split():
            shutil.copy(out / f'late_mkv{ext}', root / 'audio' / f'{key}{ext}')
    (root / 'list.txt').write_text(''.join(f'{k}.mkv 0\n' for k in FOUND))

    def found(prefix, **kw):
        ds = AVVideoDataset(f'{prefix}/list.txt', audio_source='sidecar',
                            data_prefix=dict(video=f'{prefix}/videos',
                                             audio=f'{prefix}/audio'), **kw)
        return {k: ds.get_data_info(i)['audio_filename']
                for i, k in enumerate(FOUND)}, ds

    want = {k: f'{root}/audio/{k}{ext}' for k, (_, ext, _) in FOUND.items()}
    got, ds = found(str(root), pipeline=AV_PIPELINE)
    assert got == want
    for i, key in enumerate(FOUND):
        if key in ('m4a', 'opus', 'mp3'):
            sample = ds[i]['data_samples']
            assert sample.metainfo['audio_filename'] == want[key]
            assert sample.audio_meta[0]['padded'], key  # audio from 0.5 s
    # over HTTP: a HEAD per extension tried, until one exists
    calls = []
    head = remote.TimeoutHTTPBackend.exists
    monkeypatch.setattr(remote.TimeoutHTTPBackend, 'exists',
                        lambda self, path: calls.append(path) or
                        head(self, path))
    with serve_directory(str(root)) as url:
        got, _ = found(url, backend_args=dict(backend='http'))
        assert got == {k: v.replace(str(root), url) for k, v in want.items()}
        tried = {k: sum(p.rsplit('/', 1)[1].startswith(k + '.')
                        for p in calls) for k in FOUND}
        assert tried == {k: n for k, (_, _, n) in FOUND.items()}
        calls.clear()
        got, _ = found(url, backend_args=dict(backend='http'),
                       audio_exts=('.mp3', ))
        assert got['mp3'] == f'{url}/audio/mp3.mp3' and calls == []
    with serve_s3(str(tmp_path), access_key='AK') as endpoint:
        monkeypatch.setattr(remote, 'FETCH_RETRIES', 0)
        got, _ = found('s3://bucket', backend_args=dict(
            endpoint_url=endpoint, aws_access_key_id='AK',
            aws_secret_access_key='x', region='us-east-1'))
        assert got == {k: v.replace(str(root), 's3://bucket')
                       for k, v in want.items()}


def test_check_dataset_places_sidecars_on_the_video_clock(
        sidecars, tmp_path, capsys):
    """``check_dataset.py --audio-source sidecar`` on the late video
    (audio 0.5 s after its first frame) with a tagged and an untagged
    sidecar, and the early one (video at 1 s, audio at 0.7 s) tagged: a
    tagged sidecar's ``audio_start`` is the container audio's (0.5 s,
    0.7 s; before: 0, the sidecar's own clock), with ``alignment_record``
    True, with either video reader (decord finds the video's start with
    PyAV); the untagged one stays at 0 (what training reads), is flagged
    False, still good, and counted in the summary and its printed line.
    M4A and MP3 sidecars are placed the same way."""
    src, out = sidecars
    root = tmp_path / 'data'
    (root / 'audio').mkdir(parents=True)
    (root / 'videos').mkdir()
    for name, stem in (('tagged', 'late'), ('untagged', 'late'),
                       ('early', 'early')):
        shutil.copy(src / f'{stem}_mkv.mkv', root / 'videos' / f'{name}.mkv')
        shutil.copy(out / f'{stem}_mkv.wav', root / 'audio' / f'{name}.wav')
    _untagged(str(out / 'late_mkv.wav'), str(root / 'audio' / 'untagged.wav'))
    (root / 'list.txt').write_text('tagged.mkv 0\nuntagged.mkv 0\n'
                                   'early.mkv 0\n')
    check = load_script('tools/data/check_dataset.py')

    def run(*args):
        report = str(tmp_path / 'r.json')
        summary = check.main([str(root / 'list.txt'), '--data-prefix',
                              str(root / 'videos'), '--workers', '1',
                              '--out', str(tmp_path / 'c.txt'), '--report',
                              report, *args])
        entries = {e['filename'].rsplit('/', 1)[1][:-4]: e
                   for e in json.load(open(report))['entries']}
        return summary, entries

    summary, got = run('--audio-source', 'container')
    container = {k: e['audio_start'] for k, e in got.items()}
    assert container['tagged'] == pytest.approx(0.5, abs=1e-3)
    assert container['early'] == pytest.approx(0.7, abs=1e-3)
    assert got['tagged']['alignment_record'] is None
    assert summary['without_alignment_record'] == 0
    for backend in ('pyav', 'decord'):
        capsys.readouterr()
        summary, got = run('--audio-source', 'sidecar', '--audio-prefix',
                           str(root / 'audio'), '--backend', backend)
        tagged, untagged = got['tagged'], got['untagged']
        assert all(e['ok'] for e in got.values())
        for name in ('tagged', 'early'):
            assert got[name]['alignment_record'] is True
            assert got[name]['audio_start'] == pytest.approx(
                container[name], abs=1e-3), (backend, name)
        assert untagged['alignment_record'] is False
        assert untagged['audio_start'] == 0.0
        assert tagged['audio_duration'] == untagged['audio_duration']
        assert summary['without_alignment_record'] == 1
        assert '  1 sidecars carry no alignment record (their views count ' \
            'from their first sample): re-extract with python ' \
            'tools/data/extract_audio.py' in capsys.readouterr().out
    # the lossy sidecars, each the only one of its video, found by the
    # defaults (before: only .wav and .flac were looked for, so these
    # entries had no audio): an MP3's first sample, 69 ms into its own
    # clock, is placed by the record alone (before: 0.569 s); an Opus
    # sidecar lasts its 3 s of samples (before: 3.0065 s, the pre-skip)
    decoded = {}
    for name, stem in (('tagged', 'late'), ('early', 'early')):
        with av.open(str(src / f'{stem}_mkv.mkv')) as c:
            decoded[name] = sum(f.samples for f in c.decode(audio=0)) / SR
    lossy = tmp_path / 'lossy'
    (lossy / 'audio').mkdir(parents=True)
    (lossy / 'videos').mkdir()
    lines = []
    for ext in LOSSY:
        for name, stem in (('tagged', 'late'), ('early', 'early')):
            key = f'{name}_{ext[1:]}'
            shutil.copy(src / f'{stem}_mkv.mkv',
                        lossy / 'videos' / f'{key}.mkv')
            shutil.copy(out / f'{stem}_mkv{ext}',
                        lossy / 'audio' / f'{key}{ext}')
            lines.append(f'{key}.mkv 0\n')
    (lossy / 'list.txt').write_text(''.join(lines))
    report = str(tmp_path / 'lossy.json')
    summary = check.main([str(lossy / 'list.txt'), '--data-prefix',
                          str(lossy / 'videos'), '--audio-source', 'sidecar',
                          '--audio-prefix', str(lossy / 'audio'),
                          '--require-audio', '--workers', '1', '--out',
                          str(tmp_path / 'lossy.txt'), '--report', report])
    assert summary['ok'] == len(lines) and summary['without_audio'] == 0
    for entry in json.load(open(report))['entries']:
        key = entry['filename'].rsplit('/', 1)[1][:-4]
        name, ext = key.split('_')
        assert entry['audio_filename'] == str(lossy / 'audio' / f'{key}.{ext}')
        assert entry['alignment_record'] is True, entry
        assert entry['audio_start'] == pytest.approx(container[name],
                                                     abs=1e-3), key
        # what extract_audio.py wrote: the MKV's decoded samples (3.008 s:
        # its last AAC frame's padding is not trimmed)
        assert entry['audio_duration'] == pytest.approx(decoded[name],
                                                        abs=1e-4), key
