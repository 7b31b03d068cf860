"""Plain text → segments. The first segment is kept short so the first audio comes early."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n{2,}")
_FIRST_BREAK = re.compile(r"[,;:\u2014]\s+")
FIRST_SEGMENT_CHARS = 80
# Piper's memory peaks with sentence length (a 50-word sentence needs ~870 MB for a moment) and
# XTTS re-decodes a whole sentence per chunk: long sentences are cut, at a comma if there is one.
MAX_SEGMENT_CHARS = 200
_SOFT_BREAK = re.compile(r"[,;:\u2014]\s")


@dataclass(frozen=True)
class TextPiece:
    """A piece of the input: `text` to speak and `chars`, the input characters it accounts for
    (its slice of the input, trailing whitespace included), for billing partial deliveries."""

    text: str
    chars: int
    pause_after_ms: int = 0


def split_text(text: str) -> list[TextPiece]:
    pieces: list[TextPiece] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        pieces.extend(_pieces(text[start : match.end()]))
        start = match.end()
    pieces.extend(_pieces(text[start:]))
    if pieces:
        pieces[:1] = _short_first(pieces[0])
    return _absorb_blank(pieces)


def _pieces(span: str) -> list[TextPiece]:
    """A sentence, cut at whitespace into pieces of at most MAX_SEGMENT_CHARS."""
    out: list[TextPiece] = []
    while len(span) > MAX_SEGMENT_CHARS:
        breaks = [m.end() for m in _SOFT_BREAK.finditer(span, 60, MAX_SEGMENT_CHARS)]
        cut = breaks[-1] if breaks else span.rfind(" ", 0, MAX_SEGMENT_CHARS) + 1
        cut = cut or MAX_SEGMENT_CHARS
        out.append(TextPiece(span[:cut].strip(), cut))
        span = span[cut:]
    out.append(TextPiece(span.strip(), len(span)))
    return out


def _short_first(piece: TextPiece) -> list[TextPiece]:
    if len(piece.text) <= FIRST_SEGMENT_CHARS:
        return [piece]
    match = _FIRST_BREAK.search(piece.text, 20, FIRST_SEGMENT_CHARS)
    if match is None:
        return [piece]
    head = piece.text[: match.end()]
    return [
        TextPiece(head.strip(), len(head)),
        TextPiece(piece.text[match.end() :].strip(), piece.chars - len(head)),
    ]


def _absorb_blank(pieces: list[TextPiece]) -> list[TextPiece]:
    """Whitespace-only pieces are never spoken; their characters go to the piece before."""
    out: list[TextPiece] = []
    carry = 0
    for piece in pieces:
        if piece.text:
            out.append(TextPiece(piece.text, piece.chars + carry, piece.pause_after_ms))
            carry = 0
        elif out:
            last = out[-1]
            out[-1] = TextPiece(last.text, last.chars + piece.chars, last.pause_after_ms)
        else:
            carry += piece.chars
    return out
