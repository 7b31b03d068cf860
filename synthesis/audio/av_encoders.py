"""Encoders on PyAV's bundled FFmpeg libraries: Ogg Opus, FLAC and ADTS AAC (no ffmpeg binary)."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
import numpy as np
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream

from synthesis.audio.ogg import OggWriter

OPUS_RATE = 48000
_VENDOR = b"CallWaiting TTS"


def _frame(pcm: bytes, rate: int, pts: int) -> av.AudioFrame:
    samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = rate
    frame.time_base = Fraction(1, rate)
    frame.pts = pts
    return frame


class OggOpusEncoder:
    """libopus packets in Ogg pages (RFC 7845); each `encode` flushes a page."""

    sample_rate = OPUS_RATE

    def __init__(self, bit_rate: int = 32000) -> None:
        codec = av.CodecContext.create("libopus", "w")
        assert isinstance(codec, AudioCodecContext)
        codec.sample_rate = OPUS_RATE
        codec.layout = "mono"
        codec.format = "s16"
        codec.bit_rate = bit_rate
        # Complexity 5 costs a quarter of the default 10's CPU; below 7 libopus skips the analysis
        # that keeps unconstrained VBR near its target (32 kbps became 42), so constrain it.
        codec.options = {"compression_level": "5", "vbr": "constrained"}
        codec.open()
        self._codec = codec
        self._ogg = OggWriter()
        # libopus puts the OpusHead, pre-skip included, in its extradata.
        self._head = bytes(codec.extradata or b"")
        self._pre_skip = struct.unpack_from("<H", self._head, 10)[0]
        self._samples = 0
        self._headers_sent = False

    def encode(self, pcm: bytes) -> bytes:
        packets: list[av.Packet] = []
        if pcm:
            packets = self._codec.encode(_frame(pcm, self.sample_rate, self._samples))
            self._samples += len(pcm) // 2
        return self._headers() + self._ogg.pages(self._granules(packets))

    def finish(self) -> bytes:
        packets = self._codec.encode(None)
        return self._headers() + self._ogg.pages(self._granules(packets), last=True)

    def _granules(self, packets: list[av.Packet]) -> list[tuple[bytes, int]]:
        # Granule positions count samples including pre-skip; the last one trims the padding.
        end = self._samples + self._pre_skip
        return [
            (bytes(packet), min(end, (packet.pts or 0) + (packet.duration or 0) + self._pre_skip))
            for packet in packets
        ]

    def _headers(self) -> bytes:
        if self._headers_sent:
            return b""
        self._headers_sent = True
        tags = b"OpusTags" + struct.pack("<I", len(_VENDOR)) + _VENDOR + struct.pack("<I", 0)
        return self._ogg.pages([(self._head, 0)]) + self._ogg.pages([(tags, 0)])


class _Sink:
    """A non-seekable output, so the muxer writes once, in order, and never rewrites."""

    def __init__(self) -> None:
        self._data = bytearray()

    def write(self, data: bytes) -> int:
        self._data += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self._data)
        self._data.clear()
        return data


class MuxedEncoder:
    """One codec in one FFmpeg container, for formats whose muxer writes as packets come (ADTS).
    With `streaming=False` the container may seek back and fix its header (FLAC's STREAMINFO
    gets the length, MD5 and frame sizes), so the bytes come out only at `finish()`.
    """

    def __init__(
        self,
        container: str,
        codec: str,
        sample_rate: int,
        *,
        bit_rate: int | None = None,
        container_options: dict[str, str] | None = None,
        streaming: bool = True,
    ) -> None:
        self.sample_rate = sample_rate
        self._output: _Sink | io.BytesIO = _Sink() if streaming else io.BytesIO()
        self._container = av.open(
            self._output, "w", format=container, options=container_options or {}
        )
        stream = self._container.add_stream(codec, rate=sample_rate)
        assert isinstance(stream, AudioStream)
        stream.layout = "mono"
        if bit_rate:
            stream.bit_rate = bit_rate
        self._stream = stream
        self._samples = 0

    def encode(self, pcm: bytes) -> bytes:
        if pcm:
            frame = _frame(pcm, self.sample_rate, self._samples)
            self._samples += len(pcm) // 2
            self._container.mux(self._stream.encode(frame))
        return self._output.take() if isinstance(self._output, _Sink) else b""

    def finish(self) -> bytes:
        self._container.mux(self._stream.encode(None))
        self._container.close()
        if isinstance(self._output, _Sink):
            return self._output.take()
        return self._output.getvalue()
