"""What makes the reader refuse a document: `SsmlError`, with its code and position, and the
`Limits` a document must keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from synthesis.text.model import InputTooLong


class SsmlError(ValueError):
    """A document the reader refuses. `code` says why (see docs/ssml.md), `line` and `column`
    (1-based) where, and `message` says it in words, position first."""

    def __init__(
        self, code: str, problem: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.code = code
        self.line = line
        self.column = column
        self.problem = problem
        self.message = problem if line is None else f"Line {line}, column {column}: {problem}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Limits:
    """What one document may contain. Exceeding any of them raises `SsmlError` with the code
    named here, in strict and lenient mode alike."""

    max_bytes: int = 50_000  # UTF-8 size of the document; ssml_too_large (checked first)
    max_depth: int = 32  # element nesting, <speak> is 1; ssml_too_deep
    max_elements: int = 2_000  # elements in the document; ssml_too_many_elements
    max_break_ms: int = 10_000  # one <break>; ssml_break_too_long
    max_total_break_ms: int = 120_000  # all <break>s together; ssml_breaks_too_long
    max_marks: int = 500  # <mark>s; ssml_too_many_marks
    max_audio: int = 5  # <audio> elements; ssml_too_many_audio
    # What is spoken but not written as text is billed too (see `Document.add_span`); these
    # keep one attribute from speaking a paragraph.
    max_alias_chars: int = 300  # <sub alias>, whitespace collapsed; ssml_alias_too_long
    max_phonemes: int = 300  # <phoneme ph>, symbols (code points); ssml_phonemes_too_long


DEFAULT_LIMITS = Limits()

# With a character limit (`parse_ssml(max_characters=...)`) the size limit follows it: markup
# may take BYTES_PER_CHARACTER bytes per character the document may bill (a CJK character is
# 3 bytes of UTF-8, a word wrapped in <prosody> about 5 per character) plus MARKUP_BYTES for
# the document's frame, never more than `Limits.max_bytes`.
BYTES_PER_CHARACTER = 16
MARKUP_BYTES = 8_192


def ssml_max_bytes(max_characters: int, limits: Limits = DEFAULT_LIMITS) -> int:
    """The largest document, in UTF-8 bytes, for a caller that bills at most `max_characters`."""
    return min(limits.max_bytes, BYTES_PER_CHARACTER * max_characters + MARKUP_BYTES)


class Stop(Exception):
    """Raised inside expat handlers; carries the SsmlError (or InputTooLong) out of the
    parser."""

    def __init__(self, error: SsmlError | InputTooLong) -> None:
        self.error = error


def refuse(code: str, problem: str, line: int, column: int) -> NoReturn:
    """Stop reading: `SsmlError(code, problem)` at `line`, `column`."""
    raise Stop(SsmlError(code, problem, line, column))
