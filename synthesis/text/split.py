"""Splitting: a run of (normalized) text → pieces an engine speaks in one call.

Sentences first, then clauses, then words, each piece at most `max_chars` (the engine's limit,
which callers take from its catalog row: `synthesis.engines.catalog`; a unit with phonemes
counts the longer of its text and its phonemes). The work is linear in the text. The first piece
of a request is deliberately short, a clause of a few words, so the first audio comes early.
A cut never falls inside an atomic unit (a say-as span, a `<sub>` alias, a phoneme), and never
after an abbreviation or an initial: a period ends a sentence only when what follows starts one.

Text left as written (any language but English) is split the same way: a sentence may start
with any capital or a letter of a script without case; the ideographic full stop `。`, the
full-width exclamation and question marks and the danda `।` end sentences without a space after
them, the full-width comma, semicolon and colon and `、` break clauses; and a sentence in a
script written without spaces (Chinese, Japanese) with no clause break is cut between two of its
characters.

Every piece carries `chars`, its share of the input characters billed for the run, so a request
cut short bills what was delivered; the shares always add up to the run's total.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from synthesis.text.normalize.numbers import ONES

# The limit when a caller names none (tools, tests); the service always passes the engine's.
MAX_SEGMENT_CHARS = 200
# The opening sentence of a request is cut at its first clause break within this many
# characters, when it is longer than FIRST_CUT_ABOVE: "Thanks for calling Riverside Dental,"
# comes back from Piper in about 60 % of the time the whole ten-word sentence takes.
FIRST_SEGMENT_CHARS = 80
FIRST_CUT_ABOVE = 30
# A first clause shorter than this many characters is not worth a piece of its own unless
# it is the whole sentence: "So," alone sounds clipped.
MIN_FIRST_CHARS = 2

# A sentence ends at . ! ? (and …) followed by space and something that can start a sentence
# (the captured character: see `_starts_sentence`). Like _HARD_END, a match starts only at the
# first mark of a run (the look-behind): otherwise a long run with no space after it ("!!!…")
# is tried again from each of its marks, which is quadratic. Only the first start can match
# anyway: every later one meets the same run end and the same text after it.
_SENTENCE_END = re.compile(
    r"(?<![.!?\u2026])[.!?\u2026]+[\"'\u201d\u2019)\]\u00bb]*"
    r"(?=\s+[\"'\u201c\u2018(\[\u00ab\u201e\u00bf\u00a1]?(\w))"
)
# ! ? … (and the Arabic question mark and full stop, the danda and double danda of Hindi)
# followed by space end a sentence whatever comes next.
_HARD_END = re.compile(
    r"(?<![!?\u2026\u061f\u06d4\u0964\u0965])[!?\u2026\u061f\u06d4\u0964\u0965]+[\"'\u201d\u2019)\]]*(?=\s)"
    r"|\n\s*\n"
)
# Ends that need no space after them (Chinese and Japanese write none): the ideographic full
# stop and the full-width exclamation and question marks, with any closing quote or bracket.
_WIDE_END = re.compile(
    "[\u3002\uff01\uff1f\uff61]+[\"'\u201d\u2019)\\]\u300d\u300f\uff09\u3011\u3015\u3009\u300b]*"
)
# A clause ends at , ; : — (and the Arabic comma and semicolon) followed by space, at a dash
# between spaces, and at the full-width comma, semicolon and colon and the ideographic comma.
_CLAUSE_END = re.compile(
    r"[,;:\u2014\u060c\u061b]+(?=\s)|\s[\u2013\u2014-]\s|[\uff0c\u3001\uff1b\uff1a]+"
)
# Between two characters of a script written without spaces (Han, kana): where a sentence with
# no clause break is cut, never before a small kana, the long-vowel mark or an iteration mark.
_WIDE = "\u3005\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WIDE_CHAR = re.compile(f"[{_WIDE}]")
_WIDE_BREAK = re.compile(
    f"(?<=[{_WIDE}])(?=[{_WIDE}])"
    "(?![\u3041\u3043\u3045\u3047\u3049\u3063\u3083\u3085\u3087\u308e\u30a1\u30a3"
    "\u30a5\u30a7\u30a9\u30c3\u30e3\u30e5\u30e7\u30ee\u30f5\u30f6\u30fc\u3005\u309d"
    "\u309e\u30fd\u30fe])"
)
_SPACE = re.compile(r"\s+")
# A period after one of these is not a sentence end even when a capital follows ("Dr. Okafor").
_NOT_AN_END = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Sr|Jr|Mt|Ft|Gen|Col|Capt|Lt|Sgt|Rev|Hon|Gov|Sen|Rep"
    r"|vs|etc|e\.g|i\.e|No|Nos|Vol|Fig|approx|Inc|Ltd|Co|Corp|Ave|Blvd|Rd|Jan|Feb|Mar|Apr|Jun|Jul"
    r"|Aug|Sep|Sept|Oct|Nov|Dec|Engr|Alh|Alhj|Barr|Arc|Pst|Mal|Evang|Deac|Dcn|Dcns|Chf))\.$"
)
# Before a number, a period after one of these is not a sentence end either ("account no.
# 0123456789", "ref. 552031"); a lower-case "no." only after a noun that takes a number ("I said
# no. 5 people came" ends a sentence).
_BEFORE_A_NUMBER = re.compile(
    r"(?i:\b(?:account|acct|order|ticket|invoice|policy|reference|phone|room|house|plot|flat|box"
    r"|serial|card|booking|case|claim|member|customer)\s+no|\bnr|\bref|\bacct|\btel)\.$"
)
_NUMBER_WINDOW = 24
# How far before a period _NOT_AN_END looks: more than its longest match ("approx.") and the
# character before it (for \b), so each candidate end costs the same however long the text.
_ABBREVIATION_WINDOW = 16


@dataclass(frozen=True)
class Unit:
    """Rendered text with its billed characters and the input it was rendered from. An atomic
    unit is never cut inside."""

    text: str
    chars: int
    atomic: bool = False
    source: str = ""
    phonemes: str | None = None  # IPA for engines that take it (`text` is the fallback)


@dataclass(frozen=True)
class Piece:
    text: str
    chars: int
    source: str = ""  # the input of the units this piece holds text of
    parts: tuple[tuple[str, str], ...] = ()  # ("text", ...)/("ipa", ...) when it has phonemes


@dataclass(frozen=True)
class TextPiece:
    """A piece of plain input (see `split_text`): `chars` is its slice of the input."""

    text: str
    chars: int
    pause_after_ms: int = 0


def split_units(
    units: Sequence[Unit],
    *,
    max_chars: int = MAX_SEGMENT_CHARS,
    first: bool = False,
    first_chars: int = FIRST_SEGMENT_CHARS,
) -> list[Piece]:
    """Splits one run (same voice, language and prosody) into pieces. `first`: this run opens
    the request, so its first piece is kept short."""
    text, owners, blocked = _join(units)
    measure = _Measure(text, units, owners, blocked)
    cuts = _cuts(
        text, blocked, max_chars=max_chars, first=first, first_chars=first_chars, measure=measure
    )
    spans = [(a, b) for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    pieces: list[tuple[str, int, int]] = []
    for start, end in spans:
        chunk = text[start:end].strip()
        if chunk:
            pieces.append((chunk, start, end))
    return _with_chars(pieces, text, owners, units)


def _join(units: Sequence[Unit]) -> tuple[str, list[int], list[tuple[int, int]]]:
    """The run's text, the unit owning each character, and the atomic ranges."""
    parts: list[str] = []
    owners: list[int] = []
    blocked: list[tuple[int, int]] = []
    length = 0
    for index, unit in enumerate(units):
        piece = unit.text
        if parts and piece and _needs_space(parts[-1], piece):
            parts.append(" ")
            owners.append(index - 1)
            length += 1
        if unit.atomic and piece.strip():
            lead = len(piece) - len(piece.lstrip())
            blocked.append((length + lead, length + len(piece.rstrip())))
        parts.append(piece)
        owners.extend([index] * len(piece))
        length += len(piece)
    return "".join(parts), owners, blocked


class _Measure:
    """Lengths as the engine meets them. A character counts one; a unit with phonemes (atomic)
    counts the longer of its text and its phonemes, since engines that take phonemes read
    those instead: the difference is counted on its last character."""

    def __init__(
        self,
        text: str,
        units: Sequence[Unit],
        owners: Sequence[int],
        blocked: Sequence[tuple[int, int]],
    ) -> None:
        extra: dict[int, int] = {}
        for start, end in blocked:
            phonemes = units[owners[start]].phonemes
            if phonemes and len(phonemes) > end - start:
                extra[end - 1] = len(phonemes) - (end - start)
        self.prefix: list[int] | None = None
        if extra:
            prefix = [0]
            for position in range(len(text)):
                prefix.append(prefix[-1] + 1 + extra.get(position, 0))
            self.prefix = prefix

    def length(self, start: int, end: int) -> int:
        return end - start if self.prefix is None else self.prefix[end] - self.prefix[start]

    def reach(self, start: int, budget: int) -> int:
        """The furthest end from `start` within `budget` (past the text's end when plain); at
        least one character further, so every cut moves on."""
        if self.prefix is None:
            return start + budget
        end = bisect.bisect_right(self.prefix, self.prefix[start] + budget) - 1
        return max(end, start + 1)


def _needs_space(before: str, after: str) -> bool:
    """Two units written against each other ("<say-as>5</say-as>th") stay joined unless that
    would glue two words that were separate elements: a space goes between word characters,
    except next to a script written without spaces ("電話<say-as>42</say-as>です")."""
    last, first = before[-1:], after[:1]
    if _WIDE_CHAR.match(last) or _WIDE_CHAR.match(first):
        return False
    return last.isalnum() and first.isalnum()


def _inside(position: int, blocked: Sequence[tuple[int, int]]) -> bool:
    """Whether `position` falls inside one of `blocked` (in order, not overlapping)."""
    index = bisect.bisect_left(blocked, (position,))  # the first range starting at or after it
    return index > 0 and position < blocked[index - 1][1]


def sentence_ends(text: str) -> list[int]:
    """Where sentences end in `text` (written or normalized), abbreviations and initials aside."""
    return _sentence_cuts(text, ())


def _starts_sentence(char: str) -> bool:
    """A capital, a digit, or a letter of a script without case (Devanagari, Arabic, Han)."""
    return not char.islower() and (char.isalpha() or char.isdecimal())


def _sentence_cuts(text: str, blocked: Sequence[tuple[int, int]]) -> list[int]:
    cuts = set()
    for match in _SENTENCE_END.finditer(text):
        if not _starts_sentence(match.group(1)):
            continue
        dot = match.start()
        if text[dot] == "." and _NOT_AN_END.search(
            text, max(0, dot - _ABBREVIATION_WINDOW), dot + 1
        ):
            continue
        if (
            text[dot] == "."
            and match.group(1).isdecimal()
            and _BEFORE_A_NUMBER.search(text, max(0, dot - _NUMBER_WINDOW), dot + 1)
        ):
            continue
        cuts.add(match.end())
    cuts.update(match.end() for match in _HARD_END.finditer(text))
    cuts.update(match.end() for match in _WIDE_END.finditer(text))
    return sorted(c for c in cuts if 0 < c < len(text) and not _inside(c, blocked))


def _candidates(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[int]:
    return [m.end() for m in pattern.finditer(text, start, end)]


def _cuts(
    text: str,
    blocked: Sequence[tuple[int, int]],
    *,
    max_chars: int,
    first: bool,
    first_chars: int,
    measure: _Measure,
) -> list[int]:
    cuts: list[int] = []
    start = 0
    sentence_ends = [*_sentence_cuts(text, blocked), len(text)]
    for end in sentence_ends:
        if first and not cuts and start == 0:
            head = _first_clause(
                text, 0, end, blocked, measure.reach(0, min(first_chars, max_chars))
            )
            if head is not None:
                cuts.append(head)
                start = head
        while measure.length(start, end) > max_chars:
            cut = _long_cut(text, start, end, blocked, max_chars, measure)
            cuts.append(cut)
            start = cut
        if end < len(text):
            cuts.append(end)
        start = end
    return cuts


def _first_clause(
    text: str, start: int, end: int, blocked: Sequence[tuple[int, int]], reach: int
) -> int | None:
    """The end of the opening clause when the first sentence is longer than FIRST_CUT_ABOVE:
    the first clause break after MIN_FIRST_CHARS before `reach`."""
    if len(text[start:end].strip()) <= FIRST_CUT_ABOVE:
        return None
    for cut in _candidates(_CLAUSE_END, text, start, min(end, reach)):
        if (
            len(text[start:cut].strip()) >= MIN_FIRST_CHARS
            and not _inside(cut, blocked)
            and not _in_spoken_digits(text, cut)
        ):
            return cut
    return None


# Digits as the normalizer speaks them: a comma between two of them separates the groups of a
# code or a telephone number ("four eight two, nine one three"), which is not a clause.
# (With "hundred" for a toll-free area code, and the keypad's keys.)
_DIGIT_WORDS = frozenset([*ONES[:10], "oh", "hundred", "star", "hash", "pound"])


def _in_spoken_digits(text: str, cut: int) -> bool:
    """Whether the clause break ending at `cut` sits between two spoken digits."""
    before = text[:cut].rstrip(",;: ").rsplit(None, 1)
    after = text[cut:].split(None, 1)
    return bool(before and after) and (
        before[-1].lower() in _DIGIT_WORDS and after[0].strip(",.;:!?").lower() in _DIGIT_WORDS
    )


def _long_cut(
    text: str,
    start: int,
    end: int,
    blocked: Sequence[tuple[int, int]],
    max_chars: int,
    measure: _Measure,
) -> int:
    """Where to cut a sentence longer than max_chars: the last clause break that leaves a piece
    of at least a third of the limit, else the last space (not one inside a number written with
    spaces, "12 500"), never inside an atomic unit; in text written without spaces, between two
    of its characters. An atomic unit longer than the limit is cut at a space inside it, a word
    longer than the limit at the limit (the engine's limit wins)."""
    limit = min(measure.reach(start, max_chars), end)
    floor = measure.reach(start, max_chars // 3)
    clauses = [c for c in _candidates(_CLAUSE_END, text, floor, limit) if not _inside(c, blocked)]
    clauses = [c for c in clauses if not _in_spoken_digits(text, c)] or clauses
    if clauses:
        return clauses[-1]
    spaces = [m.start() for m in _SPACE.finditer(text, start + 1, limit)]
    free = [c for c in spaces if not _inside(c, blocked) and not _in_number(text, c)]
    if free and free[-1] >= floor:
        return free[-1]
    wide = [m.start() for m in _WIDE_BREAK.finditer(text, start + 1, limit + 1)]
    wide = [c for c in wide if not _inside(c, blocked)]
    if wide:
        return wide[-1]
    if free:
        return free[-1]
    return spaces[-1] if spaces else _before_marks(text, start, limit)


def _in_number(text: str, position: int) -> bool:
    """Whether the space at `position` sits between two digits."""
    return (
        text[position - 1 : position].isdecimal() and text[position + 1 : position + 2].isdecimal()
    )


def _before_marks(text: str, start: int, cut: int) -> int:
    """`cut`, moved back off a combining mark (a Devanagari vowel sign belongs to the letter
    before it) as long as something stays before it."""
    position = cut
    while start + 1 < position < len(text) and unicodedata.category(text[position])[0] == "M":
        position -= 1
    return position if position > start + 1 else cut


def _with_chars(
    pieces: list[tuple[str, int, int]], text: str, owners: list[int], units: Sequence[Unit]
) -> list[Piece]:
    """Shares each unit's billed characters among the pieces its text landed in, in proportion;
    a unit's shares add up to its total, and a unit with no text bills to the first piece."""
    if not pieces:
        return []
    bounds = [0] + [end for _text, _start, end in pieces[:-1]] + [len(text)]
    # Per piece, the characters of each unit it holds; per unit, the pieces it landed in (in
    # order): linear in the text, however many units and pieces.
    counts = [Counter(owners[bounds[i] : bounds[i + 1]]) for i in range(len(pieces))]
    landed: list[list[tuple[int, int]]] = [[] for _ in units]
    for index, held in enumerate(counts):
        for owner, count in held.items():
            landed[owner].append((index, count))
    totals = [0] * len(pieces)
    for owner, unit in enumerate(units):
        if not landed[owner]:
            totals[0] += unit.chars
            continue
        owned = sum(count for _index, count in landed[owner])
        given = 0
        for index, count in landed[owner][:-1]:
            part = unit.chars * count // owned
            totals[index] += part
            given += part
        totals[landed[owner][-1][0]] += unit.chars - given
    sources = [" ".join(units[o].source.strip() for o in sorted(held)).strip() for held in counts]
    with_phonemes = any(u.phonemes for u in units)
    return [
        Piece(
            chunk,
            chars,
            source,
            _parts(text, owners, units, bounds[i], bounds[i + 1]) if with_phonemes else (),
        )
        for i, ((chunk, _s, _e), chars, source) in enumerate(
            zip(pieces, totals, sources, strict=True)
        )
    ]


def _parts(
    text: str, owners: list[int], units: Sequence[Unit], start: int, end: int
) -> tuple[tuple[str, str], ...]:
    """The piece [start, end) as text and IPA parts: a unit with phonemes (atomic, so never
    cut) becomes one ("ipa", ...) part; the text around it stays text."""
    parts: list[tuple[str, str]] = []
    position = start
    while position < end:
        owner = owners[position]
        stop = position
        while stop < end and owners[stop] == owner:
            stop += 1
        phonemes = units[owner].phonemes
        chunk = text[position:stop]
        if phonemes and chunk.strip():
            parts.append(("ipa", phonemes))
        elif parts and parts[-1][0] == "text":
            parts[-1] = ("text", parts[-1][1] + chunk)
        else:
            parts.append(("text", chunk))
        position = stop
    return tuple(
        (kind, value.strip() if kind == "text" else value) for kind, value in parts if value.strip()
    )


def split_text(text: str, *, max_chars: int = MAX_SEGMENT_CHARS) -> list[TextPiece]:
    """Plain text, not normalized, split as the first run of a request; `chars` are the input's
    characters (each piece's slice, whitespace included), adding up to len(text)."""
    return [
        TextPiece(p.text, p.chars)
        for p in split_units([Unit(text, len(text))], max_chars=max_chars, first=True)
    ]


def words(pieces: Iterable[str]) -> list[str]:
    """The words of `pieces`, in order (for checks that splitting keeps every word)."""
    return [w for piece in pieces for w in piece.split()]
