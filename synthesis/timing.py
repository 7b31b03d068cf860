"""Word timings: when each word of the tenant's input is heard in a synthesis's audio, and the
text heard up to a playback point (what an interrupted agent's language model needs to know).

One clock for marks and words: milliseconds of the synthesis's audio (for a socket, of the
context's) from its first sample, the leading pause included, counted at the engine's rate
as the chunks arrive from the worker.

Where the engine reports its own alignment (Piper, from its model patched with
`patch_voice_with_alignment`: each chunk's `words`, espeak's words as sample spans with their
number of sounds), a segment whose every chunk had one is timed from it (`align`: espeak's words
paired with the text's, a few of which espeak runs together, as in "of the"). Otherwise (another
engine, a model that could not be patched, phonemes that did not match their durations) the
times are an estimate, documented in docs/websocket.md ("Word timings"): a segment's words share
its speech (the audio between
its first and last sample above SPEECH_THRESHOLD of its peak, so the engine's own silence
and exact pauses are left out) in proportion to their letters, each word counting
WORD_WEIGHT more for the transition into the next, and a comma-like or sentence-ending mark
inside the segment counting CLAUSE_PAUSE / SENTENCE_PAUSE for the pause the engine makes
there. Where the audio has exactly as many pauses inside the speech as the text has such
marks, each run of words between two marks shares its own stretch of speech instead. A
segment whose audio has not all arrived (a barge-in mid-segment) is timed from the alignment
that came with it when that covers the segment, else at ESTIMATE_MS_PER_WEIGHT at its speed
from its first speech. Pure: no Django.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthesis.text.model import TextSegment

# Of the segment's peak: below it is the engine's silence (Piper's sits near 1e-4).
SPEECH_THRESHOLD = 0.02
WORD_WEIGHT = 1.0
CLAUSE_PAUSE = 5.0
SENTENCE_PAUSE = 7.0
ESTIMATE_MS_PER_WEIGHT = 62.0
# A stretch this long below SPEECH_THRESHOLD inside a segment's speech is a pause (the stops
# inside words are shorter).
PAUSE_MS = 80
# Pairing espeak's words with the text's (`align`): a text word and an espeak word whose letters
# and sounds differ by a factor e (over the segment's ratio) cost 1; each word run together with
# another costs MERGE_COST more.
MERGE_COST = 0.7
# A pause in the audio this close to a boundary of the engine's alignment is taken as it (`snap`).
SNAP_MS = 250
_GROUPS = ((1, 1), (2, 1), (1, 2), (3, 1), (1, 3))
# `WordClock.add`'s default: the chunk came without the engine's alignment (split pieces, or an
# engine that has none); None is an alignment that failed.
NO_SPANS: object = object()
_CLAUSE_MARKS = frozenset(",;:\u2014")
_SENTENCE_MARKS = frozenset(".!?\u2026")


@dataclass(frozen=True)
class WordTime:
    """A word of the input as written and when it is heard (ms on the synthesis's clock)."""

    word: str
    start_ms: int
    end_ms: int

    def as_json(self) -> dict[str, object]:
        return {"word": self.word, "start_ms": self.start_ms, "end_ms": self.end_ms}


def token_weights(tokens: Sequence[str]) -> list[tuple[float, float]]:
    """Per spoken token: the share of speech it takes, and the pause after it."""
    weights = []
    for index, token in enumerate(tokens):
        letters = sum(char.isalnum() for char in token)
        pause = 0.0
        if index < len(tokens) - 1:
            tail = token.rstrip("\"')]\u201d\u2019")[-1:]
            pause = (
                CLAUSE_PAUSE
                if tail in _CLAUSE_MARKS
                else SENTENCE_PAUSE
                if tail in _SENTENCE_MARKS
                else 0.0
            )
        weights.append((max(1, letters) + WORD_WEIGHT, pause))
    return weights


def speech_bounds(pcm: bytes) -> tuple[int, int] | None:
    """The first and one past the last sample of speech in PCM s16le (None: all silence)."""
    audio = np.abs(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.int32))
    if not audio.size:
        return None
    peak = int(audio.max())
    if peak == 0:
        return None
    loud = np.flatnonzero(audio >= max(1, peak * SPEECH_THRESHOLD))
    return int(loud[0]), int(loud[-1]) + 1


def spread(tokens: Sequence[str], start: float, per_weight: float) -> list[tuple[float, float]]:
    """Each token's (start, end) from `start`, `per_weight` samples per unit of weight."""
    spans = []
    at = start
    for speech, pause in token_weights(tokens):
        spans.append((at, at + speech * per_weight))
        at += (speech + pause) * per_weight
    return spans


def estimate(
    pcm: bytes, tokens: Sequence[str], *, sample_rate: int, anchor: bool = True
) -> list[tuple[float, float]]:
    """The tokens' (start, end) in samples of a segment's whole audio `pcm`. With `anchor`,
    where the audio has exactly as many pauses inside its speech as the text has marks that
    make one (`token_weights`), each run of words between two marks is spread over its own
    stretch of speech between two pauses."""
    bounds = speech_bounds(pcm)
    if bounds is None or not tokens:
        return [(0.0, 0.0)] * len(tokens)
    first, last = bounds
    weights = token_weights(tokens)
    marked = [index for index, (_speech, pause) in enumerate(weights) if pause]
    gaps = _pauses(pcm, first, last, sample_rate) if anchor and marked else []
    if not marked or len(gaps) != len(marked):
        total = sum(speech + pause for speech, pause in weights)
        return spread(tokens, first, (last - first) / total)
    spans: list[tuple[float, float]] = []
    starts = [first, *(end for _start, end in gaps)]
    ends = [*(start for start, _end in gaps), last]
    cuts = [0, *(index + 1 for index in marked), len(tokens)]
    for (low, high), begin, stop in zip(itertools.pairwise(cuts), starts, ends, strict=True):
        run = tokens[low:high]
        total = sum(speech for speech, _pause in token_weights(run))
        spans += spread(run, begin, (stop - begin) / total)
    return spans


def align(
    tokens: Sequence[str], words: Sequence[tuple[int, int, int]]
) -> list[tuple[float, float]] | None:
    """The tokens' (start, end) in samples from the engine's words `(start, end, sounds)`:
    the cheapest pairing in order, one to one or a few text words to one espeak word (split
    between them by their letters) or one to a few (their union); None when none pairs all."""
    if not tokens or not words:
        return None
    letters = [max(1, sum(char.isalnum() for char in token)) for token in tokens]
    sounds = [max(1, n) for _start, _end, n in words]
    ratio = sum(letters) / sum(sounds)
    inf = float("inf")
    cost = [[inf] * (len(words) + 1) for _ in range(len(tokens) + 1)]
    step: dict[tuple[int, int], tuple[int, int]] = {}
    cost[0][0] = 0.0
    for i in range(len(tokens) + 1):
        for j in range(len(words) + 1):
            if cost[i][j] == inf:
                continue
            for a, b in _GROUPS:
                if i + a > len(tokens) or j + b > len(words):
                    continue
                share = sum(letters[i : i + a]) / (sum(sounds[j : j + b]) * ratio)
                value = cost[i][j] + abs(float(np.log(share))) + MERGE_COST * (a + b - 2)
                if value < cost[i + a][j + b]:
                    cost[i + a][j + b] = value
                    step[(i + a, j + b)] = (a, b)
    if cost[len(tokens)][len(words)] == inf:
        return None
    groups = []
    i, j = len(tokens), len(words)
    while i or j:
        a, b = step[(i, j)]
        groups.append((i - a, i, j - b, j))
        i, j = i - a, j - b
    spans: list[tuple[float, float]] = []
    for low, high, first, last in reversed(groups):
        start, end = float(words[first][0]), float(words[last - 1][1])
        total = sum(letters[low:high])
        at = start
        for count in letters[low:high]:
            width = (end - start) * count / total
            spans.append((at, at + width))
            at += width
    return spans


def snap(
    spans: list[tuple[float, float]], pcm: bytes, *, sample_rate: int
) -> list[tuple[float, float]]:
    """The engine's spans with each pause the audio has inside its speech (`_pauses`) taken as
    the boundary between the two words around it: the model's durations put a quiet fricative
    or stop's closure inside a word where the audio is already silent. A pause goes to the
    boundary it overlaps within SNAP_MS, and only where the words keep their order."""
    bounds = speech_bounds(pcm)
    if bounds is None or len(spans) < 2:
        return spans
    out = list(spans)
    reach = SNAP_MS * sample_rate / 1000
    for gap_start, gap_end in _pauses(pcm, *bounds, sample_rate):
        for index in range(len(out) - 1):
            (start, end), (next_start, next_end) = out[index], out[index + 1]
            near = gap_start < next_start + reach and gap_end > end - reach
            if near and start < gap_start and gap_end < next_end:
                out[index], out[index + 1] = (start, gap_start), (gap_end, next_end)
                break
    return out


def _pauses(pcm: bytes, first: int, last: int, sample_rate: int) -> list[tuple[int, int]]:
    """Stretches of PAUSE_MS or more below SPEECH_THRESHOLD of the peak (in 10 ms frames)
    between samples `first` and `last`, in samples."""
    audio = np.abs(np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16)[first:last])
    frame = max(1, sample_rate // 100)
    count = len(audio) // frame
    if count == 0:
        return []
    levels = audio[: count * frame].reshape(count, frame).max(axis=1)
    quiet = levels < max(1, int(levels.max()) * SPEECH_THRESHOLD)
    gaps = []
    start: int | None = None
    for index, silent in enumerate([*quiet.tolist(), False]):
        if silent and start is None:
            start = index
        elif not silent and start is not None:
            if (index - start) * 10 >= PAUSE_MS:
                gaps.append((first + start * frame, first + index * frame))
            start = None
    return gaps


class WordClock:
    """One synthesis's (or socket context's) word timings, fed its segments' audio in order:
    `begin` a segment where its audio starts on the clock, `add` its audio, `end` it once it is
    whole (which times its words)."""

    def __init__(self, sample_rate: int) -> None:
        self.rate = sample_rate
        self.timed: list[WordTime] = []
        self._segment: TextSegment | None = None
        self._at = 0  # samples on the clock where the open segment's audio starts
        self._speed = 1.0
        self._pcm = bytearray()
        self._words: list[tuple[int, int, int]] = []  # the engine's, in samples of the segment
        self._reported = False  # some chunk of the open segment came with the engine's words
        self._failed = False  # some chunk's alignment failed (the segment is estimated)
        self.anchor = True  # runs of words between pauses anchored to the audio's pauses
        self.use_alignment = True  # the engine's alignment where it reported one

    @property
    def segment(self) -> TextSegment | None:
        """The segment whose audio is being fed (None between segments)."""
        return self._segment

    def begin(self, segment: TextSegment, *, at: int, speed: float = 1.0) -> None:
        """`segment`'s audio starts at sample `at` of the clock; `speed` is the engine's."""
        self._segment, self._at, self._speed = segment, at, speed
        self._pcm = bytearray()
        self._words, self._reported, self._failed = [], False, False

    def add(self, pcm: bytes, spans: object = NO_SPANS) -> None:
        """The segment's next chunk, with the engine's word spans in it (`[start, end, sounds]`
        in samples of `pcm`) where the engine reported them."""
        if self._segment is None:
            return
        if spans is not NO_SPANS:
            self._reported = True
            offset = len(self._pcm) // 2
            try:
                self._words += [
                    (offset + int(start), offset + int(end), int(n))
                    for start, end, n in spans  # type: ignore[attr-defined]
                ]
            except (TypeError, ValueError):  # None (the engine's alignment failed) or garbage
                self._failed = True
        self._pcm += pcm

    def end(self) -> list[WordTime]:
        """The open segment's audio is whole: its words, timed (and kept)."""
        segment, self._segment = self._segment, None
        if segment is None:
            return []
        tokens = segment.text.split()
        spans = None
        if self.use_alignment and self._reported and not self._failed:
            spans = align(tokens, self._words)
            if spans is not None and self.anchor:
                spans = snap(spans, bytes(self._pcm), sample_rate=self.rate)
        if spans is None:
            spans = estimate(bytes(self._pcm), tokens, sample_rate=self.rate, anchor=self.anchor)
        words = self._timed_words(segment, spans)
        self._pcm = bytearray()
        self.timed.extend(words)
        return words

    def heard(self, played_ms: int) -> str:
        """The input's words heard by `played_ms` (those that ended by then), as written,
        joined by spaces; the open segment's words estimated from their letters."""
        words = [*self.timed, *self._open_words()]
        return " ".join(w.word for w in words if w.end_ms <= played_ms)

    def _open_words(self) -> list[WordTime]:
        """The open segment's words: from the engine's alignment when what arrived covers the
        segment (the worker sends a sentence's spans with its first piece of audio, so one
        sentence's are whole before its audio is), else estimated from its speech so far."""
        segment = self._segment
        if segment is None:
            return []
        tokens = segment.text.split()
        # espeak runs a few words together, never a quarter of them: fewer spans than that are
        # a sentence of a longer segment.
        covered = len(self._words) >= len(tokens) - len(tokens) // 4
        if self.use_alignment and self._reported and not self._failed and covered:
            spans = align(tokens, self._words)
            if spans is not None:
                return self._timed_words(segment, spans)
        bounds = speech_bounds(bytes(self._pcm))
        if bounds is None:
            return []
        per_weight = ESTIMATE_MS_PER_WEIGHT / max(self._speed, 0.25) * self.rate / 1000
        return self._timed_words(segment, spread(tokens, bounds[0], per_weight))

    def _timed_words(
        self, segment: TextSegment, spans: list[tuple[float, float]]
    ) -> list[WordTime]:
        """The segment's input words from its tokens' spans (samples from its start)."""
        out = []
        for word in segment.words:
            if word.last > word.first:
                start, end = spans[word.first][0], spans[word.last - 1][1]
            else:  # said by no token: a point, where the next token starts
                point = (
                    spans[word.first][0]
                    if word.first < len(spans)
                    else spans[-1][1]
                    if spans
                    else 0.0
                )
                start = end = point
            out.append(WordTime(word.text, self._ms(start), self._ms(end)))
        return out

    def _ms(self, sample: float) -> int:
        return int((self._at + sample) * 1000 // self.rate)
