"""PCM WAV spans read with the standard library equal PyAV's decoding."""
import av
import numpy as np
import pytest

from mmavcl.datasets.errors import MediaDecodeError
from mmavcl.datasets.media import (decode_audio_spans, open_pcm_wav,
                                   probe_audio_duration)
from mmavcl.datasets.transforms import DecodeAudioViews
from mmavcl.testing import truncate_file, write_garbage

LAYOUTS = {1: 'mono', 2: 'stereo', 4: 'quad'}
#: codec -> (PyAV packed format, numpy dtype of the integers written)
CODECS = {
    'pcm_s16le': ('s16', np.int16),
    'pcm_s32le': ('s32', np.int32),
    'pcm_f32le': ('flt', np.float32),
    'pcm_s24le': ('s32', np.int32),
    'pcm_u8': ('u8', np.uint8),
}


def write_wav(path, codec: str, channels: int, rate: int,
              seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Random samples written as they are (no conversion by FFmpeg);
    returns them as ``(C, L)``."""
    fmt, dtype = CODECS[codec]
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    if dtype == np.float32:
        data = rng.uniform(-0.9, 0.9, (channels, n)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, (channels, n),
                            dtype=dtype, endpoint=True)
        if codec == 'pcm_s24le':  # the low byte is dropped on writing
            data &= np.int32(-256)
    with av.open(str(path), 'w', format='wav') as c:
        stream = c.add_stream(codec, rate=rate)
        stream.layout = LAYOUTS[channels]
        for i in range(0, n, 4096):
            block = np.ascontiguousarray(data[:, i:i + 4096].T).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format=fmt,
                                               layout=LAYOUTS[channels])
            frame.sample_rate, frame.pts = rate, i
            for p in stream.encode(frame):
                c.mux(p)
        for p in stream.encode(None):
            c.mux(p)
    return data


def pyav_spans(path, spans):
    """The same spans through PyAV (a container passed in skips the WAV
    path)."""
    with av.open(str(path)) as c:
        return decode_audio_spans(str(path), spans, container=c)


SPANS = [(0.3, 1.1), (2.2, 2.5), (0.0, 0.2)]


@pytest.mark.parametrize('codec,channels,rate', [
    ('pcm_s16le', 1, 16000),
    ('pcm_s16le', 2, 44100),
    ('pcm_s16le', 2, 22050),
])
def test_pcm_wav_spans_equal_pyav_and_the_written_samples(
        tmp_path, codec, channels, rate):
    path = tmp_path / 'a.wav'
    data = write_wav(path, codec, channels, rate)
    reader = open_pcm_wav(str(path))
    assert reader is not None  # the standard-library path is taken
    reader.close()
    scale = 2.0**-15
    # independent reference: the integers written, mixed like
    # libswresample ((L + R) / sqrt(2)), in float64
    mono = data.astype(np.float64).sum(0) * scale / np.sqrt(channels)
    for (t0, t1), (got, start, got_rate), (ref, ref_start, ref_rate) in zip(
            SPANS, decode_audio_spans(str(path), SPANS),
            pyav_spans(path, SPANS)):
        assert got.dtype == np.float32 and got_rate == ref_rate == rate
        # covers the span with PyAV's 50 ms to spare (clipped at 0)
        assert start <= max(t0 - 0.05, 0) + 1e-9
        assert start + len(got) / rate >= t1 + 0.05 - 1e-9
        i0 = int(round(start * rate))
        np.testing.assert_allclose(got, mono[i0:i0 + len(got)], rtol=0,
                                   atol=2e-7)
        # bit for bit what the PyAV path gives where both have samples
        k = int(round((start - ref_start) * rate))
        a, b = max(k, 0), max(-k, 0)
        n = min(len(got) - b, len(ref) - a)
        assert n > (t1 - t0) * rate
        np.testing.assert_array_equal(got[b:b + n], ref[a:a + n])
    assert probe_audio_duration(str(path)) == pytest.approx(3.0, abs=1e-9)
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        assert probe_audio_duration(str(path)) == pytest.approx(
            float(s.duration * s.time_base), abs=1.0 / rate)


@pytest.mark.parametrize('codec,channels', [('pcm_f32le', 1),
                                            ('pcm_s24le', 2),
                                            ('pcm_s32le', 2),
                                            ('pcm_u8', 1),
                                            ('pcm_s16le', 4)])
def test_wavs_the_standard_library_does_not_read_go_through_pyav(
        tmp_path, codec, channels):
    path = tmp_path / 'b.wav'
    data = write_wav(path, codec, channels, 16000)
    assert open_pcm_wav(str(path)) is None
    (got, start, rate), = decode_audio_spans(str(path), [(1.0, 1.5)])
    if codec == 'pcm_u8':
        ref = (data[0].astype(np.float64) - 128) / 128
    elif codec in ('pcm_s24le', 'pcm_s32le'):
        ref = data.astype(np.float64).sum(0) * 2.0**-31 / np.sqrt(2)
    elif codec == 'pcm_f32le':
        ref = data[0].astype(np.float64)
    else:  # quad: libswresample's own mix, checked for level only
        ref = None
    assert rate == 16000 and start <= 0.95
    i0 = int(round(start * rate))
    assert len(got) >= 0.5 * rate
    if ref is not None:
        np.testing.assert_allclose(got, ref[i0:i0 + len(got)], rtol=0,
                                   atol=1e-5)
    else:
        assert 0.05 < np.abs(got).mean() < 1
    assert probe_audio_duration(str(path)) == pytest.approx(3.0, abs=0.01)


def test_truncated_wav_pads_and_flags_the_missing_end(tmp_path):
    path = tmp_path / 'full.wav'
    write_wav(path, 'pcm_s16le', 2, 16000, seconds=4.0)
    cut = str(tmp_path / 'cut.wav')
    truncate_file(str(path), keep=0.5, dst=cut)
    with open(cut, 'ab') as f:
        f.write(b'\x01')  # ends inside a sample frame
    reader = open_pcm_wav(cut)
    assert reader is not None and reader.getnframes() == 4 * 16000
    reader.close()
    # the duration is what the file holds, not what its header promised
    assert probe_audio_duration(cut) == pytest.approx(2.0, abs=0.01)
    (inside, s0, _), (late, s1, _) = decode_audio_spans(
        cut, [(0.5, 1.0), (1.8, 2.6)])
    (whole, w0, _), = decode_audio_spans(str(path), [(0.5, 1.0)])
    assert s0 == w0
    np.testing.assert_array_equal(inside, whole)
    # ~2 s of data survive: the late span stops where they do
    assert 0 < s1 + len(late) / 16000 < 2.01
    views = [dict(time_span=(0.5, 1.0)), dict(time_span=(1.8, 2.6))]
    out = DecodeAudioViews(sample_rate=16000)(
        dict(audio_filename=cut, filename=cut, modality='audio',
             audio_views=views))
    assert [v['padded'] for v in out['audio_views']] == [False, True]
    assert [len(w) for w in out['audio_wavs']] == [8000, 12800]
    assert np.all(out['audio_wavs'][1][-4000:] == 0)


def test_corrupt_wav_error_names_the_file(tmp_path):
    bad = write_garbage(str(tmp_path / 'bad.wav'))
    assert open_pcm_wav(bad) is None
    with pytest.raises(MediaDecodeError, match='bad.wav'):
        decode_audio_spans(bad, [(0.0, 1.0)])
    with pytest.raises(MediaDecodeError, match='bad.wav'):
        probe_audio_duration(bad)
