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
* M4A (AAC in MP4): the iTunes-style comment (``moov/udta/meta/ilst``
  ``\xa9cmt``), ``MMAVCL_AUDIO_START=0.5``: FFmpeg's MP4 muxer keeps
  ``comment`` and drops other keys. Its edit list skips the AAC priming, so
  the first sample the decoder delivers is the first one written, and
  ends at the last one written (in the M4A's samples:
  :func:`~.writer.write_audio`), where
  :func:`~.audio.decode_audio_spans` stops
  (:func:`~.probe.stated_audio_end`).
* MP3: an ID3v2 ``TXXX`` frame named ``MMAVCL_AUDIO_START``. FFmpeg times
  an MP3's first sample after the encoder delay (0.069 s for LAME at
  16 kHz), so the sidecar is read from that first sample on
  (``decode_audio_spans(..., from_first_sample=True)``), not from its
  clock's zero.
* Opus (in Ogg): a comment ``MMAVCL_AUDIO_START=0.5`` in the ``OpusTags``
  packet (Vorbis comment layout, as FLAC's). The decoder drops the
  encoder's pre-skip and times the first sample it delivers at 0.

The M4A and MP3 atoms/frames are found by walking the boxes (the ``moov``
at the end, after a seek over ``mdat``) or the ID3 tag at the start; the
``OpusTags`` packet from the Ogg pages at the start.

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
(:data:`UNTAGGED_SIDECAR_KEY`), ``DataReportHook`` can name every such
file read on any rank, and ``tools/data/check_dataset.py`` can count such
sidecars.
"""
import math
import struct
from typing import BinaryIO, Dict, Optional

from .orientation import _BMFF_FIRST, _boxes, _child, _open_binary

__all__ = ['AUDIO_START_TAG', 'RECORD_FORMATS', 'SIDECAR_EXTS',
           'OPUS_RATES', 'UNTAGGED_SIDECAR_KEY', 'audio_start_metadata',
           'find_audio_start', 'read_audio_start']

#: the key of the record (a Vorbis comment name; in WAV the comment's text
#: is ``KEY=value``)
AUDIO_START_TAG = 'MMAVCL_AUDIO_START'

#: sidecar extensions that can carry the record (the ones
#: ``tools/data/extract_audio.py`` writes), and whether FFmpeg writes it as
#: the ``comment`` tag (``KEY=value``: WAV ``ICMT``, MP4 ``\xa9cmt``) or
#: under its own name (FLAC and Opus Vorbis comments, ID3v2 ``TXXX``)
RECORD_FORMATS = {'.wav': True, '.flac': False, '.m4a': True,
                  '.opus': False, '.mp3': False}

#: where a video dataset (``AVVideoDataset(audio_source='sidecar')``, and
#: so ``check_dataset.py``), ``make_shards.py`` and ``AVShardDataset`` look
#: for a video's sidecar, the first found when there are several: the
#: lossless ones (the container's samples to 16 bits), WAV before FLAC as
#: ``extract_audio.py``'s default, read without FFmpeg; then the lossy ones
#: by their views' largest error against the container's audio on a test
#: chirp of amplitude 0.5 (tests/datasets/test_sidecar_alignment.py): M4A
#: 6e-5, Opus 1.2e-2, MP3 2.5e-2 (LAME's fixed 0.95 gain; 2e-4 besides);
#: MP3 also times its first sample after the encoder delay. Each extension
#: tried is a ``stat`` (~1 us) per sample, an existence request for a
#: remote prefix: a WAV costs one, an MP3 five
SIDECAR_EXTS = tuple(RECORD_FORMATS)

#: the rates (Hz) libopus encodes: an ``.opus`` sidecar is written at one
#: of them (and decoded at 48 kHz, as every Opus stream)
OPUS_RATES = (48000, 24000, 16000, 12000, 8000)

#: results and data-sample metainfo key naming a video's sidecar that has
#: no record (set by ``DecodeAudioViews``, absent otherwise): it reaches
#: the main process with the batch, where ``DataReportHook`` names every
#: such file over all ranks (:mod:`mmavcl.engine.hooks.data_report_hook`)
UNTAGGED_SIDECAR_KEY = 'sidecar_without_alignment'


def audio_start_metadata(path: str, start: float) -> Dict[str, str]:
    """The container metadata (for :func:`~.writer.write_audio`) that
    records ``start`` (s, the gap above) in a ``.wav``, ``.flac``, ``.m4a``,
    ``.opus`` or ``.mp3`` ``path``. ``repr`` keeps every digit of the
    float, so the reader gets the same number the container path
    computes."""
    ext = '.' + str(path).rsplit('.', 1)[-1].lower()
    if ext not in RECORD_FORMATS:
        raise ValueError(f'{path}: a {ext} sidecar cannot carry the '
                         f'{AUDIO_START_TAG} record (use one of '
                         f'{", ".join(RECORD_FORMATS)})')
    text = repr(float(start))
    if RECORD_FORMATS[ext]:
        return {'comment': f'{AUDIO_START_TAG}={text}'}
    return {AUDIO_START_TAG: text}


def find_audio_start(filename: str) -> Optional[float]:
    """The recorded gap (s) of a sidecar ``filename`` (a path or a
    :class:`~.remote.FetchedFile`), or ``None`` when there is no record:
    none written, a format other than WAV, FLAC, MP4/M4A, MP3 and Ogg
    Opus, a value
    that is not a finite number, or a file that cannot be read (its decoder
    reports that). Reads the headers only (tens of bytes to a few KB),
    without FFmpeg: 6-20 us for a local file, 2.5-4 us in memory (a
    shard's member), an M4A 27 us and 9 us (its ``moov`` follows the
    samples: a seek over ``mdat`` and a walk down four boxes), on this
    project's 2-core test machine; opening the file with PyAV to read its
    metadata took 0.14-5.4 ms."""
    try:
        with _open_binary(filename, 'audio') as f:
            head = f.read(12)
            if head[:4] == b'RIFF' and head[8:12] == b'WAVE':
                text = _riff_comment(f)
            elif head[:4] == b'fLaC':
                f.seek(4)
                text = _flac_tag(f)
            elif head[4:8] in _BMFF_FIRST:
                text = _mp4_comment(f)
            elif head[:3] == b'ID3':
                f.seek(0)
                text = _id3_tag(f)
            elif head[:4] == b'OggS':
                f.seek(0)
                text = _opus_tag(f)
            else:
                text = None
    except (OSError, struct.error, UnicodeDecodeError, ValueError,
            IndexError):  # truncated or malformed headers
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
        return _vorbis_comment(f.read(size))
    return None


def _vorbis_comment(body: bytes) -> Optional[str]:
    """The record among the comments of a Vorbis comment ``body`` (vendor
    string, count, ``KEY=value`` entries; lengths 32-bit little-endian)."""
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


#: bytes of Ogg pages read for the ``OpusTags`` packet before giving up:
#: FFmpeg's fits in the second page (~100 bytes); cover art may not
_OGG_TAGS_LIMIT = 1 << 20


def _opus_tag(f: BinaryIO) -> Optional[str]:
    """The record in the ``OpusTags`` packet of the Ogg Opus file ``f``:
    the second packet of the first logical stream (RFC 7845, 5.2), which
    starts a page and may span several. Pages are a 27-byte header
    (``OggS``, the stream's serial at 14, the segment count at 26), the
    segment sizes, then the data; a packet ends at a segment under 255."""
    serial, packets, packet, read = None, 0, b'', 0
    while read < _OGG_TAGS_LIMIT:
        head = f.read(27)
        if len(head) < 27 or head[:4] != b'OggS':
            return None
        sizes = f.read(head[26])
        data = f.read(sum(sizes))
        read += 27 + len(sizes) + len(data)
        if serial is None:
            serial = head[14:18]
        elif head[14:18] != serial:  # another stream's page
            continue
        pos = 0
        for size in sizes:
            packet += data[pos:pos + size]
            pos += size
            if size == 255:  # the packet goes on
                continue
            packets += 1
            if packets == 2:
                if not packet.startswith(b'OpusTags'):
                    return None
                return _vorbis_comment(packet[8:])
            packet = b''
    return None


def _mp4_comment(f: BinaryIO) -> Optional[str]:
    """The record in the ``moov/udta/meta/ilst`` comment (``\xa9cmt``,
    its ``data`` box: 8 bytes of type and locale, then UTF-8 text) of the
    MP4 file ``f``, where FFmpeg's muxer writes the ``comment`` tag."""
    f.seek(0)
    box = (0, None)
    for kind in (b'moov', b'udta', b'meta'):
        f.seek(box[0])
        box = next(((a, b) for k, a, b in _boxes(f, box[1]) if k == kind),
                   None)
        if box is None:
            return None
    # ``meta`` is a full box (4 bytes of version and flags) in ISO files,
    # a plain one in QuickTime's: its first child tells
    f.seek(box[0] + 4)
    start = box[0] + (0 if f.read(4) == b'hdlr' else 4)
    ilst = _child(f, start, box[1], b'ilst')
    cmt = ilst and _child(f, ilst[0], ilst[1], b'\xa9cmt')
    data = cmt and _child(f, cmt[0], cmt[1], b'data')
    if not data:
        return None
    f.seek(data[0] + 8)
    return _value(f.read(data[1] - data[0] - 8))


#: ID3v2 text encodings (the first byte of a text frame)
_ID3_ENCODINGS = ('latin-1', 'utf-16', 'utf-16-be', 'utf-8')


def _id3_tag(f: BinaryIO) -> Optional[str]:
    """The record in an ID3v2.3/2.4 ``TXXX`` frame of the MP3 file ``f``
    (at its start): named ``MMAVCL_AUDIO_START`` (what FFmpeg writes for
    the key), or any ``TXXX``/``COMM`` whose text is ``KEY=value``."""
    head = f.read(10)
    version, flags = head[3], head[5]
    if version not in (3, 4):
        return None
    tag = f.read(_syncsafe(head[6:10]))
    if flags & 0x80:  # unsynchronised: 0xFF 0x00 stands for 0xFF
        tag = tag.replace(b'\xff\x00', b'\xff')
    pos = 0
    if flags & 0x40:  # an extended header to skip
        n = struct.unpack('>I', tag[:4])[0]
        pos = _syncsafe(tag[:4]) if version == 4 else n + 4
    while pos + 10 <= len(tag) and tag[pos] != 0:
        fid, raw = tag[pos:pos + 4], tag[pos + 4:pos + 8]
        n = _syncsafe(raw) if version == 4 else struct.unpack('>I', raw)[0]
        body = tag[pos + 10:pos + 10 + n]
        pos += 10 + n
        if fid not in (b'TXXX', b'COMM') or not body or body[0] > 3:
            continue
        text = body[1:] if fid == b'TXXX' else body[4:]  # COMM: language
        parts = text.decode(_ID3_ENCODINGS[body[0]]).replace(
            '\ufeff', '').split('\0')
        name, values = parts[0], [p for p in parts[1:] if p]
        if fid == b'TXXX' and name.upper() == AUDIO_START_TAG and values:
            return values[0].strip()
        for value in values:
            value = _value(value.encode('utf-8'))
            if value is not None:
                return value
    return None


def _syncsafe(raw: bytes) -> int:
    """An ID3v2 size: 7 bits per byte."""
    return ((raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14
            | (raw[2] & 0x7F) << 7 | raw[3] & 0x7F)
