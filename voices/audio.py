"""Decoding uploaded reference audio on the web side: PyAV probes the bytes themselves (the file
name and the content type are never trusted), only the containers we accept are decoded, and
decoding stops as soon as the audio is longer than allowed, so a small file that unpacks to
hours of audio (a decompression bomb) costs no more than the cap. No torch, no engine."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
from av.audio.resampler import AudioResampler

from callwaiting_tts.errors import ApplicationError

# PyAV's container names (ffmpeg demuxers) → the short name we store and report.
ACCEPTED_CONTAINERS = {
    "wav": "wav",
    "mp3": "mp3",
    "mov,mp4,m4a,3gp,3g2,mj2": "m4a",
    "aac": "aac",
    "ogg": "ogg",
    "flac": "flac",
    "matroska,webm": "webm",
}
ACCEPTED_FORMATS_TEXT = "WAV, MP3, M4A/AAC, Ogg (Opus or Vorbis), FLAC or WebM"
MAX_SAMPLE_RATE = 192_000
MAX_CHANNELS = 8


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, shape (frames, channels), in [-1, 1]
    sample_rate: int
    container: str  # a value of ACCEPTED_CONTAINERS
    codec: str

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def mono(self) -> np.ndarray:
        return np.asarray(self.samples.mean(axis=1), dtype=np.float32)


class AudioTooLong(ApplicationError):
    def __init__(self, max_seconds: float, param: str) -> None:
        super().__init__(
            f"The audio is longer than {max_seconds:.0f} s; send {max_seconds:.0f} s or less "
            "(10-30 s of one person speaking is best).",
            code="audio_too_long",
            param=param,
        )


def _invalid(param: str) -> ApplicationError:
    return ApplicationError(
        f"The file is not audio we can read. Send {ACCEPTED_FORMATS_TEXT}.",
        code="invalid_audio",
        param=param,
    )


def decode_audio(data: bytes, *, max_seconds: float, param: str = "file") -> DecodedAudio:
    """The audio of `data`, whatever its name says. ApplicationError (400): not audio, not a
    container we accept (`unsupported_audio_format`), or longer than `max_seconds`
    (`audio_too_long`, found while decoding: the header's duration is not trusted either)."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError):
        raise _invalid(param) from None
    with container:
        short = ACCEPTED_CONTAINERS.get(container.format.name)
        if short is None:
            raise ApplicationError(
                f"{container.format.long_name or container.format.name} files are not "
                f"accepted. Send {ACCEPTED_FORMATS_TEXT}.",
                code="unsupported_audio_format",
                param=param,
            )
        if not container.streams.audio:
            raise ApplicationError(
                "The file has no audio track.", code="invalid_audio", param=param
            )
        stream = container.streams.audio[0]
        rate, channels = stream.rate or 0, stream.channels or 0
        if not 0 < rate <= MAX_SAMPLE_RATE or not 0 < channels <= MAX_CHANNELS:
            raise _invalid(param)
        samples = _decode_stream(container, stream, rate, max_seconds, param)
        codec = stream.codec_context.name
    if not len(samples):
        raise _invalid(param)
    return DecodedAudio(samples=samples, sample_rate=rate, container=short, codec=codec)


def _decode_stream(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    rate: int,
    max_seconds: float,
    param: str,
) -> np.ndarray:
    limit = int(max_seconds * rate)
    # Planar float at the stream's own rate and layout: one array shape for every codec.
    resampler = AudioResampler(format="fltp", layout=stream.layout, rate=rate)
    parts: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                block = out.to_ndarray()
                parts.append(block)
                total += block.shape[1]
            if total > limit:
                raise AudioTooLong(max_seconds, param)
        for out in resampler.resample(None):
            parts.append(out.to_ndarray())
    except av.error.FFmpegError:
        # A damaged or truncated file: what decoded before the damage is kept when there is
        # any (the validation report then judges it), as players do.
        if not parts:
            raise _invalid(param) from None
    if not parts:
        return np.zeros((0, 1), dtype=np.float32)
    planar = np.concatenate(parts, axis=1)
    if planar.shape[1] > limit:
        raise AudioTooLong(max_seconds, param)
    interleaved = np.ascontiguousarray(planar.T, dtype=np.float32)
    return np.clip(np.nan_to_num(interleaved), -1.0, 1.0)
