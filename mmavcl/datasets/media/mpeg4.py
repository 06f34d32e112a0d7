"""MPEG-4 Part 2 (DivX/Xvid, FFmpeg's ``mpeg4``) headers the readers need
to tell a not-coded VOP from a broken packet, and B-VOPs (which decord
misplaces) from the packets.

A VOP whose ``vop_coded`` flag is 0 carries no picture: the previous one
stays on screen for its time (ISO/IEC 14496-2, 6.3.5). FFmpeg's decoder
returns no frame for it, so a reader that numbers frames by what the
decoder returns loses that index. The flag sits a few bits into the VOP
header, after ``vop_time_increment``, whose width follows from the VOL
header's ``vop_time_increment_resolution``: both are read here, bit by
bit, from at most a few hundred bytes.
"""
from typing import Optional, Tuple

__all__ = [
    'vop_increment_bits', 'is_not_coded_vop', 'vop_count', 'vop_types',
    'NotCodedVops', 'scan_vops'
]

_VOP_START = b'\x00\x00\x01\xb6'
#: a not-coded VOP is its header alone; a packet it starts holds a few
#: bytes (7 from Xvid and FFmpeg), so only this much is looked at
HEAD_BYTES = 512


class _Bits:
    """MSB-first reader over ``data`` from byte ``start``."""

    def __init__(self, data: bytes, start: int) -> None:
        self.data, self.pos = data, 8 * start

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]  # IndexError past the end
            value = (value << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return value


def vop_increment_bits(data: bytes) -> Optional[int]:
    """Width (bits) of ``vop_time_increment`` from the first VOL header in
    ``data`` (a stream's extradata or a keyframe packet); None when there
    is none or it is cut short. Follows the VOL syntax up to
    ``vop_time_increment_resolution`` (ISO/IEC 14496-2, 6.2.3)."""
    k = 0
    while True:
        k = data.find(b'\x00\x00\x01', k)
        if k < 0 or k + 4 > len(data):
            return None
        if 0x20 <= data[k + 3] <= 0x2F:  # video_object_layer_start_code
            break
        k += 3
    bits = _Bits(data, k + 4)
    try:
        bits.read(1 + 8)  # random_accessible_vol, video_object_type
        verid = 1
        if bits.read(1):  # is_object_layer_identifier
            verid = bits.read(4)
            bits.read(3)  # priority
        if bits.read(4) == 0xF:  # aspect_ratio_info: extended PAR
            bits.read(16)
        if bits.read(1):  # vol_control_parameters
            bits.read(2 + 1)  # chroma_format, low_delay
            if bits.read(1):  # vbv_parameters
                bits.read(15 + 1 + 15 + 1 + 15 + 1 + 3 + 11 + 1 + 15 + 1)
        shape = bits.read(2)
        if shape == 3 and verid != 1:  # grayscale: shape extension
            bits.read(4)
        if not bits.read(1):  # marker
            return None
        resolution = bits.read(16)
    except IndexError:
        return None
    if not resolution:
        return None
    return max(1, (resolution - 1).bit_length())


def is_not_coded_vop(data: bytes, increment_bits: int) -> bool:
    """Whether the first VOP in ``data`` has ``vop_coded = 0`` (ISO/IEC
    14496-2, 6.2.5); False when ``data`` holds no whole VOP header or its
    marker bits are wrong (corrupt data is not a repeat)."""
    k = data.find(_VOP_START)
    if k < 0:
        return False
    bits = _Bits(data, k + 4)
    try:
        bits.read(2)  # vop_coding_type
        while bits.read(1):  # modulo_time_base: ones, then a zero
            pass
        if not bits.read(1):  # marker
            return False
        bits.read(increment_bits)
        if not bits.read(1):  # marker
            return False
        return bits.read(1) == 0
    except IndexError:
        return False


def vop_count(data: bytes) -> int:
    """VOP start codes in ``data``: 2 in a DivX "packed B-frames" packet,
    whose B-frame FFmpeg returns for the not-coded placeholder VOP after
    it (that VOP is then no repeat)."""
    return data.count(_VOP_START)


def vop_types(data: bytes) -> str:
    """The ``vop_coding_type`` of each VOP in ``data`` as letters, in
    stream order: ``'I'``, ``'P'``, ``'B'`` or ``'S'`` (sprite), e.g.
    ``'PB'`` for a DivX packed packet."""
    types, k = '', data.find(_VOP_START)
    while 0 <= k < len(data) - 4:
        types += 'IPBS'[data[k + 4] >> 6]
        k = data.find(_VOP_START, k + 4)
    return types


class NotCodedVops:
    """Tells the not-coded VOPs among the packets of an MPEG-4 Part 2
    ``stream`` (a PyAV video stream).

    The VOL's time resolution comes from the extradata, else from the
    first packet that carries a VOL (AVI). The placeholder VOP after a DivX
    "packed B-frames" packet (the packet before holds two VOPs) is no
    repeat: FFmpeg returns the packed B-frame for it; ``placeholders``
    counts those met.
    """

    def __init__(self, stream) -> None:
        self.bits = vop_increment_bits(stream.codec_context.extradata or b'')
        self.placeholders = 0

    def __call__(self, packet, previous) -> bool:
        """Whether ``packet`` (non-empty) is a not-coded VOP; ``previous``:
        the non-empty packet demuxed before it, or None."""
        head = bytes(memoryview(packet)[:HEAD_BYTES])
        if self.bits is None:
            self.bits = vop_increment_bits(head)
            if self.bits is None:
                return False
        if not is_not_coded_vop(head, self.bits):
            return False
        if previous is not None and vop_count(bytes(previous)) >= 2:
            self.placeholders += 1
            return False
        return True


def scan_vops(container) -> Tuple[int, int]:
    """``(not-coded VOPs, B-VOPs)`` in the first video stream of the PyAV
    ``container``: a demux of its packets, no decoding; ``(0, 0)`` for
    other codecs. A B-VOP is counted where a packet starts with one, or
    sits packed behind a P-VOP (told by the placeholder after it). The
    container's position is left anywhere: its readers seek first."""
    if not container.streams.video:
        return 0, 0
    stream = container.streams.video[0]
    if stream.codec_context is None or stream.codec_context.name != 'mpeg4':
        return 0, 0
    check, previous, not_coded, b_vops = NotCodedVops(stream), None, 0, 0
    container.seek(0, stream=stream)
    for packet in container.demux(stream):
        if packet.size:
            not_coded += check(packet, previous)
            head = bytes(memoryview(packet)[:HEAD_BYTES])
            b_vops += vop_types(head)[:1] == 'B'
            previous = packet
    return not_coded, b_vops + check.placeholders
