"""A minimal Ogg page writer (RFC 3533) for one logical stream.

FFmpeg's Ogg muxer closes a page only when its `page_duration` is reached, which holds up to a
second of audio back from a stream; writing the pages here lets every fed chunk leave at once.
"""

from __future__ import annotations

import secrets
import struct
import zlib

_MAX_SEGMENTS = 255
_CONTINUED, _FIRST, _LAST = 0x01, 0x02, 0x04
_NO_GRANULE = -1
_HEADER = struct.Struct("<4sBBqIIIB")
_REVERSED_BITS = bytes(int(f"{byte:08b}"[::-1], 2) for byte in range(256))

# A lacing segment: up to 255 bytes, and the granule position if a packet ends with it.
Segment = tuple[bytes, int | None]


def ogg_crc(data: bytes) -> int:
    """CRC-32 with polynomial 0x04C11DB7, no reflection, zero init and no final xor.

    zlib computes the bit-reflected CRC, so feed it bit-reversed bytes with a zero register and
    reverse the result back; this keeps the byte loop in C.
    """
    register = zlib.crc32(data.translate(_REVERSED_BITS), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{register:032b}"[::-1], 2)


def _segments(packet: bytes, granule: int) -> list[Segment]:
    # A packet whose size is a multiple of 255 ends with an empty segment.
    pieces = [packet[start : start + 255] for start in range(0, len(packet) + 1, 255)]
    return [(piece, None) for piece in pieces[:-1]] + [(pieces[-1], granule)]


class OggWriter:
    """Packs packets into pages; every `pages()` call ends on a page boundary (a flush)."""

    def __init__(self, serial: int | None = None) -> None:
        self.serial = secrets.randbits(32) if serial is None else serial
        self._sequence = 0
        self._continued = False

    def pages(self, packets: list[tuple[bytes, int]], *, last: bool = False) -> bytes:
        """Pages holding `packets`, each paired with the granule position at its end.

        `last` marks the final page end-of-stream (an empty one if there are no packets).
        """
        segments = [segment for packet in packets for segment in _segments(*packet)]
        if not segments:
            return self._page([], last=True) if last else b""
        starts = range(0, len(segments), _MAX_SEGMENTS)
        return b"".join(
            self._page(segments[start : start + _MAX_SEGMENTS], last=last and start == starts[-1])
            for start in starts
        )

    def _page(self, segments: list[Segment], *, last: bool) -> bytes:
        ends = [granule for _, granule in segments if granule is not None]
        flags = (_CONTINUED if self._continued else 0) | (_FIRST if self._sequence == 0 else 0)
        flags |= _LAST if last else 0
        header = _HEADER.pack(
            b"OggS",
            0,
            flags,
            ends[-1] if ends else _NO_GRANULE,
            self.serial,
            self._sequence,
            0,
            len(segments),
        )
        self._sequence += 1
        self._continued = bool(segments) and segments[-1][1] is None
        page = b"".join([header, bytes(len(piece) for piece, _ in segments)])
        page += b"".join(piece for piece, _ in segments)
        return page[:22] + struct.pack("<I", ogg_crc(page)) + page[26:]
