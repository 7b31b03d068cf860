"""What makes the reader refuse a document: `SsmlError`, with its code and position, and the
`Limits` a document must keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn


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


DEFAULT_LIMITS = Limits()


class Stop(Exception):
    """Raised inside expat handlers; carries the SsmlError out of the parser."""

    def __init__(self, error: SsmlError) -> None:
        self.error = error


def refuse(code: str, problem: str, line: int, column: int) -> NoReturn:
    """Stop reading: `SsmlError(code, problem)` at `line`, `column`."""
    raise Stop(SsmlError(code, problem, line, column))
