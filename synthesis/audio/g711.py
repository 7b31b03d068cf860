"""ITU-T G.711 μ-law and A-law, vectorized with lookup tables.

Bit-exact with CPython's `audioop` (lin2ulaw / lin2alaw / ulaw2lin / alaw2lin at width 2), which
is deprecated and gone from Python 3.13.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])
_ULAW_CLIP = 8159
_ULAW_BIAS = 0x84

ULAW_SILENCE = 0xFF
ALAW_SILENCE = 0xD5

Int64Array = npt.NDArray[np.int64]


def _every_int16() -> Int64Array:
    # Table index is the sample's bit pattern read as uint16, so 0..32767 then -32768..-1.
    return np.arange(65536, dtype=np.int64).astype(np.uint16).view(np.int16).astype(np.int64)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _every_int16() >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude, side="left")
    code = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> (segment + 1)) & 0xF)
    )
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    pcm = _every_int16() >> 3
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    magnitude = np.where(negative, -pcm - 1, pcm)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude, side="left")
    shift = np.maximum(segment, 1)
    code = np.where(
        segment >= 8, 0x7F, (np.minimum(segment, 7) << 4) | ((magnitude >> shift) & 0xF)
    )
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int64) & 0xFF
    magnitude = (((code & 0xF) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return np.where(code & 0x80, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int64) ^ 0x55
    segment = (code & 0x70) >> 4
    base = (code & 0xF) << 4
    magnitude = np.where(segment == 0, base + 8, (base + 0x108) << np.maximum(segment - 1, 0))
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()


def _table_index(pcm: bytes) -> npt.NDArray[np.uint16]:
    return np.frombuffer(pcm, dtype="<u2")


def pcm_to_ulaw(pcm: bytes) -> bytes:
    """s16le PCM to μ-law, one byte per sample."""
    return _ULAW_ENCODE[_table_index(pcm)].tobytes()


def pcm_to_alaw(pcm: bytes) -> bytes:
    """s16le PCM to A-law, one byte per sample."""
    return _ALAW_ENCODE[_table_index(pcm)].tobytes()


def ulaw_to_pcm(data: bytes) -> bytes:
    """μ-law to s16le PCM."""
    return _ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_to_pcm(data: bytes) -> bytes:
    """A-law to s16le PCM."""
    return _ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()
