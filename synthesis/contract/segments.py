"""What an engine is given and what it gives back: segments in, PCM chunks out."""

from __future__ import annotations

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
    """Cloned-voice conditioning data made by an engine's `prepare_voice` (for XTTS: GPT
    conditioning latents and a speaker embedding, serialized). Opaque to everything but its
    engine."""

    engine: str
    data: bytes


@dataclass(frozen=True)
class ConditioningRef:
    """Where a cloned voice's conditioning lies in storage: the voice, its version (a new
    reference clip is a new version, at a new path) and the path. A worker loads it once per
    voice version and keeps it; it is never recomputed per request."""

    voice_id: str
    version: int
    path: str

    def cache_key(self, schema_name: str) -> str:
        return f"{self.voice_prefix(schema_name, self.voice_id)}{self.version}"

    @staticmethod
    def voice_prefix(schema_name: str, voice_id: str) -> str:
        """What the cache keys of every version of one voice start with."""
        return f"{schema_name}:{voice_id}:"


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
