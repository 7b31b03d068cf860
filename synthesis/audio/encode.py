"""Engine-rate PCM in, client format out: per-format encoders and the pipeline the web side feeds.

Everything here is synchronous and CPU-bound; the web side runs it in a thread, off the event
loop. One `AudioPipeline` per response; its codec contexts live as long as it does.
"""

from __future__ import annotations

import struct
from typing import Protocol

import lameenc

from synthesis.audio import g711
from synthesis.audio.av_encoders import MuxedEncoder, OggOpusEncoder
from synthesis.audio.formats import FORMATS, check_format
from synthesis.audio.mp3_info import info_frame
from synthesis.audio.resample import Resampler

# RIFF and data sizes for a stream of unknown length; 0 would read as empty in libsndfile.
_UNKNOWN_SIZE = 0xFFFFFFFF


class Encoder(Protocol):
    """Takes s16le mono PCM at the encoder's rate, in any chunking; returns what is ready."""

    def encode(self, pcm: bytes) -> bytes: ...

    def finish(self) -> bytes: ...


def wav_header(sample_rate: int, data_size: int | None = None) -> bytes:
    """A 44-byte PCM WAVE header; `data_size=None` marks the length unknown (streaming)."""
    riff_size = _UNKNOWN_SIZE if data_size is None else 36 + data_size
    fmt = struct.pack("<HHIIHH", 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", min(riff_size, _UNKNOWN_SIZE)),
            b"WAVEfmt ",
            struct.pack("<I", len(fmt)),
            fmt,
            b"data",
            struct.pack("<I", _UNKNOWN_SIZE if data_size is None else data_size),
        ]
    )


class PcmEncoder:
    def encode(self, pcm: bytes) -> bytes:
        return pcm

    def finish(self) -> bytes:
        return b""


class StreamingWavEncoder:
    """The header (length unknown) goes out with the first chunk, then the samples as they are."""

    def __init__(self, sample_rate: int) -> None:
        self._header: bytes = wav_header(sample_rate)

    def encode(self, pcm: bytes) -> bytes:
        header, self._header = self._header, b""
        return header + pcm if header else pcm

    def finish(self) -> bytes:
        return self.encode(b"")


class WholeWavEncoder:
    """Keeps the samples until `finish()`, which returns the file with exact sizes."""

    def __init__(self, sample_rate: int) -> None:
        self._sample_rate = sample_rate
        self._chunks: list[bytes] = []

    def encode(self, pcm: bytes) -> bytes:
        self._chunks.append(pcm)
        return b""

    def finish(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks = []
        return wav_header(self._sample_rate, len(data)) + data


class Mp3Encoder:
    def __init__(self, sample_rate: int) -> None:
        lame = lameenc.Encoder()
        lame.set_channels(1)
        lame.set_in_sample_rate(sample_rate)
        # Without it LAME picks its own output rate from the bit rate (48 kbps at 44.1 kHz → 32k).
        lame.set_out_sample_rate(sample_rate)
        lame.set_bit_rate(_mp3_kbps(sample_rate))
        # 5 is LAME's "good speed" point; 2 costs about twice the CPU for no audible gain on speech.
        lame.set_quality(5)
        self._lame = lame
        self._started = False

    def encode(self, pcm: bytes) -> bytes:
        if not pcm:
            return b""
        self._started = True
        return bytes(self._lame.encode(pcm))

    def finish(self) -> bytes:
        # lameenc refuses to flush an encoder that never encoded.
        return bytes(self._lame.flush()) if self._started else b""


class WholeMp3Encoder:
    """Keeps LAME's frames until `finish()`, which puts an Info frame before them: decoders then
    play exactly the samples fed, without LAME's delay and padding."""

    def __init__(self, sample_rate: int) -> None:
        self._lame = Mp3Encoder(sample_rate)
        self._chunks: list[bytes] = []
        self._samples = 0

    def encode(self, pcm: bytes) -> bytes:
        self._samples += len(pcm) // 2
        self._chunks.append(self._lame.encode(pcm))
        return b""

    def finish(self) -> bytes:
        data = b"".join([*self._chunks, self._lame.finish()])
        self._chunks = []
        return info_frame(data, self._samples) + data


def _mp3_kbps(sample_rate: int) -> int:
    if sample_rate <= 12000:
        return 32
    return 48 if sample_rate <= 24000 else 64


class G711Encoder:
    def __init__(self, law: str) -> None:
        self._convert = g711.pcm_to_ulaw if law == "mulaw" else g711.pcm_to_alaw

    def encode(self, pcm: bytes) -> bytes:
        return self._convert(pcm)

    def finish(self) -> bytes:
        return b""


def _aac_bit_rate(sample_rate: int) -> int:
    # Half of the 6 bits per sample FFmpeg's encoder allows: 24 kbps at 8 kHz, 64 from 22.05 kHz.
    return min(64000, 3 * sample_rate)


def make_encoder(format: str, sample_rate: int, *, streaming: bool = True) -> Encoder:
    """An encoder for `format` taking PCM at `sample_rate` (validated by `check_format`).

    `streaming=False` is for whole-file answers: WAV, MP3 and FLAC then carry exact lengths.
    A format that cannot be streamed (FLAC) is always encoded whole: its bytes come at `finish()`.
    """
    format, sample_rate = check_format(format, sample_rate)
    streaming = streaming and FORMATS[format].streamable
    if format == "pcm":
        return PcmEncoder()
    if format == "wav":
        return StreamingWavEncoder(sample_rate) if streaming else WholeWavEncoder(sample_rate)
    if format == "mp3":
        return Mp3Encoder(sample_rate) if streaming else WholeMp3Encoder(sample_rate)
    if format == "opus":
        return OggOpusEncoder()
    if format == "flac":
        # FFmpeg reserves 8 KiB of padding for later tag edits; an answer has no later.
        padding = {"metadata_header_padding": "0"}
        return MuxedEncoder("flac", "flac", sample_rate, container_options=padding, streaming=False)
    if format == "aac":
        return MuxedEncoder("adts", "aac", sample_rate, bit_rate=_aac_bit_rate(sample_rate))
    return G711Encoder(format)


class AudioPipeline:
    """Resamples engine PCM to the client's rate and encodes it, chunk by chunk.

    `feed()` returns the bytes ready to send (possibly none); `finish()` returns the rest and
    must be called once, after the last chunk.
    """

    def __init__(
        self, engine_rate: int, format: str, sample_rate: int, *, streaming: bool = True
    ) -> None:
        self.format, self.sample_rate = check_format(format, sample_rate)
        self._resampler = Resampler(engine_rate, self.sample_rate)
        self._encoder = make_encoder(self.format, self.sample_rate, streaming=streaming)

    @property
    def light(self) -> bool:
        """Whether `feed` only passes the samples on (PCM or WAV at the engine's rate): no
        resampling, no codec, nothing worth a thread round trip."""
        return self._resampler.identity and isinstance(
            self._encoder, PcmEncoder | StreamingWavEncoder
        )

    def feed(self, pcm: bytes) -> bytes:
        return self._encoder.encode(self._resampler.process(pcm))

    def finish(self) -> bytes:
        return self._encoder.encode(self._resampler.flush()) + self._encoder.finish()


def encode_whole(pcm: bytes, engine_rate: int, format: str, sample_rate: int) -> bytes:
    """A complete file for a non-streamed answer (WAV, MP3 and FLAC with exact lengths)."""
    pipeline = AudioPipeline(engine_rate, format, sample_rate, streaming=False)
    return pipeline.feed(pcm) + pipeline.finish()
