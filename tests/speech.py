"""Real speech for voice-upload tests, and the files a person might upload.

Speakers: Piper's joe (the CPU engine's own model, in the test process) and Debian's espeak-ng
(a different synthesizer, so a different speaker; `make test` installs it). Files: the same
audio in every container an upload accepts, written with PyAV as a phone or browser would.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
from typing import Any

import av
import numpy as np
import soundfile
import soxr

JOE_SENTENCES = (
    "Thank you for calling the clinic. How can I help you today?",
    "Your appointment is booked for Tuesday morning at half past nine.",
    "If you need to change it, please call us at least a day before.",
    "We are open from eight in the morning until six in the evening.",
    "Is there anything else I can do for you before you go?",
    "Have a lovely day, and we look forward to seeing you soon.",
)
ESPEAK_SENTENCES = (
    "Good afternoon, this is the billing department speaking.",
    "Your last payment was received on the fourteenth of March.",
    "Please hold while I transfer you to a colleague.",
)


@functools.cache
def _piper() -> Any:
    from synthesis.engines.piper import PiperEngine

    return PiperEngine()


@functools.cache
def joe(sentences: tuple[str, ...] = JOE_SENTENCES) -> tuple[np.ndarray, int]:
    """Joe reading `sentences`, with a natural pause between them: float32 mono, its rate."""
    from synthesis.contract.plan import engine_segments
    from synthesis.text.frontend import prepare

    engine = _piper()
    parts = []
    for sentence in sentences:
        segments = engine_segments(prepare(text=sentence, locale="en-US"), language="en")
        pcm = b"".join(chunk.pcm for chunk in engine.stream(segments, voice="joe"))
        parts.append(np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768)
        parts.append(np.zeros(int(0.35 * engine.sample_rate), np.float32))
    return np.concatenate(parts), engine.sample_rate


def espeak(sentences: tuple[str, ...] = ESPEAK_SENTENCES, rate: int = 22050) -> np.ndarray:
    """espeak-ng reading `sentences` at `rate`: float32 mono."""
    binary = shutil.which("espeak-ng")
    assert binary, "espeak-ng is not installed: `make test` installs it with apt-get as root"
    parts = []
    for sentence in sentences:
        wav = subprocess.run(
            [binary, "-v", "en-us", "-s", "150", "--stdout", sentence],
            check=True,
            capture_output=True,
            timeout=60,
        ).stdout
        audio, own_rate = soundfile.read(io.BytesIO(wav), dtype="float32")
        parts.append(soxr.resample(audio, own_rate, rate).astype(np.float32))
        parts.append(np.zeros(int(0.35 * rate), np.float32))
    return np.concatenate(parts)


def joe_seconds(seconds: float) -> tuple[np.ndarray, int]:
    """About `seconds` of joe speaking (his sentences repeated, then cut)."""
    audio, rate = joe()
    repeats = int(np.ceil(seconds * rate / len(audio)))
    return np.tile(audio, repeats)[: int(seconds * rate)], rate


# Container → (PyAV muxer, codec, codec rate or None for the audio's own).
CONTAINERS: dict[str, tuple[str, str, int | None]] = {
    "wav": ("wav", "pcm_s16le", None),
    "mp3": ("mp3", "libmp3lame", None),
    "m4a": ("ipod", "aac", None),
    "aac": ("adts", "aac", None),
    "ogg": ("ogg", "libopus", 48000),
    "flac": ("flac", "flac", None),
    "webm": ("webm", "libopus", 48000),
}


def encode(audio: np.ndarray, rate: int, container: str, *, channels: int = 1) -> bytes:
    """`audio` (float32 mono) as a file of `container` (a key of CONTAINERS)."""
    muxer, codec, codec_rate = CONTAINERS[container]
    out_rate = codec_rate or rate
    layout = "mono" if channels == 1 else "stereo"
    planar = np.repeat(audio[None, :].astype(np.float32), channels, axis=0)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=muxer) as output:
        stream = output.add_stream(codec, rate=out_rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format, layout=layout, rate=out_rate)
        frames = [*resampler.resample(frame), *resampler.resample(None)]
        for piece in frames:
            for packet in stream.encode(piece):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return buffer.getvalue()


def wav(audio: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, audio, rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
