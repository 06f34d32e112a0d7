"""AAC in MP4 (the Kinetics / VGG-Sound format) stays aligned with the
video, on time and late, measured on the decoded content (a chirp whose
frequency encodes its time, starting at a known video time).

AAC encoders prepend 1024 priming samples. An MP4 says what to do with
them in the audio track's edit list, which these tests read and set:

* audio on time: ``[(d, 1024)]``, the priming skipped (FFmpeg's muxer);
* audio ``delay`` s late as FFmpeg's muxer writes it (also when merging a
  separate ``.m4a`` with an offset, as yt-dlp does):
  ``[(delay - 1024 / rate, -1), (d, 0)]``, an empty edit and then the
  priming frame *presented* (near-silence, |x| < 0.005 here) before the
  chirp, so the first decoded sample is at 0.436 s (16 kHz) but the chirp
  at 0.500 s;
* audio late with the priming skipped (other muxers):
  ``[(delay, -1), (d, 1024)]``, rewritten here with
  :func:`~mmavcl.testing.set_mp4_edit_list`; FFmpeg flags the priming
  packet as discarded and the first frame is at 0.500 s.

The views' chirp plays at its true video time in all three, and the
sidecar tool (which decodes from the top, no seek) records the same first
sample. The one defect found: a view at the start of an on-time MP4 seeks
to 0, which lands after the priming packet (pts -1024), so the first frame
decoded without its predecessor: 448 zero samples, then off by up to 0.5.
"""
import av
import numpy as np
import pytest

from mmavcl.testing import (decode_audio_views, decode_chirp_time,
                            load_script, make_av_video, mp4_edit_list,
                            set_mp4_edit_list)

RATES = [16000, 48000]
DELAY = 0.5


@pytest.fixture(scope='module')
def tool():
    return load_script('tools/data/extract_audio.py')


def _write(path: str, rate: int, delay: float) -> str:
    return make_av_video(path, 50, size=(32, 32), sample_rate=rate,
                         audio_delay=delay)['path']


def _views(path: str, spans, rate: int):
    """``(views, wavs)`` of VideoInit (PyAV) then DecodeAudioViews at the
    stream's own ``rate`` (nothing resampled)."""
    out = decode_audio_views(path, spans, sample_rate=rate)
    return out['audio_views'], out['audio_wavs']


def _onset(wave: np.ndarray, rate: int) -> float:
    """Time (s from ``wave[0]``) of the first sample over 0.05: the chirp
    starts at amplitude 0.5, the priming frame stays under 0.005."""
    return int(np.argmax(np.abs(wave) > 0.05)) / rate


@pytest.mark.parametrize('rate', RATES)
def test_on_time_mp4_view_at_0_decodes_the_first_frame(tmp_path, tool, rate):
    """Audio with the video, priming skipped by the edit list: the view
    over [0, 0.5) equals the decode from the top (no seek) and the sidecar
    tool's samples, and the chirp starts at 0. Before: the first 448
    samples were zeros (28 ms at 16 kHz, 9 ms at 48 kHz) and the rest of
    the first frame off by up to 0.51."""
    path = _write(str(tmp_path / 'on_time.mp4'), rate, 0.0)
    assert mp4_edit_list(path) == [(2.0, 1024)]
    _, (wav, ) = _views(path, [(0.0, 0.5)], rate)
    with av.open(path) as c:
        frames = list(c.decode(audio=0))
    assert frames[0].time == 0.0 and frames[0].samples == 1024
    ref = np.concatenate([f.to_ndarray()[0] for f in frames])
    np.testing.assert_array_equal(wav, ref[:len(wav)])
    assert _onset(wav, rate) < 1e-3
    side, side_rate, start = tool.decode_audio(path, rate)
    assert (side_rate, start) == (rate, 0.0)
    np.testing.assert_allclose(side[0, :len(wav)], wav, rtol=0, atol=1e-6)


@pytest.mark.parametrize('rate', RATES)
def test_late_mp4_audio_plays_at_its_video_time(tmp_path, tool, rate):
    """Audio 0.5 s after the first frame, the priming presented (FFmpeg's
    muxer) or skipped (the edit list rewritten), and the same in MKV: the
    chirp starts at 0.5 s of the video's clock (within 1 ms: FFmpeg's muxer
    writes the empty edit in ms, 0.478 s for 0.4787 s at 48 kHz) and plays
    at its time; before the first decoded sample the view is padding; the
    sidecar tool records that first sample's time and holds the view's
    samples."""
    priming = 1024 / rate
    presented = _write(str(tmp_path / 'presented.mp4'), rate, DELAY)
    (empty, _), media = mp4_edit_list(presented)
    assert empty == pytest.approx(DELAY - priming, abs=1e-3)
    assert media == (pytest.approx(2.0 + priming, abs=1e-3), 0)
    skipped = _write(str(tmp_path / 'skipped.mp4'), rate, DELAY)
    set_mp4_edit_list(skipped, [(DELAY, -1), (2.0, 1024)])
    mkv = _write(str(tmp_path / 'late.mkv'), rate, DELAY)
    for path, first in ((presented, empty), (skipped, DELAY), (mkv, DELAY)):
        (view, late), (wav, _) = _views(path, [(0.0, 1.0), (1.0, 1.6)], rate)
        assert view['padded'] and not late['padded']
        assert _onset(wav, rate) == pytest.approx(DELAY, abs=1e-3), path
        side, _, start = tool.decode_audio(path, rate)
        assert start == pytest.approx(first, abs=1e-6), path
        # the view: zeros up to the first sample, then the sidecar's samples
        k = int(round(start * rate))
        assert not wav[:k].any()
        np.testing.assert_allclose(wav[k:], side[0, :len(wav) - k], rtol=0,
                                   atol=1e-6)
        # the chirp plays at (video time - 0.5 s) all along the view
        n = 1024
        for i in range(int(0.6 * rate), len(wav) - n, 4 * n):
            t = (i + n / 2) / rate - DELAY
            assert decode_chirp_time(wav[i:i + n], rate) == pytest.approx(
                t, abs=0.003), (path, t)
