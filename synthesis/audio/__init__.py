"""Resampling and encoding of engine PCM for clients; pure (no Django), safe to run in a thread."""

from __future__ import annotations

from synthesis.audio.encode import AudioPipeline, Encoder, encode_whole, make_encoder
from synthesis.audio.formats import (
    FORMATS,
    FormatError,
    FormatSpec,
    UnknownFormat,
    UnsupportedSampleRate,
    check_format,
)
from synthesis.audio.resample import Resampler
from synthesis.audio.telephony import Framer, frame_bytes, frames

__all__ = [
    "FORMATS",
    "AudioPipeline",
    "Encoder",
    "FormatError",
    "FormatSpec",
    "Framer",
    "Resampler",
    "UnknownFormat",
    "UnsupportedSampleRate",
    "check_format",
    "encode_whole",
    "frame_bytes",
    "frames",
    "make_encoder",
]
