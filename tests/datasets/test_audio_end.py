"""The audio ends where its source's audio ends: the container's own audio
as mmavcl decodes it, and every sidecar ``tools/data/extract_audio.py``
writes from it, measured on the decoded content (a chirp at amplitude 0.5
cut off abruptly, whose last sample over 0.05 is the last one written).

An encoder fills its last frame with padding that decodes as near-silence
(AAC: 384 samples for 0.6 s at 16 kHz). An MP4 or M4A says where the real
samples end (its edit list), FFmpeg decodes the frame whole all the same;
an Ogg stream's end granule, Matroska's Opus ``DiscardPadding`` and an MP3
file's LAME gapless record are applied by FFmpeg itself. AAC in Matroska
says nothing: its decoded audio keeps the padding, and so does each of its
sidecars, which end where the container's audio ends.
"""
import av
import numpy as np
import pytest

from mmavcl.datasets.media import (decode_audio_spans, probe_audio_timing,
                                   read_audio_start, video_start_time,
                                   write_audio)
from mmavcl.testing import (chirp, decode_audio_views, load_script,
                            make_av_video)

SR = 16000
DELAY, DURATION = 0.2, 0.6
#: name -> (container, audio encoder, rate, samples decoded before the
#: chirp: the AAC priming frame an MP4 presents for late audio, LAME's
#: encoder delay an MP4 does not skip)
SOURCES = {'mp4_aac': ('.mp4', 'aac', SR, 1024),
           'mkv_aac': ('.mkv', 'aac', SR, 0),
           'mkv_opus': ('.mkv', 'libopus', 48000, 0),
           'mkv_flac': ('.mkv', 'flac', SR, 0),
           'mp4_mp3': ('.mp4', 'libmp3lame', SR, 1105)}
#: sources whose container does not say where the audio ends: it decodes
#: up to one frame (AAC: 1024 samples) past it
UNSTATED = {'mkv_aac': 1024}
EXTS = ['.wav', '.flac', '.m4a', '.opus', '.mp3']


@pytest.fixture(scope='module')
def media(tmp_path_factory):
    """1 s of video, its audio 0.6 s of a chirp from 0.2 s (so it ends at
    0.8 s, before the video), in each of ``SOURCES``, and the sidecars the
    real tool writes from them at 16 kHz."""
    root = tmp_path_factory.mktemp('audio_end')
    src, out = root / 'videos', root / 'audio'
    for name, (ext, codec, rate, _) in SOURCES.items():
        make_av_video(str(src / f'{name}{ext}'), 25, size=(32, 32),
                      audio_codec=codec, sample_rate=rate,
                      audio_delay=DELAY, audio_duration=DURATION)
    tool = load_script('tools/data/extract_audio.py')
    for ext in EXTS:
        assert tool.main(['--src', str(src), '--out', str(out), '--ext', ext,
                          '--workers', '1']) == 0
    return src, out


def _whole(path: str, sidecar: bool = False):
    """mmavcl's decode of all of ``path``'s audio: ``(wave, start, rate)``,
    the start on the file's clock (a sidecar's: from its first sample)."""
    ((wave, start, rate), ) = decode_audio_spans(
        path, [(-1.0, 10.0)], from_first_sample=sidecar)
    return wave, start, rate


def _views(video: str, spans, audio=None):
    """DecodeAudioViews' views and waves of ``video``'s own audio or of
    its sidecar ``audio``, at 16 kHz."""
    out = decode_audio_views(video, spans, audio, sample_rate=SR)
    return out['audio_views'], out['audio_wavs']


def _video(src, name: str) -> str:
    return str(src / f'{name}{SOURCES[name][0]}')


@pytest.mark.parametrize('name', list(SOURCES))
def test_container_audio_ends_at_its_last_sample(media, name):
    """The decoded audio holds the chirp and nothing after it (within a
    sample) where the container says where it ends, and ends where it
    says; AAC in Matroska keeps up to a frame of padding. Before: the MP4
    with AAC decoded 384 samples past its edit list's end (0.8 s), with
    MP3 303; each view there read the padding as audio, not flagged."""
    src, _ = media
    wave, start, rate = _whole(_video(src, name))
    lead = SOURCES[name][3]
    loud = np.flatnonzero(np.abs(wave) > 0.05)
    assert loud[0] in (lead, lead + 1, lead + 2, lead + 3)  # the onset
    past = len(wave) - (loud[-1] + 1)
    if name in UNSTATED:
        assert 0 < past < UNSTATED[name]
    else:
        assert past <= 1, past
        assert past == 0 or abs(wave[-1]) < 0.05  # a zero crossing
    if name.startswith('mp4'):  # the edit list's end, to the sample
        assert len(wave) == lead + DURATION * rate
        # (the empty edit before the late audio counts the movie's 1 ms)
        assert start + len(wave) / rate == pytest.approx(DELAY + DURATION,
                                                         abs=1e-3)


@pytest.mark.parametrize('ext', EXTS)
@pytest.mark.parametrize('name', list(SOURCES))
def test_sidecar_ends_where_the_container_audio_ends(media, name, ext):
    """Each sidecar's decoded audio ends where the container's does on the
    video's clock (its record plus its samples), to half a 16 kHz sample,
    so a view over the end pads and flags the same: one ending 10 ms past
    it is padded in both, one ending 10 ms before it in neither, and the
    padding is silence. Before: an M4A ran its own AAC padding past the
    end (768 samples at 16 kHz from Opus, 384 from FLAC), or to the next
    millisecond (15 samples from the MP4's MP3), and the sidecars of an
    MP4 ran past its end by as much as its own decoded audio did."""
    src, out = media
    video, audio = _video(src, name), str(out / f'{name}{ext}')
    wave, start, rate = _whole(video)
    with av.open(video) as c:
        first_frame = video_start_time(c)
    end = start - first_frame + len(wave) / rate  # the video's clock
    swave, sstart, srate = _whole(audio, sidecar=True)
    send = read_audio_start(audio) + sstart + len(swave) / srate
    assert send == pytest.approx(end, abs=0.5 / SR + 1e-9), (send, end)
    spans = [(end - 0.3, end + 0.01), (end - 0.3, end - 0.01)]
    want_views, want = _views(video, spans)
    got_views, got = _views(video, spans, audio)
    assert [v['padded'] for v in got_views] == [True, False]
    assert [v['padded'] for v in want_views] == [True, False]
    # after the end: zeros (audio resampled from 48 kHz rings into the
    # first 16 of them, 1 ms, under 3e-4)
    tail = int(round(0.01 * SR)) - 16
    np.testing.assert_allclose(got[0][-tail:], 0, atol=1e-6)
    np.testing.assert_allclose(want[0][-tail:], 0, atol=1e-6)


def test_m4a_ends_at_its_last_sample(tmp_path):
    """An M4A of N samples decodes to N (lossy) samples, its duration
    N / rate, N not a multiple of the 1024-sample AAC frame nor of a
    millisecond. Before: the last frame's padding (up to 1023 samples)
    was decoded, and the edit list, in FFmpeg's 1 ms movie ticks, kept up
    to 1 ms of it."""
    for rate, n in ((SR, 8005), (48000, 24007)):
        path = write_audio(str(tmp_path / f'{rate}.m4a'), chirp(n / rate,
                                                                rate), rate)
        wave, start, got_rate = _whole(path)
        assert (got_rate, start, len(wave)) == (rate, 0.0, n)
        assert probe_audio_timing(path) == (pytest.approx(n / rate,
                                                          abs=1e-9), 0.0)
        # the chirp runs to the end: nothing of it cut
        assert np.flatnonzero(np.abs(wave) > 0.05)[-1] >= n - 4
