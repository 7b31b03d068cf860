"""The text front-end: a request's text or SSML → the segments an engine speaks (a `Plan`).

    text ─┐                          per span: say-as / sub / phoneme / normalize(locale)
          ├─> items ─> runs of one language, prosody and voice ─> split ─> TextSegments
    SSML ─┘   (Span, Break, Mark, Boundary)

Plain text is read sentence by sentence (so each segment knows the sentence it came from) and
normalized for its locale. Only English is normalized: a span in any other language (the
request's, or its own `xml:lang`) is left as written for the engine, which reads numbers itself
in its languages (XTTS), and its segments carry its own tag as their `language`. Breaks become
the pause after the segment before them (or silence before the first), marks sit at the start
of the segment after them. Emphasis is rendered as prosody (slower and louder for strong),
since neither engine has an emphasis control.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from synthesis.text.lexicon import Lexicon, apply_lexicon
from synthesis.text.model import (
    DEFAULT_LOCALE,
    NEUTRAL,
    Boundary,
    Break,
    InputTooLong,
    Item,
    Mark,
    Plan,
    Prosody,
    Span,
    TextSegment,
    locale_for,
)
from synthesis.text.normalize import normalize, say_as
from synthesis.text.normalize.core import normalizes
from synthesis.text.split import MAX_SEGMENT_CHARS, Unit, sentence_ends, split_units
from synthesis.text.ssml import parse_ssml
from synthesis.text.words import segment_words
from synthesis.text.xsampa import xsampa_to_ipa

EMPHASIS: dict[str, Prosody] = {
    "strong": Prosody(rate=0.88, volume_db=3.0),
    "moderate": Prosody(rate=0.94, volume_db=1.5),
    "none": NEUTRAL,
    "reduced": Prosody(rate=1.06, volume_db=-3.0),
}
# What an expletive is replaced by: Piper and XTTS say it; no profanity reaches the engine.
BLEEP = "bleep"
# Say-as types read character by character: outside English, the characters spaced apart.
_SPELLED = frozenset({"characters", "spell-out", "digits", "verbatim"})

# The longest segment: one for every language, or a function of the run's locale (an engine's
# `segment_limit`, since XTTS's differ: 82 characters in Chinese, 250 in English).
MaxChars = int | Callable[[str], int]


@dataclass
class _Run:
    """Consecutive text of one language, prosody and voice."""

    locale: str
    prosody: Prosody
    voice: str | None
    units: list[Unit] = field(default_factory=list)
    marks: tuple[str, ...] = ()


def prepare(
    *,
    text: str | None = None,
    ssml: str | None = None,
    locale: str = DEFAULT_LOCALE,
    lenient: bool = False,
    max_chars: MaxChars = MAX_SEGMENT_CHARS,
    max_characters: int | None = None,
    lexicon: Lexicon | None = None,
) -> Plan:
    """The plan for one request. Raises `SsmlError` for a bad SSML document. `locale` is the
    request's (`locale_for` of its tag); `max_chars` the engine's limit, or its function of a
    run's locale. `max_characters` is the caller's input limit: an input that bills more
    raises `InputTooLong` before anything is normalized or split (SSML: as soon as the
    reader's count passes it, with the size limit derived from it, `ssml_max_bytes`).
    `lexicon`: the request's pronunciation dictionaries, applied before normalization
    (`synthesis.text.lexicon`)."""
    if ssml is not None:
        parsed = parse_ssml(ssml, lenient=lenient, max_characters=max_characters)
        if parsed.language:
            locale = locale_for(parsed.language, default=locale)
        return plan_items(
            parsed.items,
            parsed.characters,
            locale=locale,
            max_chars=max_chars,
            warnings=list(parsed.warnings),
            lexicon=lexicon,
        )
    body = text or ""
    if max_characters is not None and len(body) > max_characters:
        raise InputTooLong(max_characters, len(body))
    return plan_items([Span(body)], len(body), locale=locale, max_chars=max_chars, lexicon=lexicon)


def plan_items(
    items: Sequence[Item],
    characters: int,
    *,
    locale: str = DEFAULT_LOCALE,
    max_chars: MaxChars = MAX_SEGMENT_CHARS,
    warnings: list[str] | None = None,
    lexicon: Lexicon | None = None,
) -> Plan:
    builder = _Builder(locale=locale, max_chars=max_chars)
    for item in apply_lexicon(items, lexicon, locale):
        builder.add(item)
    builder.flush()
    plan = builder.plan(characters, warnings or [])
    return replace(plan, dictionaries=lexicon.ids) if lexicon else plan


class _Builder:
    def __init__(self, *, locale: str, max_chars: MaxChars) -> None:
        self.locale = locale
        self.max_chars = max_chars
        self.segments: list[TextSegment] = []
        self.run: _Run | None = None
        self.pending_marks: list[str] = []
        self.leading_pause_ms = 0
        self.unspoken_chars = 0  # billed characters of spans that rendered to nothing
        self.warnings: list[str] = []

    def add(self, item: Item) -> None:
        if isinstance(item, Span):
            self._span(item)
        elif isinstance(item, Break):
            if item.ms == 0:  # strength="none": no pause, and no prosodic break either
                return
            self.flush()
            if self.segments:
                last = self.segments[-1]
                self.segments[-1] = replace(last, pause_after_ms=last.pause_after_ms + item.ms)
            else:
                self.leading_pause_ms += item.ms
        elif isinstance(item, Mark):
            self.flush()
            self.pending_marks.append(item.name)
        elif isinstance(item, Boundary):
            self.flush()

    def _span(self, span: Span) -> None:
        locale = locale_for(span.language, default=self.locale)
        prosody = _compose(span.prosody, EMPHASIS.get(span.emphasis or "none", NEUTRAL))
        run = self.run
        if run is None or (run.locale, run.prosody, run.voice) != (locale, prosody, span.voice):
            self.flush()
            run = self.run = _Run(locale, prosody, span.voice, marks=tuple(self.pending_marks))
            self.pending_marks = []
        units = _render(span, locale, self._limit(locale), self.warnings)
        if not any(u.text.strip() for u in units):
            self.unspoken_chars += span.billed
            return
        run.units.extend(units)

    def flush(self) -> None:
        run, self.run = self.run, None
        if run is None or not run.units:
            if run is not None:
                self.pending_marks[:0] = run.marks
            return
        pieces = split_units(run.units, max_chars=self._limit(run.locale), first=not self.segments)
        words = segment_words([u.source for u in run.units], [p.text for p in pieces])
        for index, piece in enumerate(pieces):
            self.segments.append(
                TextSegment(
                    text=piece.text,
                    source=piece.source,
                    language=run.locale,
                    prosody=run.prosody,
                    chars=piece.chars,
                    voice=run.voice,
                    marks=run.marks if index == 0 else (),
                    parts=piece.parts,
                    words=words[index],
                )
            )

    def _limit(self, locale: str) -> int:
        return self.max_chars if isinstance(self.max_chars, int) else self.max_chars(locale)

    def plan(self, characters: int, warnings: list[str]) -> Plan:
        segments = self.segments
        leading_marks: tuple[str, ...] = ()
        if self.pending_marks:  # marks after the last word
            if segments:
                last = segments[-1]
                segments[-1] = replace(last, marks_after=(*last.marks_after, *self.pending_marks))
            else:
                leading_marks = tuple(self.pending_marks)
        if segments:
            # Billed characters of the plan add up to the request's: whatever did not land in a
            # segment (unspoken spans, whitespace, tags' surroundings) bills with the first.
            given = sum(s.chars for s in segments)
            first = segments[0]
            segments[0] = replace(first, chars=max(0, first.chars + characters - given))
        return Plan(
            segments=segments,
            characters=characters,
            leading_pause_ms=self.leading_pause_ms,
            leading_marks=leading_marks,
            warnings=[*warnings, *self.warnings],
        )


def _compose(outer: Prosody, inner: Prosody) -> Prosody:
    return Prosody(
        rate=outer.rate * inner.rate,
        pitch_st=outer.pitch_st + inner.pitch_st,
        volume_db=outer.volume_db + inner.volume_db,
        silent=outer.silent or inner.silent,
    )


def _render(span: Span, locale: str, limit: int, warnings: list[str]) -> list[Unit]:
    """A span as units of engine-ready text, each with its share of the billed characters;
    phonemes in units within `limit` (the engine's segment limit)."""
    text = span.text
    if span.say_as is not None:
        kind = span.say_as.interpret_as
        if kind == "expletive":
            spoken = BLEEP if text.strip() else ""
        elif not normalizes(locale):  # say_as reads English: the engine reads it as written
            written = "".join(text.split())
            spoken = " ".join(written) if kind in _SPELLED else normalize(text, locale)
        else:
            spoken = say_as(
                text.strip(),
                kind,
                format=span.say_as.format,
                detail=span.say_as.detail,
                locale=locale,
            )
        return [Unit(_edges(text, spoken), span.billed, atomic=True, source=text)]
    if span.phonemes is not None:
        # IPA goes to engines that take phonemes (Piper); the others read the written text.
        alphabet = (span.alphabet or "ipa").lower()
        ipa = (
            span.phonemes
            if alphabet == "ipa"
            else xsampa_to_ipa(span.phonemes)
            if alphabet == "x-sampa"
            else None
        )
        if ipa is None:
            return [Unit(text, span.billed, atomic=True, source=text)]
        return _phoneme_units(span, ipa, locale, limit, warnings)
    if not span.normalize:  # a <sub> alias or a dictionary's: spoken as given
        return [Unit(text, span.billed, atomic=True, source=span.source or text)]
    sentences = _source_sentences(text)
    total = sum(len(s) for s in sentences) or 1
    units: list[Unit] = []
    given = 0
    for index, sentence in enumerate(sentences):
        share = (
            span.billed - given
            if index == len(sentences) - 1
            else span.billed * len(sentence) // total
        )
        given += share
        # A span's whitespace after its last sentence end is a sentence of its own: it stays a
        # space, or the next span ("Hi! <phoneme>...") would be glued onto the "!".
        spoken = " " if sentence.isspace() else _edges(sentence, normalize(sentence, locale))
        units.append(Unit(spoken, share, source=sentence))
    return units


def _phoneme_units(
    span: Span, ipa: str, locale: str, limit: int, warnings: list[str]
) -> list[Unit]:
    """A `<phoneme>` as atomic units, each within the engine's `limit` in its text and in its
    phonemes (an engine that takes phonemes reads those, and the splitter counts the longer):
    one unit when the whole fits, else the phonemes cut at their spaces and the written words
    shared among the pieces in proportion. When one written word carries more phonemes than
    fit, they cannot be cut with it: the written text is read instead, with a warning."""
    text = span.text
    room = limit - 2  # the spaces on either side of a unit count in the piece it lands in
    spoken = _edges(text, normalize(text, locale))
    if max(len(spoken.strip()), len(ipa)) <= room:
        return [Unit(spoken, span.billed, atomic=True, source=text, phonemes=ipa)]
    chunks = _phoneme_chunks(text.split(), ipa.split(), room)
    if chunks is None:
        warnings.append(
            f"<phoneme ph>: {len(ipa)} symbols do not fit the engine's {limit}-character "
            f"segments with the words they sound ({_quote(text.strip())}): the text is read."
        )
        return [Unit(spoken, span.billed, source=text)]
    weights = [max(len(words), len(sounds)) for words, sounds in chunks]
    units: list[Unit] = []
    given = 0
    for index, (words, sounds) in enumerate(chunks):
        last = index == len(chunks) - 1
        share = span.billed - given if last else span.billed * weights[index] // sum(weights)
        given += share
        # Every piece but the last ends with a space, so the next is never glued onto it.
        written = (" " if index == 0 and text[:1].isspace() else "") + words
        written += " " if not last or text[-1:].isspace() else ""
        spoken = _edges(written, normalize(words, locale))
        units.append(Unit(spoken, share, atomic=True, source=written, phonemes=sounds))
    return units


def _phoneme_chunks(words: list[str], sounds: list[str], room: int) -> list[tuple[str, str]] | None:
    """(written words, phonemes) pieces in order, each at most `room` characters in both. The
    shorter list is spread over the longer in proportion, so each word goes with at least one
    of the other; None when one such pair alone is longer than `room`."""
    many, few = (sounds, words) if len(sounds) >= len(words) else (words, sounds)
    groups = [
        [item for _index, item in group]
        for _owner, group in itertools.groupby(
            enumerate(many), key=lambda pair: pair[0] * len(few) // len(many)
        )
    ]
    pairs = [
        (group, [one]) if many is words else ([one], group)
        for one, group in zip(few, groups, strict=True)
    ]
    chunks: list[tuple[str, str]] = []
    written: list[str] = []
    phonemes: list[str] = []
    for more_written, more_phonemes in pairs:
        if written and _longest(written + more_written, phonemes + more_phonemes) > room:
            chunks.append((" ".join(written), " ".join(phonemes)))
            written, phonemes = [], []
        written, phonemes = written + more_written, phonemes + more_phonemes
        if _longest(written, phonemes) > room:
            return None
    chunks.append((" ".join(written), " ".join(phonemes)))
    return chunks


def _longest(*word_lists: list[str]) -> int:
    return max(len(" ".join(words)) for words in word_lists)


def _quote(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _edges(source: str, spoken: str) -> str:
    """Keeps the whitespace at the source's edges, so neighbouring spans do not run together."""
    spoken = spoken.strip()
    if not spoken:
        return ""
    lead = " " if source[:1].isspace() else ""
    trail = " " if source[-1:].isspace() else ""
    return f"{lead}{spoken}{trail}"


def _source_sentences(text: str) -> list[str]:
    """The text cut after its sentence ends, so each is normalized with its own context and each
    segment knows the sentence it came from; the pieces concatenate back to `text`."""
    bounds = [0, *sentence_ends(text), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if text[a:b]]
