"""The engine interface every TTS engine implements.

Engines run only in worker processes (`manage.py run_tts_worker`); web processes never import
this package's implementations. Audio leaves an engine as mono signed 16-bit little-endian PCM at
the engine's own sample rate; resampling and encoding happen on the web side. What an engine is
given and gives back (segments, chunks, conditioning) is the web↔worker contract
(`synthesis.contract`); what web processes know of it without loading it is its catalog row.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from synthesis.contract.segments import Chunk, Conditioning, Segment
from synthesis.engines.catalog import EngineSpec


@dataclass(frozen=True)
class EngineVoice:
    """A voice an engine offers by itself (a stock voice), as the loaded engine reports it."""

    id: str
    name: str
    language: str
    description: str = ""
    languages: tuple[str, ...] = ()  # primary subtags it speaks; () for the engine's own
    locale: str = ""  # BCP 47 locale it sounds like; "" where unknown
    accent: str = ""  # in words; "" where unknown
    gender: str = ""
    preview: str = ""  # a stored preview clip's storage path
    pack: str = ""  # the voice pack it came from


@dataclass(frozen=True)
class LoadedConditioning:
    """A cloned voice's conditioning as the engine uses it (for XTTS: tensors on its device),
    with the bytes it holds there: the worker keeps these in a cache bounded by bytes."""

    value: Any
    nbytes: int


@dataclass
class Advanced:
    """What one `BatchedStreams.advance` made for one stream: its chunks, in order, and whether
    the stream has ended (its last segment's last chunk is among them)."""

    stream: object
    chunks: list[Chunk]
    done: bool = False


class EngineError(Exception):
    """The engine could not synthesize; `code` is reported to the client."""

    def __init__(self, message: str, code: str = "engine_error") -> None:
        super().__init__(message)
        self.code = code


class EngineMismatch(RuntimeError):
    """A loaded engine disagrees with its catalog row: web processes would plan wrongly."""


class Engine(ABC):
    spec: ClassVar[EngineSpec]  # its catalog row
    sample_rate: int  # as loaded; must equal the row's

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def languages(self) -> tuple[str, ...]:
        return self.spec.languages

    @abstractmethod
    def voices(self) -> list[EngineVoice]:
        """The stock voices this engine offers."""

    @abstractmethod
    def stream(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> Iterator[Chunk]:
        """Yields chunks in order as they are synthesized, in stock voice `voice`, or in the
        cloned voice `conditioning` (from `load_conditioning`; `voice` is then ignored). The
        caller may stop iterating at any chunk boundary (cancel); the engine must then hold
        nothing for that request."""

    def batched(self, max_streams: int) -> BatchedStreams | None:
        """Many streams made together (one model step serves them all), for up to
        `max_streams` at once; None for an engine that makes one stream at a time (the worker
        then takes `stream` iterators in turn, a chunk each)."""
        return None

    def prepare_voice(self, audio: bytes, sample_rate: int) -> Conditioning:
        """Turns reference audio (PCM s16le mono at `sample_rate`) into conditioning data for
        cloning, serialized in a safe format (never pickle): computed once per voice version."""
        raise EngineError(f"the {self.name} engine cannot clone voices", code="cloning_unsupported")

    def load_conditioning(self, conditioning: Conditioning) -> LoadedConditioning:
        """Conditioning from `prepare_voice`, ready for `stream` (on the engine's device).
        Raises EngineError for data that is not this engine's or is damaged."""
        raise EngineError(f"the {self.name} engine cannot clone voices", code="cloning_unsupported")

    def add_pack_voice(self, voice: EngineVoice, files: Mapping[str, bytes]) -> None:
        """Offers a voice pack's voice (`manage.py import_voice_pack`) as a stock voice from
        now on: for Piper its `model` and `config`, for a cloning engine its `conditioning`
        (from `prepare_voice`). EngineError when they do not load."""
        raise EngineError(f"the {self.name} engine takes no pack voices", code="unsupported")

    def model_id(self) -> str:
        """Names the loaded model where what it makes of a voice depends on it (stored
        conditioning and previews are kept per model); "" for a model fixed by its package."""
        return ""

    def warm_up(self) -> None:  # noqa: B027  (optional hook)
        """Runs once after loading, so the first request does not pay one-off costs."""

    def check_against(self, spec: EngineSpec) -> None:
        """Raises EngineMismatch unless this engine is what `spec` says: the same sample rate
        (web processes resample from it) and every stock voice the row lists."""
        if self.sample_rate != spec.sample_rate:
            raise EngineMismatch(
                f"the {spec.name} engine produces {self.sample_rate} Hz; its catalog row says "
                f"{spec.sample_rate} Hz"
            )
        offered = {voice.id for voice in self.voices()}
        missing = sorted({voice.id for voice in spec.stock_voices} - offered)
        if missing:
            raise EngineMismatch(
                f"the {spec.name} engine lacks the stock voice(s) {', '.join(missing)} "
                "its catalog row lists"
            )


class BatchedStreams(ABC):
    """An engine's concurrent streams advanced together in the worker's engine thread (every
    call from that one thread). The worker opens a stream per job, calls `advance` with the
    streams it wants audio for (a stream left out waits: the credit window), delivers what comes
    back, and closes each stream when its job ends for any reason (cancel, deadline, error)."""

    @abstractmethod
    def open(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> object:
        """A new stream, checked as `Engine.stream` checks its arguments (EngineError now, not
        later); it costs nothing until it is advanced."""

    @abstractmethod
    def advance(
        self, streams: Sequence[object], keep_going: Callable[[], bool] | None = None
    ) -> list[Advanced]:
        """One step for `streams` (the others wait where they are): what each made. One step
        is short (one model step and the decoding it completed), so the worker acts on a
        cancel or a deadline between any two. While a step makes no audio and `keep_going()`
        (asked from the engine's thread: a cheap, thread-safe check) says nothing needs the
        worker, the engine may take further steps in the same call, saving a round trip."""

    @abstractmethod
    def close(self, stream: object) -> None:
        """Ends a stream wherever it is: the engine holds nothing for it afterwards."""

    def reset(self) -> None:  # noqa: B027  (optional hook)
        """Forgets every stream after `advance` raised: the shared state may be half-updated,
        and the worker fails every job it carried."""


def silence(sample_rate: int, milliseconds: int) -> bytes:
    return b"\x00\x00" * (sample_rate * milliseconds // 1000)


# Pitch shifts beyond an octave either way sound broken; SSML asks for a few semitones.
MAX_PITCH_ST = 12.0
_INT16_MAX = 32767.0


def pitch_factor(semitones: float) -> float:
    """The resampling factor of a pitch shift, clamped to an octave either way."""
    return float(2 ** (max(-MAX_PITCH_ST, min(MAX_PITCH_ST, semitones)) / 12))


def pcm_s16le(audio: np.ndarray, volume: float) -> bytes:
    """Float audio in [-1, 1] times `volume`, as PCM s16le: the same float-to-int16 path as
    Piper's `AudioChunk.audio_int16_bytes`."""
    if volume != 1.0:
        audio = audio * volume
    audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
    return np.clip(audio * _INT16_MAX, -_INT16_MAX, _INT16_MAX).astype(np.int16).tobytes()


def check_segment_values(segment: Segment) -> None:
    """EngineError for a volume, pause or pitch no engine can honour (the language is each
    engine's own check; `Segment` itself keeps the speed inside its range)."""
    if not (math.isfinite(segment.volume) and segment.volume >= 0):
        raise EngineError(f"volume must be >= 0, not {segment.volume}", code="invalid_volume")
    if segment.pause_after_ms < 0 or segment.pause_before_ms < 0:
        raise EngineError("pauses must be >= 0", code="invalid_pause")
    if not math.isfinite(segment.pitch_st):
        raise EngineError(f"pitch_st must be finite, not {segment.pitch_st}", code="invalid_pitch")
