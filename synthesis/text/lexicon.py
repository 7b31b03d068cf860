"""Pronunciation dictionaries, applied: a pass over the front-end's items, before normalization,
that gives whole words of the tenant's text the reading a dictionary says.

    items ──apply_lexicon──> items ──normalize / say-as / phoneme──> split ──> segments

An entry is a word (or a few words) with either an `alias` (text said instead, as written, like
SSML's `<sub alias>`) or `phonemes` (IPA, like SSML's `<phoneme ph>`: engines that take
phonemes speak them, the others read the written word). The pass turns a span into spans of
exactly those kinds, so a dictionary reaches the engine by the SSML path and the normalizers
never see it (they run on the text around the words, as around a `<sub>`).

Matching (docs/pronunciations.md):
- Whole words. A word is a run of letters, digits, underscores and combining marks; an entry
  matches whole words only: `Ade` never matches inside `Adebayo`, but does before `'s`.
  Inside an entry, words are separated by whitespace (any run of whitespace in the text
  matches it) or by a short run of punctuation matched as written (`O'Brien`, `Ado-Ekiti`).
- Case. An entry written in capitals (two letters or more, none in lower case: `NEPA`, `US`)
  matches only text in capitals; any other entry matches the text in any case (`Ngozi` matches
  `NGOZI` and `ngozi`). Text is compared in Unicode NFC form (`Ọ̀` composed or not).
- Overlaps. At any place the longest entry wins (`Port Harcourt` before `Port`); between
  dictionaries, the first one named wins a word both have.
- Language. A dictionary for a primary language (`en`) applies to every span read in it
  (en-US, en-GB, en-NG); one for a region (`en-NG`) only to spans read in that locale.
- Only the text the front-end reads itself: SSML's `<say-as>`, `<phoneme>` and `<sub>` are
  left as the document says.
Billing is unchanged: each piece bills the characters of the input it stands for.

Pure Python: no Django.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from synthesis.text.model import Item, Span, locale_for, primary_language

# Limits of one entry, checked where entries are written (the API, a PLS import).
MAX_WORD_CHARS = 100
MAX_WORDS_PER_ENTRY = 8
MAX_ALIAS_CHARS = 200
MAX_PHONEMES_CHARS = 200
# Punctuation allowed between the words of one entry (`O'Brien`, `Ado-Ekiti`, `St. Louis`).
MAX_JOINER_CHARS = 3

_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_TOKEN = re.compile(rf"(?:\w|[{_MARKS}])+")
_SPACE = re.compile(r"\s+")
# IPA: letters, combining marks, modifier letters (stress, length, aspiration) and the
# suprasegmentals below.
# ASCII punctuation and digits are refused: they are X-SAMPA or SAMPA, not IPA.
_IPA_EXTRA = frozenset(" .|\u2016\u035c\u0361\u203f")


class EntryError(ValueError):
    """An entry that cannot be used; `field` names what is wrong (word, alias, phonemes)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Entry:
    """One word's reading: `alias` (said instead) or `phonemes` (IPA), never both."""

    word: str
    alias: str | None = None
    phonemes: str | None = None


@dataclass(frozen=True)
class Dictionary:
    """A dictionary as the front-end needs it: its id (for the preview), language and entries."""

    id: str
    language: str
    entries: tuple[Entry, ...]

    def applies_to(self, locale: str) -> bool:
        """Whether spans read in `locale` use it: a primary tag covers every region of it."""
        if "-" not in self.language:
            return primary_language(locale) == self.language.lower()
        return locale.lower() == locale_for(self.language, default=self.language).lower()


def in_capitals(word: str) -> bool:
    """An acronym's spelling (`US`, `NEPA`): matched only in capitals (the module's case rule)."""
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and word == word.upper() and word != word.lower()


def entry_key(word: str) -> str:
    """What two entries of one dictionary may not share: the word's spelling, whitespace made
    single, NFC, and folded to lower case unless it is in capitals (`US` and `us` may both be
    there; `Ngozi` and `ngozi` may not)."""
    spelled = unicodedata.normalize("NFC", _SPACE.sub(" ", word.strip()))
    return spelled if in_capitals(spelled) else spelled.casefold()


def clean_word(word: str) -> str:
    """The entry's word as stored (whitespace made single, NFC), or EntryError."""
    spelled = unicodedata.normalize("NFC", _SPACE.sub(" ", word.strip()))
    if not spelled:
        raise EntryError("A word cannot be empty.", "word")
    if len(spelled) > MAX_WORD_CHARS:
        raise EntryError(f"A word has at most {MAX_WORD_CHARS} characters.", "word")
    tokens = list(_TOKEN.finditer(spelled))
    if not tokens or tokens[0].start() != 0 or tokens[-1].end() != len(spelled):
        raise EntryError(
            f"{spelled!r} must start and end with a letter or digit (entries match whole words).",
            "word",
        )
    if len(tokens) > MAX_WORDS_PER_ENTRY:
        raise EntryError(f"An entry has at most {MAX_WORDS_PER_ENTRY} words.", "word")
    for before, after in itertools.pairwise(tokens):
        joiner = spelled[before.end() : after.start()]
        if len(joiner) > MAX_JOINER_CHARS:
            raise EntryError(
                f"{spelled!r}: words in one entry are separated by a space or a short mark "
                "such as ' or -.",
                "word",
            )
    return spelled


def clean_alias(alias: str) -> str:
    spoken = _SPACE.sub(" ", alias.strip())
    if not spoken:
        raise EntryError("An alias cannot be empty.", "alias")
    if len(spoken) > MAX_ALIAS_CHARS:
        raise EntryError(f"An alias has at most {MAX_ALIAS_CHARS} characters.", "alias")
    if "<" in spoken or ">" in spoken:
        raise EntryError("An alias is plain text: no '<' or '>'.", "alias")
    return spoken


def clean_phonemes(phonemes: str) -> str:
    """IPA as stored (NFC, whitespace made single), or EntryError for anything else (X-SAMPA's
    ASCII symbols, digits, punctuation)."""
    ipa = unicodedata.normalize("NFC", _SPACE.sub(" ", phonemes.strip()))
    if not ipa:
        raise EntryError("Phonemes cannot be empty.", "phonemes")
    if len(ipa) > MAX_PHONEMES_CHARS:
        raise EntryError(f"Phonemes have at most {MAX_PHONEMES_CHARS} characters.", "phonemes")
    for char in ipa:
        if not _is_ipa(char):
            raise EntryError(
                f"Phonemes are IPA; {char!r} is not an IPA symbol (X-SAMPA and digits are not).",
                "phonemes",
            )
    return ipa


def _is_ipa(char: str) -> bool:
    if char in _IPA_EXTRA:
        return True
    if char.isascii():
        return char.isalpha()
    category = unicodedata.category(char)
    return category[0] in "LM" or category == "Sk"


def clean_entry(word: str, alias: str | None, phonemes: str | None) -> Entry:
    """An entry as stored, or EntryError: a word and exactly one of alias and phonemes."""
    if (alias is None) == (phonemes is None):
        raise EntryError("An entry has a word and either an alias or phonemes.", "alias")
    return Entry(
        word=clean_word(word),
        alias=clean_alias(alias) if alias is not None else None,
        phonemes=clean_phonemes(phonemes) if phonemes is not None else None,
    )


@dataclass(frozen=True)
class Match:
    """A place in the text an entry matched: the text as written there, and the entry."""

    written: str
    entry: Entry


class _Matcher:
    """The entries of the dictionaries for one locale, looked up word by word (no regular
    expression over the entries: the work is linear in the text whatever their number)."""

    def __init__(self, dictionaries: Iterable[Dictionary]) -> None:
        self.exact: dict[str, Entry] = {}
        self.folded: dict[str, Entry] = {}
        self.longest = 1
        for dictionary in dictionaries:
            for entry in dictionary.entries:
                key = entry_key(entry.word)
                table = self.exact if in_capitals(entry.word) else self.folded
                table.setdefault(key, entry)  # the first dictionary named wins
                self.longest = max(self.longest, len(_TOKEN.findall(entry.word)))

    def split(self, text: str) -> list[str | Match]:
        """`text` as plain pieces and matches, in order; they concatenate back to `text`."""
        tokens = list(_TOKEN.finditer(text))
        pieces: list[str | Match] = []
        done = 0  # the end of the text already given out
        index = 0
        while index < len(tokens):
            found = self._longest_at(text, tokens, index)
            if found is None:
                index += 1
                continue
            entry, last = found
            start, end = tokens[index].start(), tokens[last].end()
            if start > done:
                pieces.append(text[done:start])
            pieces.append(Match(text[start:end], entry))
            done, index = end, last + 1
        if done < len(text):
            pieces.append(text[done:])
        return pieces

    def _longest_at(
        self, text: str, tokens: Sequence[re.Match[str]], first: int
    ) -> tuple[Entry, int] | None:
        ends = [first]
        for last in range(first + 1, min(len(tokens), first + self.longest)):
            joiner = text[tokens[last - 1].end() : tokens[last].start()]
            if len(joiner) > MAX_JOINER_CHARS and joiner.strip():
                break
            ends.append(last)
        for last in reversed(ends):
            written = text[tokens[first].start() : tokens[last].end()]
            entry = self._lookup(written)
            if entry is not None:
                return entry, last
        return None

    def _lookup(self, written: str) -> Entry | None:
        spelled = unicodedata.normalize("NFC", _SPACE.sub(" ", written))
        exact = self.exact.get(spelled)  # entries in capitals: only as written
        return exact if exact is not None else self.folded.get(spelled.casefold())


class Lexicon:
    """The dictionaries of one request, in the order it named them (the first wins a word)."""

    def __init__(self, dictionaries: Sequence[Dictionary]) -> None:
        self.dictionaries = tuple(dictionaries)
        self._matchers: dict[str, _Matcher | None] = {}

    @cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.dictionaries)

    def __bool__(self) -> bool:
        return any(d.entries for d in self.dictionaries)

    def matcher(self, locale: str) -> _Matcher | None:
        """The entries that apply to spans read in `locale`; None when none do."""
        if locale not in self._matchers:
            chosen = [d for d in self.dictionaries if d.entries and d.applies_to(locale)]
            self._matchers[locale] = _Matcher(chosen) if chosen else None
        return self._matchers[locale]


def apply_lexicon(items: Sequence[Item], lexicon: Lexicon | None, locale: str) -> list[Item]:
    """`items` with the dictionaries' words of each plain span made `<sub>`-like alias spans or
    `<phoneme>`-like IPA spans; `locale` is the request's (a span's own language picks its
    dictionaries). Items the front-end does not normalize are kept as they are."""
    if not lexicon:
        return list(items)
    out: list[Item] = []
    for item in items:
        if not isinstance(item, Span) or not _plain(item):
            out.append(item)
            continue
        matcher = lexicon.matcher(locale_for(item.language, default=locale))
        out.extend(_pieces(item, matcher.split(item.text)) if matcher else [item])
    return out


def _plain(span: Span) -> bool:
    return span.normalize and span.say_as is None and span.phonemes is None


def _pieces(span: Span, pieces: list[str | Match]) -> list[Span]:
    """The span cut at its matches; each piece bills its share of the span's characters (its
    own length, unless the span bills other than its length: then in proportion)."""
    if len(pieces) == 1 and isinstance(pieces[0], str):
        return [span]
    total = len(span.text) or 1
    spans: list[Span] = []
    given = 0
    for index, piece in enumerate(pieces):
        written = piece.written if isinstance(piece, Match) else piece
        last = index == len(pieces) - 1
        share = span.billed - given if last else span.billed * len(written) // total
        given += share
        if isinstance(piece, str):
            spans.append(replace(span, text=piece, chars=share))
        elif piece.entry.alias is not None:
            spans.append(
                replace(span, text=piece.entry.alias, normalize=False, chars=share, source=written)
            )
        else:
            ipa = piece.entry.phonemes
            spans.append(replace(span, text=written, phonemes=ipa, alphabet="ipa", chars=share))
    return spans
