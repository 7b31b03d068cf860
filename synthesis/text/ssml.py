"""A small, safe SSML reader: text and <break>. No DTDs or entities (no expansion, no fetching),
size and depth limits. The text front-end issue replaces it with full SSML support."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from synthesis.text.split import TextPiece, split_text

MAX_SSML_BYTES = 50_000
MAX_DEPTH = 16
_BREAK_STRENGTH_MS = {
    "none": 0,
    "x-weak": 100,
    "weak": 200,
    "medium": 400,
    "strong": 700,
    "x-strong": 1200,
}
_TIME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*$")


class SsmlError(ValueError):
    pass


@dataclass(frozen=True)
class SsmlText:
    pieces: list[TextPiece]
    characters: int  # of the text content, tags excluded (what is billed)


def read_ssml(ssml: str) -> SsmlText:
    if len(ssml.encode()) > MAX_SSML_BYTES:
        raise SsmlError(f"SSML is larger than {MAX_SSML_BYTES} bytes.")
    if re.search(r"<!\s*(DOCTYPE|ENTITY)", ssml, re.IGNORECASE):
        raise SsmlError("SSML must not contain a DOCTYPE or entity declarations.")
    try:
        root = ET.fromstring(ssml)  # noqa: S314  (no DTD can reach the parser)
    except ET.ParseError as error:
        raise SsmlError(f"SSML is not well-formed XML: {error}.") from None
    if _local(root.tag) != "speak":
        raise SsmlError("The SSML root element must be <speak>.")
    pieces: list[TextPiece] = []
    _walk(root, pieces, depth=0)
    # Billed: the text content with tags removed and runs of whitespace counted once.
    characters = len(" ".join("".join(root.itertext()).split()))
    return SsmlText(pieces=pieces, characters=characters)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _walk(element: ET.Element, pieces: list[TextPiece], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SsmlError(f"SSML is nested deeper than {MAX_DEPTH} levels.")
    _add_text(element.text, pieces)
    for child in element:
        if _local(child.tag) == "break":
            _add_pause(pieces, _break_ms(child))
        else:
            _walk(child, pieces, depth + 1)
        _add_text(child.tail, pieces)


def _add_text(text: str | None, pieces: list[TextPiece]) -> None:
    if text:
        pieces.extend(split_text(text))


def _add_pause(pieces: list[TextPiece], milliseconds: int) -> None:
    if pieces:
        last = pieces[-1]
        pieces[-1] = TextPiece(last.text, last.chars, last.pause_after_ms + milliseconds)


def _break_ms(element: ET.Element) -> int:
    time_attr = element.get("time")
    if time_attr is not None:
        match = _TIME.match(time_attr)
        if match is None:
            raise SsmlError(f"<break time={time_attr!r}>: use e.g. '500ms' or '1.5s'.")
        value = float(match.group(1)) * (1000 if match.group(2) == "s" else 1)
        return int(min(value, 10_000))
    strength = element.get("strength", "medium")
    if strength not in _BREAK_STRENGTH_MS:
        raise SsmlError(f"<break strength={strength!r}> is not an SSML strength.")
    return _BREAK_STRENGTH_MS[strength]
