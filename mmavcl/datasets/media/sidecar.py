"""Where a sidecar's first sample sits on its video's clock.

``tools/data/extract_audio.py`` writes a video's audio into a sidecar file
from the stream's first decoded sample on. Real files rarely start both
streams together: YouTube downloads (Kinetics, VGG-Sound) often start the
audio ~0.5 s after the first frame, and edit lists or AAC priming put it
before. Views count seconds from the first video frame, so a sidecar alone
would put every view off by that gap.

The gap (s, first audio sample minus first displayed video frame, negative
when the audio starts earlier) is recorded in the sidecar's own metadata,
as text that FFmpeg writes and every tool shows (``ffprobe``):

* WAV: the ``LIST``/``INFO`` comment (``ICMT``), ``MMAVCL_AUDIO_START=0.5``.
  It precedes the ``data`` chunk; Python's :mod:`wave` (the fast sidecar
  reader, :mod:`.wav`) and FFmpeg skip it.
* FLAC: a Vorbis comment ``MMAVCL_AUDIO_START=0.5``.

:class:`~mmavcl.datasets.transforms.DecodeAudioViews` reads the sidecar at
the views' spans minus the gap, so missing audio is padded, flagged
``padded=True`` and counted for ``max_pad_ratio`` exactly as for the
container's own audio. This was chosen over writing the sidecar already
shifted into the video's clock (leading zeros, a trimmed start), which
would give the same waveforms but turn the missing start into real-looking
silence: ``padded`` would be False and ``max_pad_ratio`` blind to it.

A sidecar without the record (written before it existed, or by another
tool) counts from its first sample, as before: the gap is 0, wrong by the
real gap for a video whose audio starts late.
:func:`find_audio_start` tells it apart (``None``) so that
``DecodeAudioViews`` can warn (once per process) and mark the sample
(:data:`UNTAGGED_SIDECAR_KEY`), the train loops can name every such file
read on any rank, and ``tools/data/check_dataset.py`` can count such
sidecars.
"""
import math
import struct
from typing import BinaryIO, Dict, Optional

from .orientation import _open_binary

__all__ = ['AUDIO_START_TAG', 'UNTAGGED_SIDECAR_KEY', 'audio_start_metadata',
           'find_audio_start', 'read_audio_start']

#: the key of the record (a Vorbis comment name; in WAV the comment's text
#: is ``KEY=value``)
AUDIO_START_TAG = 'MMAVCL_AUDIO_START'

#: results and data-sample metainfo key naming a video's sidecar that has
#: no record (set by ``DecodeAudioViews``, absent otherwise): it reaches
#: the train loop with the batch, which names every such file over all
#: ranks (:mod:`mmavcl.engine.sidecar_report`)
UNTAGGED_SIDECAR_KEY = 'sidecar_without_alignment'


def audio_start_metadata(path: str, start: float) -> Dict[str, str]:
    """The container metadata (for :func:`~.writer.write_audio`) that
    records ``start`` (s, the gap above) in a ``.wav`` or ``.flac``
    ``path``. ``repr`` keeps every digit of the float, so the reader gets
    the same number the container path computes."""
    text = repr(float(start))
    if str(path).lower().endswith('.wav'):
        return {'comment': f'{AUDIO_START_TAG}={text}'}
    return {AUDIO_START_TAG: text}


def find_audio_start(filename: str) -> Optional[float]:
    """The recorded gap (s) of a sidecar ``filename`` (a path or a
    :class:`~.remote.FetchedFile`), or ``None`` when there is no record:
    none written, a format other than WAV and FLAC, a value that is not a
    finite number, or a file that cannot be read (its decoder reports
    that). Reads the headers only (tens of bytes to a few KB), without
    FFmpeg: 10 us for a local file, 2.5 us in memory (a shard's member),
    on this project's 2-core test machine."""
    try:
        with _open_binary(filename, 'audio') as f:
            head = f.read(12)
            if head[:4] == b'RIFF' and head[8:12] == b'WAVE':
                text = _riff_comment(f)
            elif head[:4] == b'fLaC':
                f.seek(4)
                text = _flac_tag(f)
            else:
                text = None
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    if text is None:
        return None
    try:
        start = float(text)
    except ValueError:
        return None
    return start if math.isfinite(start) else None


def read_audio_start(filename: str) -> float:
    """The recorded gap (s) of a sidecar ``filename``; 0.0 without a
    record (:func:`find_audio_start` is ``None``): the sidecar counts from
    its first sample."""
    start = find_audio_start(filename)
    return 0.0 if start is None else start


def _value(entry: bytes) -> Optional[str]:
    """The value of ``KEY=value`` when KEY is the record's (any case, as
    Vorbis comment names are)."""
    key, sep, value = entry.rstrip(b'\0').decode('utf-8').partition('=')
    if sep and key.upper() == AUDIO_START_TAG:
        return value.strip()
    return None


def _riff_comment(f: BinaryIO) -> Optional[str]:
    """The record in a ``LIST``/``INFO`` ``ICMT`` of the RIFF file ``f``
    (positioned after ``RIFF....WAVE``), looked for before ``data``, where
    FFmpeg writes it (the samples are not read)."""
    while True:
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        cid, size = hdr[:4], struct.unpack('<I', hdr[4:])[0]
        if cid == b'data':
            return None
        body_size = size + (size & 1)  # chunks are padded to even sizes
        if cid != b'LIST':
            f.seek(body_size, 1)
            continue
        body = f.read(body_size)
        if body[:4] != b'INFO':
            continue
        pos = 4
        while pos + 8 <= len(body):
            sid = body[pos:pos + 4]
            n = struct.unpack('<I', body[pos + 4:pos + 8])[0]
            if sid == b'ICMT':
                value = _value(body[pos + 8:pos + 8 + n])
                if value is not None:
                    return value
            pos += 8 + n + (n & 1)


def _flac_tag(f: BinaryIO) -> Optional[str]:
    """The record among the Vorbis comments of the FLAC file ``f``
    (positioned after ``fLaC``)."""
    last = False
    while not last:
        hdr = f.read(4)
        if len(hdr) < 4:
            return None
        last, kind = bool(hdr[0] & 0x80), hdr[0] & 0x7F
        size = int.from_bytes(hdr[1:4], 'big')
        if kind != 4:  # VORBIS_COMMENT
            f.seek(size, 1)
            continue
        body = f.read(size)
        vendor = struct.unpack('<I', body[:4])[0]
        pos = 4 + vendor
        count = struct.unpack('<I', body[pos:pos + 4])[0]
        pos += 4
        for _ in range(count):
            n = struct.unpack('<I', body[pos:pos + 4])[0]
            value = _value(body[pos + 4:pos + 4 + n])
            if value is not None:
                return value
            pos += 4 + n
        return None
    return None
