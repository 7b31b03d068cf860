"""The engines, one row each: everything web processes and workers need to know about an engine
without importing it (web processes never load onnxruntime or torch).

Adding an engine is one module (an `Engine` subclass, loaded by workers only) plus one row here:
its name, where its class lives, its sample rate and languages, the longest segment it is given,
whether it clones voices, its stock voices, and the options a deployment sets through the
environment. Pure: no Django, no engine imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

OptionKind = Literal["int", "float_or_none", "str", "bool"]


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
    locale: str = ""  # the BCP 47 locale it sounds like ("en-NG"); "" where unknown
    accent: str = ""  # in words ("Nigerian English"); "" where unknown
    gender: str = ""  # as its maker describes it; "" where unknown
    preview: str = ""  # a stored preview clip's storage path; "" where none is stored
    pack: str = ""  # the voice pack it came from (`manage.py import_voice_pack`); "" otherwise

    @property
    def sample_rate(self) -> int:
        return ENGINES[self.engine].sample_rate

    def speaks(self, language: str) -> bool:
        return primary_language(language) in self.languages

    def dumps(self) -> dict[str, object]:
        """As a worker publishes it beside its heartbeat (`Keys.voices`)."""
        return {
            "id": self.id,
            "name": self.name,
            "engine": self.engine,
            "language": self.language,
            "languages": list(self.languages),
            "description": self.description,
            "locale": self.locale,
            "accent": self.accent,
            "gender": self.gender,
            "preview": self.preview,
            "pack": self.pack,
        }

    @classmethod
    def loads(cls, data: dict[str, object]) -> StockVoice:
        languages = data.get("languages") or ()
        assert isinstance(languages, list | tuple)
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            engine=str(data["engine"]),
            language=str(data["language"]),
            languages=tuple(str(language) for language in languages),
            description=str(data.get("description") or ""),
            # Absent from what older workers publish: unknown.
            locale=str(data.get("locale") or ""),
            accent=str(data.get("accent") or ""),
            gender=str(data.get("gender") or ""),
            preview=str(data.get("preview") or ""),
            pack=str(data.get("pack") or ""),
        )


def primary_language(tag: str) -> str:
    """The primary subtag of a BCP 47 tag, lower case (`zh-CN` → `zh`). The text front-end has
    the same one-liner (`synthesis.text.model`): the catalog imports nothing of the project."""
    return tag.replace("_", "-").split("-")[0].lower()


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
    # The rate a cloned voice's cleaned reference clip is stored at (what `prepare_voice` reads
    # best); 0 for engines that do not clone.
    reference_rate: int = 0
    stock_voices: tuple[StockVoice, ...] = ()
    options: tuple[EngineOption, ...] = field(default=())
    # Languages whose longest segment differs from `segment_chars` (primary subtags).
    segment_chars_by_language: Mapping[str, int] = field(default_factory=dict)
    # Whether the stock voices come from the loaded model (a checkpoint's speakers file) rather
    # than this row. Every worker publishes the voices it offers with its heartbeat (this row's,
    # the model's, and voice packs'), and web processes list and resolve what live workers
    # offer beside this row's.
    publishes_voices: bool = False

    def segment_limit(self, language: str) -> int:
        """The longest segment, in characters, this engine is given in `language`."""
        return self.segment_chars_by_language.get(primary_language(language), self.segment_chars)

    def speaks(self, language: str) -> bool:
        return primary_language(language) in self.languages


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
            locale="en-US",
            accent="American English",
            gender="male",
        ),
    ),
    options=(
        EngineOption("threads", "PIPER_THREADS", "int", 1),
        EngineOption("noise_scale", "PIPER_NOISE_SCALE", "float_or_none"),
        EngineOption("noise_w_scale", "PIPER_NOISE_W_SCALE", "float_or_none"),
        EngineOption("alignment", "PIPER_ALIGNMENT", "bool", True),
        EngineOption("aligned_dir", "PIPER_ALIGNED_DIR", "str", ""),
    ),
)

# XTTS v2's 17 languages by primary subtag (`zh` is its `zh-cn`).
XTTS_LANGUAGES = (
    "en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs", "ar", "zh", "ja", "hu",
    "ko", "hi",
)  # fmt: skip

XTTS = EngineSpec(
    name="xtts",
    engine_class="synthesis.engines.xtts:XttsEngine",
    sample_rate=24000,
    languages=XTTS_LANGUAGES,
    # XTTS v2's own per-language limits (its tokenizer warns past them and the audio may be
    # cut); English is 250.
    segment_chars=250,
    segment_chars_by_language={
        "en": 250,
        "de": 253,
        "fr": 273,
        "es": 239,
        "it": 213,
        "pt": 203,
        "pl": 224,
        "zh": 82,
        "ar": 166,
        "cs": 186,
        "ru": 182,
        "nl": 251,
        "tr": 226,
        "ja": 71,
        "hu": 224,
        "ko": 95,
        "hi": 150,
    },
    clones=True,
    reference_rate=22050,  # coqui loads references at 22.05 kHz for the GPT conditioning
    publishes_voices=True,  # the studio speakers of the checkpoint's speakers_xtts.pth
    options=(
        EngineOption("model_path", "TTS_MODEL_PATH", "str", ""),
        EngineOption("device", "XTTS_DEVICE", "str", "auto"),
        EngineOption("dtype", "XTTS_DTYPE", "str", "fp32"),
        EngineOption("use_deepspeed", "XTTS_DEEPSPEED", "bool", False),
        EngineOption("stream_chunk_size", "XTTS_STREAM_CHUNK_SIZE", "int", 20),
        EngineOption("do_sample", "XTTS_DO_SAMPLE", "bool", True),
        EngineOption("threads", "XTTS_THREADS", "int", 0),
        EngineOption("batching", "XTTS_BATCHING", "bool", True),
    ),
)

ENGINES: dict[str, EngineSpec] = {spec.name: spec for spec in (PIPER, XTTS)}

STOCK_VOICES: dict[str, StockVoice] = {
    voice.id: voice for spec in ENGINES.values() for voice in spec.stock_voices
}


def engine_spec(name: str) -> EngineSpec:
    """The row of engine `name`; ValueError naming the known ones for any other."""
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(sorted(ENGINES))}") from None
