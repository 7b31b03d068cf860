"""The output formats a client may ask for, and the one place that validates a request for one."""

from __future__ import annotations

from dataclasses import dataclass

PCM_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
TELEPHONY_RATE = 8000
OPUS_RATE = 48000
# OpenAI's speech endpoint answers pcm at 24 kHz; the other formats follow it unless asked.
DEFAULT_RATE = 24000


@dataclass(frozen=True)
class FormatSpec:
    name: str
    media_type: str
    extension: str
    default_rate: int
    rates: tuple[int, ...]
    lossless: bool
    note: str
    # False: the file's header needs its length, so it is only ever sent whole (FLAC).
    streamable: bool = True


FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (
        FormatSpec(
            "pcm",
            # Not audio/L16: RFC 2586 makes L16 big-endian, and this is little-endian.
            "audio/pcm",
            "pcm",
            DEFAULT_RATE,
            PCM_RATES,
            lossless=True,
            note="raw signed 16-bit little-endian mono, no header",
        ),
        FormatSpec(
            "wav",
            "audio/wav",
            "wav",
            DEFAULT_RATE,
            PCM_RATES,
            lossless=True,
            note="streamed with RIFF and data sizes 0xFFFFFFFF (length unknown); "
            "whole-file answers carry exact sizes",
        ),
        FormatSpec(
            "mp3",
            "audio/mpeg",
            "mp3",
            DEFAULT_RATE,
            PCM_RATES,
            lossless=False,
            note="MPEG layer III (LAME), CBR, streamable frame by frame; whole-file answers "
            "start with a LAME Info frame (length, encoder delay and padding)",
        ),
        FormatSpec(
            "opus",
            # RFC 7845 section 9.
            "audio/ogg; codecs=opus",
            "opus",
            OPUS_RATE,
            (OPUS_RATE,),
            lossless=False,
            note="Ogg Opus, one Ogg page per fed chunk; Opus decodes at 48 kHz",
        ),
        FormatSpec(
            "flac",
            "audio/flac",
            "flac",
            DEFAULT_RATE,
            PCM_RATES,
            lossless=True,
            note="native FLAC, always sent whole: STREAMINFO has the total samples, MD5 and "
            "frame sizes, which libsndfile needs",
            streamable=False,
        ),
        FormatSpec(
            "aac",
            "audio/aac",
            "aac",
            DEFAULT_RATE,
            PCM_RATES,
            lossless=False,
            note="AAC-LC in ADTS frames, streamable",
        ),
        FormatSpec(
            "mulaw",
            # RFC 2046: audio/basic is exactly 8 kHz mono μ-law.
            "audio/basic",
            "ulaw",
            TELEPHONY_RATE,
            (TELEPHONY_RATE,),
            lossless=False,
            note="raw G.711 μ-law, one byte per sample; 20 ms = 160 bytes",
        ),
        FormatSpec(
            "alaw",
            # audio/PCMA (RFC 4856) is defined for RTP only; this is the common raw-file name.
            "audio/x-alaw-basic",
            "alaw",
            TELEPHONY_RATE,
            (TELEPHONY_RATE,),
            lossless=False,
            note="raw G.711 A-law, one byte per sample; 20 ms = 160 bytes",
        ),
    )
}


class FormatError(ValueError):
    """A request named a format or rate that cannot be served; `field` names the input. Its
    text names it first ("sample_rate: ..."); `reason` is the text without it, for renderers
    that name the field themselves (DRF's errors: `callwaiting_tts.errors`)."""

    field: str

    def __init__(self, message: str, allowed: tuple[str, ...] | tuple[int, ...]) -> None:
        self.reason = f"{message}; allowed: {', '.join(map(str, allowed))}"
        super().__init__(f"{self.field}: {self.reason}")
        self.allowed = allowed


class UnknownFormat(FormatError):
    field = "format"


class UnsupportedSampleRate(FormatError):
    field = "sample_rate"


def check_format(
    name: str, sample_rate: int | None = None, *, default: int | None = None
) -> tuple[str, int]:
    """Validate a requested format and rate; returns the format name and the rate to encode at.

    Without `sample_rate`, `default` is used where the format allows it (a caller may prefer the
    engine's own rate, say), else the format's default.
    """
    spec = FORMATS.get(name)
    if spec is None:
        raise UnknownFormat(f"unknown format {name!r}", tuple(FORMATS))
    if sample_rate is None:
        return name, default if default in spec.rates else spec.default_rate
    if sample_rate not in spec.rates:
        raise UnsupportedSampleRate(f"{sample_rate} Hz is not available for {name}", spec.rates)
    return name, sample_rate
