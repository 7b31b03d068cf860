"""Stock voices: data shared by web and worker processes (web processes never import an engine
to list them). A worker checks at start that its engine offers the voices named here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StockVoice:
    id: str
    name: str
    engine: str
    language: str
    languages: tuple[str, ...]  # language prefixes the voice can speak
    sample_rate: int
    description: str = ""

    def speaks(self, language: str) -> bool:
        return language.split("-")[0].lower() in self.languages


STOCK_VOICES: dict[str, StockVoice] = {
    voice.id: voice
    for voice in [
        StockVoice(
            id="joe",
            name="Joe",
            engine="piper",
            language="en-US",
            languages=("en",),
            sample_rate=22050,
            description="US English male voice, warm and clear (Piper, CPU).",
        ),
    ]
}

# Languages presets and requests may name (BCP 47 tags; XTTS v2's 17 languages plus the locales
# the text front-end normalizes).
LANGUAGES = [
    "en", "en-US", "en-GB", "en-NG", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs",
    "ar", "zh-cn", "ja", "hu", "ko", "hi",
]  # fmt: skip


def stock_voice(voice_id: str) -> StockVoice | None:
    return STOCK_VOICES.get(voice_id)
