"""The text front-end's data: what the SSML reader produces and what the engine is given.

    plain text ──────────────┐
                             ├─> [Item] ──normalize/say-as──> split ──> [TextSegment] ──> engine
    SSML ──ssml.parse_ssml──┘

`Item`s are the reader's output in document order: `Span`s of text with their context (language,
prosody, say-as, phoneme, ...), `Break`s, `Mark`s and `Boundary`s (the end of an `<s>` or `<p>`).
`TextSegment`s are what one engine call speaks: normalized text under the engine's length limit,
with the pause after it and the marks that sit before it. Pure Python: no Django.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from synthesis.text.words import Word

# The locales the front-end normalizes for: English only. Text in any other language is left as
# written for the engine (XTTS expands numbers itself in its languages).
LOCALES = ("en-US", "en-GB", "en-NG")
DEFAULT_LOCALE = "en-US"
# English regions that write dates day first: read like en-GB.
DAY_FIRST_REGIONS = ("AU", "IE", "IN", "ZA", "GH", "KE", "NZ")
# The English tags the front-end reads apart: its locales, then the regions read like en-GB
# (`synthesis.contract.languages` offers them all to requests).
ENGLISH_TAGS = LOCALES + tuple(f"en-{region}" for region in DAY_FIRST_REGIONS)


def primary_language(tag: str) -> str:
    """The primary subtag of a BCP 47 tag, lower case (`zh-CN` → `zh`)."""
    return tag.replace("_", "-").split("-")[0].lower()


def locale_for(tag: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The locale a span is read in, for a BCP-47 language tag.

    English: `en-GB`/`en-NG`/`en-US` as given (any case), other English regions that write
    dates day-first read like en-GB, plain `en` and other regions like `default` (en-US when
    `default` is not English). Any other language: its own tag in canonical case (`FR-fr` →
    `fr-FR`, `zh_hans_cn` → `zh-Hans-CN`), which the normalizer leaves as written. No tag:
    `default`."""
    if not tag:
        return default
    parts = tag.replace("_", "-").split("-")
    language = parts[0].lower()
    region = parts[1].upper() if len(parts) > 1 else ""
    if language != "en":
        return _canonical(parts)
    if region in ("US", "GB", "NG"):
        return f"en-{region}"
    if region in DAY_FIRST_REGIONS or region == "UK":  # "UK": a common slip for GB
        return "en-GB"
    return default if primary_language(default) == "en" else DEFAULT_LOCALE


def _canonical(parts: list[str]) -> str:
    """BCP 47's case conventions: language lower, script title, region upper, the rest (and
    everything after a singleton such as `x-`) lower."""
    out = [parts[0].lower()]
    extension = False
    for part in parts[1:]:
        if len(part) == 1:
            extension = True
        if extension:
            out.append(part.lower())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        elif len(part) == 4 and part.isalpha():
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


class InputTooLong(ValueError):
    """The input bills more characters than the caller's limit (`prepare(max_characters=...)`).
    Raised as soon as the count passes the limit, before anything is normalized or split; for
    SSML, at the span that passed it, without reading the rest of the document."""

    code = "input_too_long"

    def __init__(self, limit: int, characters: int | None = None) -> None:
        self.limit = limit
        self.characters = characters
        if characters is None:  # the reading stopped at the limit: the total is not known
            self.message = (
                f"The SSML document bills more than {limit} characters (its text, <sub> "
                f"aliases and <phoneme> symbols); the limit is {limit}."
            )
        else:
            self.message = f"The input is {characters} characters; the limit is {limit}."
        super().__init__(self.message)


@dataclass(frozen=True)
class Prosody:
    """Prosody relative to the voice: `rate` multiplies its speed (1.0 = unchanged), `pitch_st`
    shifts its pitch in semitones, `volume_db` is a gain in dB (`silent` mutes)."""

    rate: float = 1.0
    pitch_st: float = 0.0
    volume_db: float = 0.0
    silent: bool = False

    @property
    def gain(self) -> float:
        """Linear amplitude factor for `volume_db` (0.0 when silent)."""
        return 0.0 if self.silent else 10 ** (self.volume_db / 20)


NEUTRAL = Prosody()


@dataclass(frozen=True)
class SayAs:
    """`<say-as interpret-as=... format=... detail=...>`: how the span's text is read."""

    interpret_as: str
    format: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Span:
    """Text from the document with everything that decides how it is read.

    `normalize` is False for text that must reach the engine as written (`<sub alias>`'s alias is
    already spoken form). `say_as` and `phonemes` make the span atomic: the splitter never cuts
    inside it. `chars` is what the span counts for billing (its text as written in the input)."""

    text: str
    language: str | None = None  # a BCP-47 tag from xml:lang / <lang> / <voice>; None = request's
    prosody: Prosody = NEUTRAL
    voice: str | None = None  # <voice name=...>; the front-end resolves or ignores it
    say_as: SayAs | None = None
    phonemes: str | None = None  # <phoneme ph=...> (IPA); `text` is its fallback
    alphabet: str | None = None
    emphasis: str | None = None  # strong, moderate, reduced, none
    normalize: bool = True
    chars: int = -1  # -1: len(text)
    # The input it stands for when `text` says something else (a pronunciation dictionary's
    # word, whose alias is `text`): what the preview shows as the input.
    source: str | None = None

    @property
    def billed(self) -> int:
        return len(self.text) if self.chars < 0 else self.chars


@dataclass(frozen=True)
class Break:
    """Silence of exactly `ms` milliseconds (0 = none, and no prosodic break either)."""

    ms: int


@dataclass(frozen=True)
class Mark:
    """`<mark name=...>`: reported with its position in the audio."""

    name: str


@dataclass(frozen=True)
class Boundary:
    """The end of a sentence (`s`) or paragraph (`p`): text never runs across it."""

    kind: Literal["s", "p"]


Item = Span | Break | Mark | Boundary


@dataclass(frozen=True)
class TextSegment:
    """One engine call. `text` is normalized (what the engine reads; with `parts`, what engines
    without phonemes fall back to); `source` is the input it came from, for the preview; `marks`
    sit at the start of this segment's audio, `marks_after` at its end (after its pause)."""

    text: str
    source: str
    # The locale it was read in: an English one it was normalized for (en-NG), or the tag of
    # a language left as written for the engine (fr-FR).
    language: str
    prosody: Prosody = NEUTRAL
    pause_after_ms: int = 0
    chars: int = 0
    voice: str | None = None
    marks: tuple[str, ...] = ()
    marks_after: tuple[str, ...] = ()
    # With a <phoneme> inside: the segment as ("text", ...) and ("ipa", ...) parts in order,
    # for engines that take phonemes; `text` holds the written fallback for the rest.
    parts: tuple[tuple[str, str], ...] = ()
    # The input's words this segment says, as written, each with its tokens of `text`
    # (`synthesis.text.words`): word timings and the text heard before a barge-in.
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The front-end's answer for one request: segments in order, the characters billed for the
    whole input, and leading silence/marks that come before any speech."""

    segments: list[TextSegment]
    characters: int
    leading_pause_ms: int = 0
    leading_marks: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    # The ids of the pronunciation dictionaries it was read with (synthesis.text.lexicon).
    dictionaries: tuple[str, ...] = ()
