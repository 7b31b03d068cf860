"""Which words of the tenant's input each segment says: the bridge from what the engine reads
(normalized text) back to what the tenant wrote, for word timings and for the text heard
before a barge-in.

    input  "Your total is $5 for today."
    spoken "Your total is five dollars for today."
    words  Your→[0,1) total→[1,2) is→[2,3) $5→[3,5) for→[5,6) today.→[6,7)

Words are the input's whitespace-separated tokens as written (punctuation attached), so the
words heard, joined by spaces, read back as the input. Each maps to a range of its segment's
spoken tokens (`text.split()`). The two token lists are walked together: tokens that read the
same (case and punctuation aside) pair up; where they differ (normalization rewrote them), the
walk looks a bounded distance ahead for the next place where the two agree again (a long word,
two words in a row, or the end), and the input words in between share the spoken tokens in
between: a word found once on each side pairs up, the n-th clause end of one side goes with
the n-th of the other when both have as many, and the rest share in proportion to their
length as written. The look-ahead is bounded, so the work is linear in the text however it
is written. Pure Python: no Django.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# How far past a difference the walk looks for the two texts to agree again: an input token
# can become many spoken ones (a phone number read digit by digit, an amount in words), many
# input tokens rarely become fewer.
LOOK_AHEAD_INPUT = 8
LOOK_AHEAD_SPOKEN = 40

# A key this long that agrees is taken as the place where the texts agree again.
DISTINCT = 4

_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Word:
    """A word of the input (`text`, as written) and the spoken tokens of its segment that say
    it: `[first, last)` of `segment.text.split()`. `first == last`: no token says it (a symbol
    the front-end dropped); it sits just before token `first`."""

    text: str
    first: int
    last: int


def _key(token: str) -> str:
    key = _NOT_WORD.sub("", token).casefold()
    return key or token


def segment_words(sources: Sequence[str], pieces: Sequence[str]) -> list[tuple[Word, ...]]:
    """For one run of the front-end: `sources` are the input texts of its units in order, and
    `pieces` the spoken texts of its segments in order; the words each segment says. Every
    input word lands in exactly one segment (the one holding its first spoken token)."""
    written = [token for source in sources for token in source.split()]
    spoken: list[tuple[int, int]] = []  # (segment, token index in it), in order
    keys: list[str] = []
    said: list[str] = []
    sizes = []
    for number, piece in enumerate(pieces):
        tokens = piece.split()
        sizes.append(len(tokens))
        spoken.extend((number, index) for index in range(len(tokens)))
        keys.extend(_key(token) for token in tokens)
        said.extend(tokens)
    ranges = _align(_Tokens(written), _Tokens(said, keys))
    out: list[list[Word]] = [[] for _ in pieces]
    if not pieces:
        return []
    for text, (start, end) in zip(written, ranges, strict=True):
        if start < len(spoken):
            segment, first = spoken[start]
        else:  # said by no token, after the last one
            segment, first = len(pieces) - 1, sizes[-1]
        if end > start:
            last_segment, last = spoken[end - 1]
            last = last + 1 if last_segment == segment else sizes[segment]
        else:
            last = first
        out[segment].append(Word(text, first, last))
    return [tuple(words) for words in out]


@dataclass(frozen=True)
class _Tokens:
    """Tokens as written and their keys (what compares)."""

    raw: Sequence[str]
    keys: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", [_key(token) for token in self.raw])


def _align(words: _Tokens, said: _Tokens) -> list[tuple[int, int]]:
    """Per written word, its range of spoken words; ranges are in order and cover every spoken
    word (spoken words no written one matches go with the written word before them)."""
    written, spoken = words.keys, said.keys
    ranges: list[tuple[int, int]] = []
    i = j = 0
    while i < len(written):
        if j < len(spoken) and written[i] == spoken[j]:
            ranges.append((j, j + 1))
            i, j = i + 1, j + 1
            continue
        di, dj = _resync(written, spoken, i, j)
        _region(ranges, words, said, (i, i + di), (j, j + dj))
        i, j = i + di, j + dj
    if ranges and spoken:  # spoken tokens before the first word or after the last are theirs
        ranges[0] = (0, ranges[0][1])
        ranges[-1] = (ranges[-1][0], max(ranges[-1][1], len(spoken)))
    return ranges


def _resync(written: Sequence[str], spoken: Sequence[str], i: int, j: int) -> tuple[int, int]:
    """How many written and spoken keys to pass before the two agree again: the nearest pair
    (fewest keys passed) that is a word of DISTINCT characters or more, or agrees twice in a
    row, or at both ends (a short word such as "and" recurs in what normalization writes:
    "$1,005 and" is "one thousand and five dollars and"); else the nearest that agrees once;
    else the rest in proportion."""
    reach_i = min(LOOK_AHEAD_INPUT, len(written) - i)
    reach_j = min(LOOK_AHEAD_SPOKEN, len(spoken) - j)
    once: tuple[int, int] | None = None
    for distance in range(1, reach_i + reach_j + 1):
        for di in range(max(0, distance - reach_j), min(distance, reach_i) + 1):
            a, b = i + di, j + distance - di
            if a == len(written) or b == len(spoken) or written[a] != spoken[b]:
                continue
            ends = a + 1 == len(written) and b + 1 == len(spoken)
            if (
                ends
                or len(written[a]) >= DISTINCT
                or (
                    a + 1 < len(written) and b + 1 < len(spoken) and written[a + 1] == spoken[b + 1]
                )
            ):
                return di, distance - di
            once = once or (di, distance - di)
    if once is not None:
        return once
    if len(written) - i <= LOOK_AHEAD_INPUT:  # nothing agrees up to the end: share the rest
        return len(written) - i, len(spoken) - j
    # Far from the end: one written word over its share of the spoken words, and on.
    ratio = (len(spoken) - j) / (len(written) - i)
    return 1, min(len(spoken) - j, max(1, round(ratio)))


def _region(
    ranges: list[tuple[int, int]],
    words: _Tokens,
    said: _Tokens,
    written_span: tuple[int, int],
    spoken_span: tuple[int, int],
) -> None:
    """Written words [i0, i1) say spoken words [j0, j1): a key found exactly once in each (in
    order) pairs up ("or" in "020 7946 0958 or +234 …" read digit by digit), and the words
    between such pairs share the spoken words between them (`_marked`)."""
    (i0, i1), (j0, j1) = written_span, spoken_span
    written, spoken = words.keys, said.keys
    in_written, in_spoken = Counter(written[i0:i1]), Counter(spoken[j0:j1])
    at_i, at_j = i0, j0
    for i in range(i0, i1):
        key = written[i]
        if in_written[key] == 1 and in_spoken[key] == 1:
            j = list(spoken[j0:j1]).index(key) + j0
            if j >= at_j:
                _marked(ranges, words, said, (at_i, i), (at_j, j))
                ranges.append((j, j + 1))
                at_i, at_j = i + 1, j + 1
    _marked(ranges, words, said, (at_i, i1), (at_j, j1))


def _marked(
    ranges: list[tuple[int, int]],
    words: _Tokens,
    said: _Tokens,
    written_span: tuple[int, int],
    spoken_span: tuple[int, int],
) -> None:
    """As `_share`, but where the written and the spoken words have as many clause or sentence
    ends (a trailing , ; : . ! ?) as each other, the n-th such written word ends with the n-th
    such spoken word ("24/7, 9-5" read "twenty four seven, nine to five")."""
    (i0, i1), (j0, j1) = written_span, spoken_span
    ends = ",;:.!?"
    marks_w = [i for i in range(i0, i1) if words.raw[i][-1:] in ends]
    marks_s = [j for j in range(j0, j1) if said.raw[j][-1:] in ends]
    tails = [words.raw[i][-1] for i in marks_w] == [said.raw[j][-1] for j in marks_s]
    if not marks_w or not tails:
        _share(ranges, [len(w) for w in words.raw[i0:i1]], j0, j1)
        return
    at_i, at_j = i0, j0
    for i, j in zip([*marks_w, i1 - 1], [*marks_s, j1 - 1], strict=True):
        _share(ranges, [len(w) for w in words.raw[at_i : i + 1]], at_j, j + 1)
        at_i, at_j = i + 1, j + 1


def _share(ranges: list[tuple[int, int]], sizes: Sequence[int], start: int, end: int) -> None:
    """Written words of `sizes` characters say spoken keys [start, end), in order and in
    proportion to their lengths; with no written word, those keys go with the word before (at
    the very start: see `_align`)."""
    if not sizes:
        if ranges:
            ranges[-1] = (ranges[-1][0], end)
        return
    total = sum(sizes)
    count = end - start
    given = 0
    for size in sizes:
        low = start + given * count // total
        given += size
        ranges.append((low, start + given * count // total))
