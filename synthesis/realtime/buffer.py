"""Text streamed by an LLM, token by token, into speakable units.

A unit is complete at a sentence end that is followed by whitespace and by the start of the
next sentence (`sentence_ends`: abbreviations and initials aside), at `!`, `?` or `…` followed
by whitespace, or at a blank line. A `.` at the very end of the buffer is never an end yet: it
may be "Dr." or the "3." of "3.5". Until the first unit is out, a clause break (`, ; : —`
followed by whitespace) after a few words completes one too, so the first audio comes before
the LLM finishes its sentence. A buffer longer than `max_chars` with no end is cut at a clause
break or a space within the limit (hard at the limit only for a word longer than it).

Units are stripped and never blank; their words, in order, are the words of the input.
"""

from __future__ import annotations

import re

from synthesis.text.split import sentence_ends

# A blank line ends a unit at once, even at the very end of the buffer (`sentence_ends` only
# reports ends that have text after them).
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_CLAUSE_BREAK = re.compile(r"[,;:\u2014]+(?=\s)")
_SPACE = re.compile(r"\s")


class TextBuffer:
    """Buffers streamed text and hands back the units it completes, in order."""

    def __init__(self, *, max_chars: int = 200, first_clause_words: int = 3) -> None:
        if max_chars < 1:
            raise ValueError("max_chars must be at least 1")
        self.max_chars = max_chars
        self.first_clause_words = first_clause_words
        self._buffer = ""
        self._emitted_any = False

    @property
    def pending(self) -> str:
        """What is buffered and not yet emitted (leading whitespace dropped)."""
        return self._buffer

    @property
    def emitted_any(self) -> bool:
        return self._emitted_any

    def add(self, text: str) -> list[str]:
        """Appends `text` as it came (token edges keep their whitespace: "Hel" + "lo" is
        "Hello"); returns the units it completed, in order, possibly none."""
        self._buffer = (self._buffer + text).lstrip()
        units: list[str] = []
        while True:
            cut = self._next_cut()
            if cut is None:
                break
            unit = self._buffer[:cut].strip()
            self._buffer = self._buffer[cut:].lstrip()
            if unit:
                units.append(unit)
                self._emitted_any = True
        return units

    def flush(self) -> list[str]:
        """Everything buffered as one unit (or none when only whitespace is buffered); the
        buffer is empty afterwards. `add` keeps the buffer within `max_chars` (trailing whitespace
        aside), so the unit is too.
        """
        unit = self._buffer.strip()
        self._buffer = ""
        if not unit:
            return []
        self._emitted_any = True
        return [unit]

    def _next_cut(self) -> int | None:
        """Where the next unit ends in the buffer, or None while no unit is complete."""
        buffer = self._buffer
        cut = self._first_end(buffer)
        if cut is not None and len(buffer[:cut].strip()) <= self.max_chars:
            return cut
        # Trailing whitespace does not count: it may yet be followed by the next sentence.
        if len(buffer.rstrip()) > self.max_chars:
            return self._long_cut(buffer)
        return None

    def _first_end(self, buffer: str) -> int | None:
        """The first end within reach of `max_chars` (a unit ending further on is too long
        anyway), so a big message costs time in proportion to its length, not its square."""
        buffer = buffer[: self._reach(buffer)]
        ends = [c for c in sentence_ends(buffer) if buffer[:c].strip()]
        ends.extend(m.start() for m in _BLANK_LINE.finditer(buffer) if buffer[: m.start()].strip())
        if not self._emitted_any:
            ends.extend(
                m.end()
                for m in _CLAUSE_BREAK.finditer(buffer)
                if len(buffer[: m.end()].split()) >= self.first_clause_words
            )
        return min(ends) if ends else None

    def _reach(self, buffer: str) -> int:
        """How much of the buffer decides the ends of units within `max_chars`: up to the limit,
        the whitespace run there and two characters more (an opening quote and a capital)."""
        end = self.max_chars + 1
        while end < len(buffer) and buffer[end].isspace():
            end += 1
        return end + 2

    def _long_cut(self, buffer: str) -> int:
        """A cut within `max_chars` of a buffer longer than that: the last clause break that
        leaves a unit of at least a third of the limit (a lone "So," is no unit of its own),
        else the last whitespace, else hard at the limit (a word longer than the limit)."""
        limit = self.max_chars
        floor = limit // 3
        clauses = [
            m.end()
            for m in _CLAUSE_BREAK.finditer(buffer, 0, limit + 1)
            if floor <= m.end() <= limit
        ]
        if clauses:
            return clauses[-1]
        spaces = [m.start() for m in _SPACE.finditer(buffer, 1, limit + 1)]
        if spaces:
            return spaces[-1]
        return limit
