"""What an engine is given and what it gives back: segments in, PCM chunks out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# The speeds an engine is ever asked for (> 1 is faster): the voice's speed times the request's
# times SSML's rate (and emphasis) multiply, and the product is clamped here, so no combination
# slows speech (and the audio and memory it costs) more than 4x. docs/limits.md.
MIN_SPEED = 0.25
MAX_SPEED = 4.0

# The most audio a segment may come to at normal speed: a constant (a short word with the
# engine's own silence around it) plus this much per character spoken. Normal English is about
# 0.065 s a character; letters read one by one ("WWW", "QQQ") reach 0.3-0.6. Slower speech gets
# proportionally more, pauses are added as they are. Past it the worker stops the job
# (`audio_limit_exceeded`): an engine that babbles or a speed that slipped past the clamp
# cannot turn a few billed characters into minutes of audio. docs/limits.md.
AUDIO_BASE_SECONDS = 2.0
AUDIO_SECONDS_PER_CHARACTER = 0.4


def clamp_speed(speed: float) -> float:
    """`speed` inside [MIN_SPEED, MAX_SPEED]; ValueError for what is no speed (not a finite
    positive number)."""
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"a segment's speed must be a positive number, not {speed}")
    return min(MAX_SPEED, max(MIN_SPEED, speed))


@dataclass(frozen=True)
class Segment:
    """A piece of text with its own parameters. Never empty or whitespace-only."""

    text: str
    language: str = "en"
    speed: float = 1.0  # clamped to MIN_SPEED..MAX_SPEED; > 1 is faster
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
        # Here as well as in `engine_segments`: a job that did not come through it (an older
        # web process, a hand-made message) cannot slow speech past the floor either.
        object.__setattr__(self, "speed", clamp_speed(float(self.speed)))

    @property
    def spoken_characters(self) -> int:
        """Its text's characters, or its phoneme parts' symbols where they are more."""
        return max(len(self.text), sum(len(value) for _kind, value in self.parts))

    @property
    def max_audio_seconds(self) -> float:
        """The most audio this segment may come to (see AUDIO_SECONDS_PER_CHARACTER); the
        worker computes it from the segment itself, so no job can ask for more."""
        speech = AUDIO_BASE_SECONDS + AUDIO_SECONDS_PER_CHARACTER * self.spoken_characters
        return speech / min(self.speed, 1.0) + (self.pause_before_ms + self.pause_after_ms) / 1000


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
