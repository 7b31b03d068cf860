"""The LAME "Info" frame that makes a whole MP3 file decode to exactly the samples encoded.

An MP3 stream cannot say where its audio starts and ends: LAME puts 576 samples of encoder
delay before the first sample and pads the last frame, and a decoder plays both (about 0.1 s
more than was said). A file whose first frame is an Info tag (a Xing header with the frame count,
then LAME's extension with the delay and padding) is trimmed exactly by FFmpeg and by mpg123,
libsndfile's MP3 decoder. lameenc writes no such frame (it encodes to memory, with no file to
seek back into), so whole-file answers get one here; a stream cannot, its length being unknown
while it is sent.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# LAME's encoder delay at every rate when it does not resample (ENCDELAY in LAME 3.100).
ENCODER_DELAY = 576
_VERSION = b"LAME3.100"
_CBR = 1  # the Info tag's VBR method: constant bit rate
_XING_FLAGS = 0x0F  # frames, bytes, table of contents and quality are present
_TOC = bytes(i * 256 // 100 for i in range(100))  # a constant bit rate's seek table
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_KBPS = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG1 = 3
_LAME_EXTENSION = 36  # bytes, from the encoder's name to the tag's CRC


@dataclass(frozen=True)
class FrameHeader:
    version: int  # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate_index: int
    rate_index: int
    padding: bool
    mode_byte: int  # the header's last byte: channel mode, copyright, original, emphasis

    @classmethod
    def parse(cls, data: bytes, offset: int) -> FrameHeader:
        b0, b1, b2, b3 = data[offset : offset + 4]
        version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
        if b0 != 0xFF or b1 & 0xE0 != 0xE0 or version == 1 or layer != 1 or b2 >> 4 in (0, 15):
            raise ValueError(f"no MPEG layer III frame at byte {offset}")
        return cls(version, b2 >> 4, (b2 >> 2) & 3, bool(b2 & 2), b3)

    @property
    def sample_rate(self) -> int:
        return _RATES[self.version][self.rate_index]

    @property
    def kbps(self) -> int:
        return _KBPS[_MPEG1 if self.version == _MPEG1 else 2][self.bitrate_index]

    @property
    def samples(self) -> int:
        return 1152 if self.version == _MPEG1 else 576

    @property
    def size(self) -> int:
        return self.samples // 8 * 1000 * self.kbps // self.sample_rate + self.padding

    @property
    def side_info_size(self) -> int:
        mono = self.mode_byte >> 6 == 3
        if self.version == _MPEG1:
            return 17 if mono else 32
        return 9 if mono else 17


def frame_count(data: bytes) -> tuple[FrameHeader, int]:
    """The first frame's header and the number of frames in `data` (nothing but frames)."""
    first = header = FrameHeader.parse(data, 0)
    count, offset = 0, 0
    while offset < len(data):
        header = FrameHeader.parse(data, offset)
        offset += header.size
        count += 1
    if offset != len(data):
        raise ValueError("the last MP3 frame is cut short")
    return first, count


def info_frame(data: bytes, samples: int) -> bytes:
    """An Info frame for `data` (LAME's constant-bit-rate frames, `samples` encoded), to go
    before it; b"" for no frames."""
    if not data:
        return b""
    first, count = frame_count(data)
    header = _tag_header(first)
    padding = count * first.samples - ENCODER_DELAY - samples
    if not 0 <= padding < 4096:
        raise ValueError(f"{count} frames cannot hold {samples} samples after the delay")
    xing = b"".join(
        [
            b"Info",
            struct.pack(">III", _XING_FLAGS, count, header.size + len(data)),
            _TOC,
            struct.pack(">I", 0),
        ]
    )
    lame = b"".join(
        [
            _VERSION,
            bytes([_CBR, 0]),  # revision 0 and the method; no lowpass recorded
            bytes(8),  # no ReplayGain
            bytes([0, min(first.kbps, 255)]),  # no encoding flags; the bit rate
            (ENCODER_DELAY << 12 | padding).to_bytes(3, "big"),
            bytes(4),  # misc, MP3Gain, preset and surround
            struct.pack(">IH", header.size + len(data), 0),  # music length; no music CRC
        ]
    )
    start = _header_bytes(header) + bytes(header.side_info_size) + xing + lame
    tag = start + struct.pack(">H", crc16(start))
    return tag + bytes(header.size - len(tag))


def _tag_header(first: FrameHeader) -> FrameHeader:
    """The stream's header at the lowest bit rate, no lower than its own, whose frame holds the
    tag (a low rate's frames are too small for it; decoders skip the Info frame either way)."""
    # Frame header, side info, "Info", flags, frames, bytes, TOC, quality, LAME's extension.
    need = 4 + first.side_info_size + 4 + 12 + len(_TOC) + 4 + _LAME_EXTENSION
    for index in range(first.bitrate_index, 15):
        header = FrameHeader(first.version, index, first.rate_index, False, first.mode_byte)
        if header.size >= need:
            return header
    raise ValueError("no bit rate gives a frame large enough for the Info tag")


def _header_bytes(header: FrameHeader) -> bytes:
    # Sync, version, layer III, no CRC; bit rate, sample rate, no padding; the stream's mode.
    return bytes(
        [
            0xFF,
            0xE0 | header.version << 3 | 1 << 1 | 1,
            header.bitrate_index << 4 | header.rate_index << 2,
            header.mode_byte,
        ]
    )


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16 = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC-16/ARC (polynomial 0x8005, reflected, zero start): the LAME tag's own checksum."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC16[(crc ^ byte) & 0xFF]
    return crc
