"""Audio helpers for the client: G.711 decoding and WAV files, with no `audioop` (gone in 3.13).

`pcm` on `/v1/stream` is signed 16-bit little-endian mono; `mulaw` and `alaw` are G.711 at 8 kHz.
"""

from __future__ import annotations

import io
import struct
import wave
from collections.abc import Callable
from typing import Literal

from callwaiting_tts_client.protocol import G711_RATE

# WAVE format tags (RFC 2361): G.711 A-law is 6, μ-law is 7.
WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_MULAW = 7


def _mulaw_sample(code: int) -> int:
    # ITU-T G.711 μ-law: bits are stored inverted; 3-bit exponent, 4-bit mantissa, bias 0x84.
    code = ~code & 0xFF
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if code & 0x80 else magnitude


def _alaw_sample(code: int) -> int:
    # ITU-T G.711 A-law: even bits inverted (xor 0x55); a set sign bit means positive.
    code ^= 0x55
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    segment0 = (mantissa << 4) + 8
    shifted = ((mantissa << 4) + 0x108) << max(exponent - 1, 0)
    magnitude = segment0 if exponent == 0 else shifted
    return magnitude if code & 0x80 else -magnitude


def _byte_tables(sample: Callable[[int], int]) -> tuple[bytes, bytes]:
    """`bytes.translate` tables from a G.711 code to the low and the high byte of its s16le
    sample: decoding is then two translations at C speed, no numpy needed."""
    samples = [sample(code) & 0xFFFF for code in range(256)]
    return bytes(s & 0xFF for s in samples), bytes(s >> 8 for s in samples)


_TABLES = {"mulaw": _byte_tables(_mulaw_sample), "alaw": _byte_tables(_alaw_sample)}


def decode_g711(data: bytes, fmt: Literal["mulaw", "alaw"]) -> bytes:
    """μ-law or A-law bytes → signed 16-bit little-endian PCM (same sample rate)."""
    codes = data if isinstance(data, bytes | bytearray) else bytes(data)
    low, high = _TABLES[fmt]
    pcm = bytearray(2 * len(codes))
    pcm[0::2] = codes.translate(low)
    pcm[1::2] = codes.translate(high)
    return bytes(pcm)


def bytes_per_ms(fmt: str, sample_rate: int) -> float:
    """Bytes of audio per millisecond: 2 bytes a sample for pcm, 1 for G.711."""
    width = 2 if fmt == "pcm" else 1
    return width * sample_rate / 1000


def duration_ms(data_len: int, fmt: str, sample_rate: int) -> int:
    return round(data_len / bytes_per_ms(fmt, sample_rate)) if sample_rate else 0


def pcm_wav(pcm: bytes, sample_rate: int) -> bytes:
    """A 16-bit mono WAV around s16le PCM (a dangling odd byte is dropped)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm[: len(pcm) - len(pcm) % 2])
    return buffer.getvalue()


def g711_wav(data: bytes, fmt: Literal["mulaw", "alaw"], sample_rate: int = G711_RATE) -> bytes:
    """A WAV that keeps G.711 as is: format tag 7 (μ-law) or 6 (A-law), 8-bit, with the `fact`
    chunk that non-PCM WAVE files carry. The `wave` module only writes PCM, hence by hand."""
    tag = WAVE_FORMAT_MULAW if fmt == "mulaw" else WAVE_FORMAT_ALAW
    fmt_chunk = struct.pack("<HHIIHHH", tag, 1, sample_rate, sample_rate, 1, 8, 0)
    fact_chunk = struct.pack("<I", len(data))
    pad = b"\x00" if len(data) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt_chunk))
        + fmt_chunk
        + b"fact"
        + struct.pack("<I", len(fact_chunk))
        + fact_chunk
        + b"data"
        + struct.pack("<I", len(data))
        + data
        + pad
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def to_wav(data: bytes, fmt: str, sample_rate: int, *, keep_g711: bool = False) -> bytes:
    """A playable WAV of `data` in `fmt`: pcm as 16-bit; G.711 decoded to 16-bit at its rate, or
    kept with its own format tag when `keep_g711`."""
    if fmt == "pcm":
        return pcm_wav(data, sample_rate)
    if fmt not in ("mulaw", "alaw"):
        raise ValueError(f"unknown audio format {fmt!r}")
    g711: Literal["mulaw", "alaw"] = "mulaw" if fmt == "mulaw" else "alaw"
    if keep_g711:
        return g711_wav(data, g711, sample_rate)
    return pcm_wav(decode_g711(data, g711), sample_rate)
