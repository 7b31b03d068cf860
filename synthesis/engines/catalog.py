"""The engines, one row each: everything web processes and workers need to know about an engine
without importing it (web processes never load onnxruntime or torch).

Adding an engine is one module (an `Engine` subclass, loaded by workers only) plus one row here:
its name, where its class lives, its sample rate and languages, the longest segment it is given,
whether it clones voices, its stock voices, and the options a deployment sets through the
environment. Pure: no Django, no engine imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OptionKind = Literal["int", "float_or_none", "str"]


@dataclass(frozen=True)
class EngineOption:
    """A keyword argument of the engine's constructor, read from the environment variable
    `env` (settings.TTS_ENGINE_OPTIONS)."""

    name: str
    env: str
    kind: OptionKind
    default: object = None


@dataclass(frozen=True)
class StockVoice:
    """A voice an engine offers by itself, as web processes list and resolve it."""

    id: str
    name: str
    engine: str
    language: str
    languages: tuple[str, ...]  # language prefixes the voice can speak
    description: str = ""

    @property
    def sample_rate(self) -> int:
        return ENGINES[self.engine].sample_rate

    def speaks(self, language: str) -> bool:
        return language.split("-")[0].lower() in self.languages


@dataclass(frozen=True)
class EngineSpec:
    name: str
    engine_class: str  # "module:Class", imported by workers only (synthesis.engines.loader)
    sample_rate: int  # of the PCM its chunks carry
    languages: tuple[str, ...]  # language prefixes it can speak
    # The longest segment it is given, in characters: the text front-end and the realtime
    # buffer cut under it.
    segment_chars: int
    clones: bool  # whether `prepare_voice` turns reference audio into a voice
    stock_voices: tuple[StockVoice, ...] = ()
    options: tuple[EngineOption, ...] = field(default=())


PIPER = EngineSpec(
    name="piper",
    engine_class="synthesis.engines.piper:PiperEngine",
    sample_rate=22050,
    languages=("en",),
    # Piper's memory peaks with sentence length; 200 characters is a long spoken sentence.
    segment_chars=200,
    clones=False,
    stock_voices=(
        StockVoice(
            id="joe",
            name="Joe",
            engine="piper",
            language="en-US",
            languages=("en",),
            description="US English male voice, warm and clear (Piper, CPU).",
        ),
    ),
    options=(
        EngineOption("threads", "PIPER_THREADS", "int", 1),
        EngineOption("noise_scale", "PIPER_NOISE_SCALE", "float_or_none"),
        EngineOption("noise_w_scale", "PIPER_NOISE_W_SCALE", "float_or_none"),
    ),
)

ENGINES: dict[str, EngineSpec] = {spec.name: spec for spec in (PIPER,)}

STOCK_VOICES: dict[str, StockVoice] = {
    voice.id: voice for spec in ENGINES.values() for voice in spec.stock_voices
}

# Languages presets and requests may name (BCP 47 tags): XTTS v2's 17 languages plus the
# English locales the text front-end normalizes. Whether a voice speaks one is the voice's
# answer (`StockVoice.speaks`), so a tag here that no installed engine speaks is a clear
# `unsupported_language`, not an unknown value.
LANGUAGES = [
    "en", "en-US", "en-GB", "en-NG", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs",
    "ar", "zh-cn", "ja", "hu", "ko", "hi",
]  # fmt: skip


def engine_spec(name: str) -> EngineSpec:
    """The row of engine `name`; ValueError naming the known ones for any other."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}") from None
