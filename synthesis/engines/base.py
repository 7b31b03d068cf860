"""The engine interface every TTS engine implements (Piper now, XTTS later).

Engines run only in worker processes (`manage.py run_tts_worker`); web processes never import
this package's implementations. Audio leaves an engine as mono signed 16-bit little-endian PCM at
the engine's own sample rate; resampling and encoding happen on the web side.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    """A piece of text with its own parameters. Never empty or whitespace-only."""

    text: str
    language: str = "en"
    speed: float = 1.0  # 0.25-4.0; > 1 is faster
    volume: float = 1.0  # linear gain applied to the (normalized) audio
    pause_after_ms: int = 0  # exact silence appended after this segment's audio
    pause_before_ms: int = 0  # exact silence before it (a break at the start of a request)
    pitch_st: float = 0.0  # pitch shift in semitones, duration unchanged
    # ("text", ...) and ("ipa", ...) parts when the text has SSML <phoneme>s: engines that take
    # phonemes speak the IPA, the others `text` (which holds the written fallback).
    parts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("an engine never receives an empty or whitespace-only segment")
        # Back from msgpack, parts are lists: keep the dataclass comparable and hashable.
        object.__setattr__(self, "parts", tuple((str(k), str(v)) for k, v in self.parts))


@dataclass(frozen=True)
class Conditioning:
    """Cloned-voice conditioning data made by `Engine.prepare_voice` (for XTTS: GPT conditioning
    latents and a speaker embedding, serialized). Opaque to everything but its engine."""

    engine: str
    data: bytes


@dataclass(frozen=True)
class EngineVoice:
    """A voice an engine offers by itself (a stock voice)."""

    id: str
    name: str
    language: str
    description: str = ""


@dataclass(frozen=True)
class Chunk:
    """PCM s16le mono at the engine's sample rate, from segment `segment` of the request."""

    pcm: bytes
    segment: int
    segment_end: bool = False  # the last chunk of its segment (pause included)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2


class EngineError(Exception):
    """The engine could not synthesize; `code` is reported to the client."""

    def __init__(self, message: str, code: str = "engine_error") -> None:
        super().__init__(message)
        self.code = code


class Engine(ABC):
    name: str
    sample_rate: int
    languages: tuple[str, ...]

    @abstractmethod
    def voices(self) -> list[EngineVoice]:
        """The stock voices this engine offers."""

    @abstractmethod
    def stream(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: Conditioning | None = None,
    ) -> Iterator[Chunk]:
        """Yields chunks in order as they are synthesized. The caller may stop iterating at any
        chunk boundary (cancel); the engine must then hold nothing for that request."""

    def prepare_voice(self, audio: bytes, sample_rate: int) -> Conditioning:
        """Turns reference audio (PCM s16le mono) into conditioning data for cloning."""
        raise EngineError(f"the {self.name} engine cannot clone voices", code="cloning_unsupported")

    def warm_up(self) -> None:  # noqa: B027  (optional hook)
        """Runs once after loading, so the first request does not pay one-off costs."""


def silence(sample_rate: int, milliseconds: int) -> bytes:
    return b"\x00\x00" * (sample_rate * milliseconds // 1000)
