"""The SSML reader: a document → `ParsedSsml`, on expat.

    parse_ssml(document, lenient=False, limits=DEFAULT_LIMITS, max_characters=None)
        -> ParsedSsml

Safety comes first: the size limit (`Limits.max_bytes`, lower for a small `max_characters`)
is checked before any parsing; the parser is expat without namespace processing, and a
DOCTYPE, ENTITY or NOTATION declaration stops it with `ssml_dtd_forbidden` at its first token,
before anything is declared or expanded (so billion laughs and XXE cost microseconds). Only the
five predefined entities and character references exist. Depth and element count are limited
here, as each start tag arrives; break lengths, marks, `<audio>` elements, aliases and phonemes
by the elements themselves, billed characters (`max_characters`) as each span is emitted. Every
limit raises `SsmlError` with its own code and a message naming the limit (`InputTooLong` for
`max_characters`), and malformed XML raises `invalid_ssml` with its line and column.

The reader keeps the stack of open elements, each with the namespaces declared so far; what an
element means is `elements`' business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn
from xml.parsers import expat

from synthesis.text.model import Item, Span

from .document import Document, Frame
from .elements import close_element, open_element
from .errors import (
    BYTES_PER_CHARACTER,
    DEFAULT_LIMITS,
    MARKUP_BYTES,
    Limits,
    SsmlError,
    Stop,
    refuse,
    ssml_max_bytes,
)
from .values import BREAK_STRENGTH_MS
from .vocabulary import XML_NAMESPACE

_LOOKS_LIKE = re.compile(r"\ufeff?[ \t\r\n]*(?:<\?xml[^>]*\?>[ \t\r\n]*)?<speak[ \t\r\n/>]")


@dataclass(frozen=True)
class ParsedSsml:
    items: list[Item]
    characters: int  # billed: sum(span.billed for span in spans)
    language: str | None  # xml:lang of <speak>
    warnings: list[str] = field(default_factory=list)


def looks_like_ssml(text: str) -> bool:
    """True when `text`, after leading whitespace (and an optional BOM and XML declaration),
    starts with a `<speak` tag. Plain text with `<` or `&` elsewhere is plain text."""
    return _LOOKS_LIKE.match(text.lstrip(" \t\r\n")) is not None


def parse_ssml(
    document: str,
    *,
    lenient: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    max_characters: int | None = None,
) -> ParsedSsml:
    """Raises SsmlError, or InputTooLong when the document bills more than `max_characters`
    (checked as each span is read; the size limit then follows it: `ssml_max_bytes`)."""
    return _Reader(document, lenient, limits, BREAK_STRENGTH_MS, max_characters).read()


class _Reader:
    def __init__(
        self,
        source: str,
        lenient: bool,
        limits: Limits,
        strengths: Mapping[str, int],
        max_characters: int | None = None,
    ) -> None:
        self.source = source
        self.limits = limits
        self.max_bytes = (
            limits.max_bytes if max_characters is None else ssml_max_bytes(max_characters, limits)
        )
        self.max_characters = max_characters
        self.document = Document(lenient, limits, strengths, max_characters)
        self.frames: list[Frame] = []
        self.elements = 0
        self.parser = expat.ParserCreate(encoding="UTF-8")

    # -- entry --------------------------------------------------------------------------------

    def read(self) -> ParsedSsml:
        data = self._encoded()
        parser = self.parser
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        parser.StartDoctypeDeclHandler = self._on_dtd
        parser.EntityDeclHandler = self._on_dtd
        parser.UnparsedEntityDeclHandler = self._on_dtd
        parser.NotationDeclHandler = self._on_dtd
        parser.ExternalEntityRefHandler = self._on_dtd
        parser.StartElementHandler = self._on_start
        parser.EndElementHandler = self._on_end
        parser.CharacterDataHandler = self._on_text
        try:
            parser.Parse(data, True)
        except Stop as stop:
            raise stop.error from None
        except expat.ExpatError as error:
            raise self._malformed(error) from None
        document = self.document
        characters = sum(item.billed for item in document.items if isinstance(item, Span))
        return ParsedSsml(
            items=document.items,
            characters=characters,
            language=document.language,
            warnings=document.warnings,
        )

    def _encoded(self) -> bytes:
        """The document as UTF-8 (BOM removed), once its size is known to be within the limit:
        a character is at least one byte, so a long string is refused before it is encoded."""
        limit = self.max_bytes
        named = "max_bytes"
        if limit < self.limits.max_bytes:
            named = (
                f"{BYTES_PER_CHARACTER} bytes for each of the {self.max_characters} characters "
                f"allowed, plus {MARKUP_BYTES}"
            )
        too_large = SsmlError(
            "ssml_too_large", f"The document is larger than the limit of {limit} bytes ({named})."
        )
        if len(self.source) > limit:
            raise too_large
        try:
            data = self.source.removeprefix("\ufeff").encode("utf-8")
        except UnicodeEncodeError as error:
            raise SsmlError(
                "invalid_ssml", f"The document is not valid Unicode: {error.reason}."
            ) from None
        if len(data) > limit:
            raise too_large
        return data

    def _malformed(self, error: expat.ExpatError) -> SsmlError:
        line, column = error.lineno, error.offset + 1
        reason = expat.ErrorString(error.code)
        stripped = self.source.lstrip("\ufeff \t\r\n")
        if not self.frames and self.elements == 0 and not stripped.startswith("<"):
            problem = "text outside the root element: an SSML document starts with <speak>."
        elif reason == "junk after document element":
            problem = "text or markup after the closing </speak>."
        elif reason == "undefined entity":
            problem = (
                "undefined entity: only &amp; &lt; &gt; &quot; &apos; and character references "
                "(&#233;) exist in SSML; write a literal & as &amp;."
            )
        elif reason == "not well-formed (invalid token)" and "&" in self.source:
            problem = "not well-formed XML (invalid token; a literal & must be written &amp;)."
        elif reason == "no element found":
            problem = "the document ends before its root element is closed."
        else:
            problem = f"not well-formed XML ({reason})."
        return SsmlError("invalid_ssml", problem, line, column)

    # -- expat handlers -----------------------------------------------------------------------

    def _position(self) -> tuple[int, int]:
        return self.parser.CurrentLineNumber, self.parser.CurrentColumnNumber + 1

    def _on_dtd(self, *_: object) -> NoReturn:
        line, column = self._position()
        refuse(
            "ssml_dtd_forbidden",
            "a DOCTYPE or entity declaration is not allowed in SSML (nothing was expanded).",
            line,
            column,
        )

    def _on_text(self, data: str) -> None:
        if self.frames:
            self.document.add_text(self.frames[-1], data)

    def _flush(self) -> None:
        if self.frames:
            self.document.flush(self.frames[-1])

    def _on_start(self, tag: str, attributes: dict[str, str]) -> None:
        line, column = self._position()
        self._flush()
        self.elements += 1
        if self.elements > self.limits.max_elements:
            refuse(
                "ssml_too_many_elements",
                f"more than {self.limits.max_elements} elements (max_elements).",
                line,
                column,
            )
        if len(self.frames) + 1 > self.limits.max_depth:
            refuse(
                "ssml_too_deep",
                f"elements are nested deeper than {self.limits.max_depth} levels (max_depth).",
                line,
                column,
            )
        parent = self.frames[-1] if self.frames else None
        namespaces = parent.namespaces if parent else {"xml": XML_NAMESPACE}
        declared = {k: v for k, v in attributes.items() if k == "xmlns" or k[:6] == "xmlns:"}
        if declared:
            namespaces = dict(namespaces)
            for key, uri in declared.items():
                namespaces[key[6:] if key != "xmlns" else ""] = uri
        attributes = {k: v for k, v in attributes.items() if k not in declared}
        frame = Frame(tag, line, column, namespaces)
        open_element(self.document, frame, parent, tag, attributes)
        self.frames.append(frame)

    def _on_end(self, tag: str) -> None:
        self._flush()
        close_element(self.document, self.frames.pop())
