"""Spans of PCM WAV files read with the standard library's :mod:`wave`.

Opening a WAV with FFmpeg (PyAV) probes the file, which costs more than
reading the few seconds a view needs. The sidecar files written by
``tools/data/extract_audio.py`` and ESC-50's clips are 16-bit PCM WAVs, so
:func:`~mmavcl.datasets.media.decode_audio_spans` and
:func:`~mmavcl.datasets.media.probe_audio_duration` read them here:
ESC-50's training pipeline runs 18x faster, and audio pipelines reading
sidecars come as close to the video-only decode floor as video-only
pipelines (docs/benchmarks.md, "Audio from WAV sidecars").
Other files (float, 8/24/32-bit samples: FFmpeg writes the wider ones as
WAVE_FORMAT_EXTENSIBLE, which Python 3.11's :mod:`wave` refuses; more than
two channels; no declared length; not a WAV at all) are left to PyAV,
which also produces the errors for unreadable files.

The samples equal PyAV's path bit for bit: mono as is, stereo mixed like
libswresample (``(L + R) / sqrt(2)``), scaled by ``2^-15``.
"""
import math
import wave
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .remote import open_source, source_size

__all__ = ['is_wav_name', 'open_pcm_wav', 'read_wav_spans', 'wav_duration']


def is_wav_name(filename: str) -> bool:
    return str(filename).lower().endswith('.wav')


def open_pcm_wav(filename: str) -> Optional[wave.Wave_read]:
    """``filename`` opened with :mod:`wave` when it is a ``.wav`` holding
    16-bit PCM in one or two channels and a declared length; ``None``
    otherwise (the caller then uses PyAV). The caller closes it."""
    if not is_wav_name(filename):
        return None
    src = open_source(filename, 'audio')  # refuses a FIFO: never blocks
    try:
        reader = wave.open(src if not isinstance(src, str) else str(src),
                           'rb')
    except (wave.Error, EOFError, OSError):
        return None
    if reader.getsampwidth() != 2 or reader.getnchannels() > 2 \
            or reader.getnframes() == 0 or reader.getframerate() <= 0:
        reader.close()
        return None
    return reader


def wav_duration(reader: wave.Wave_read, filename: str) -> float:
    """Seconds of samples in the file: the header's length, or what the
    file's size can hold if that is less (a truncated file, or a header
    written before its length was known)."""
    frame_bytes = 2 * reader.getnchannels()
    frames = min(reader.getnframes(),
                 source_size(filename) // frame_bytes)
    return frames / float(reader.getframerate())


def read_wav_spans(reader: wave.Wave_read,
                   spans: Sequence[Tuple[float, float]],
                   margin: float = 0.05
                   ) -> List[Tuple[np.ndarray, float, int]]:
    """Mono samples of each ``[t0, t1)`` span (plus ``margin`` s each side,
    like PyAV's frame-granular path) at the file's own rate.

    Args:
        reader: From :func:`open_pcm_wav`.
        spans: Source times (s).

    Returns:
        One ``(wave, start, rate)`` per span: float32 ``(N,)``, the time (s)
        of ``wave[0]`` and the rate (Hz). A span reaching past the data
        (or a file shorter than its header says) comes back shorter; the
        caller pads and flags it.
    """
    rate, channels = reader.getframerate(), reader.getnchannels()
    scale = 2.0**-15
    if channels == 2:
        scale *= np.sqrt(0.5)
    total = reader.getnframes()
    out = []
    for t0, t1 in spans:
        i0 = min(max(math.floor((t0 - margin) * rate), 0), total)
        i1 = min(max(math.ceil((t1 + margin) * rate), i0), total)
        reader.setpos(i0)
        data = reader.readframes(i1 - i0)  # native byte order
        # a truncated file may end inside a frame
        raw = np.frombuffer(data, np.int16, len(data) // (2 * channels) *
                            channels)
        if channels == 1:
            mono = raw.astype(np.float32)
        else:  # summed in float32: int16 would overflow
            mono = np.add(raw[0::2], raw[1::2], dtype=np.float32)
        mono *= np.float32(scale)
        out.append((mono, i0 / rate, rate))
    return out
