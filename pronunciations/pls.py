"""W3C Pronunciation Lexicon Specification (PLS 1.0) documents, read and written.

    read_pls(document) -> Lexicon of entries (word + alias or IPA), its xml:lang
    write_pls(language, entries) -> the document

Reading is as guarded as the SSML reader (`synthesis.text.ssml.reader`): the size is checked
before parsing; expat runs with a DOCTYPE, ENTITY or NOTATION declaration refused at its first
token (no entity is ever declared or expanded, nothing is fetched), with depth and element
counts limited as each tag arrives. defusedxml is not installed; this is the same hardening by
hand. Every failure is `PlsError` with a code and a message that says where.

What is read: the root `<lexicon>` (PLS namespace, or none) with its `alphabet` (`ipa` or
`x-sampa`, turned into IPA) and `xml:lang`; each `<lexeme>`'s `<grapheme>`s (each becomes an
entry) and its first `<alias>` or `<phoneme>` (PLS: the first is the preferred one; a lexeme
with both is read by the first of them in document order). `<example>`, `<meta>` and
`<metadata>` are skipped. Entries are checked as the API checks them
(`synthesis.text.lexicon.clean_entry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

from synthesis.text.lexicon import Entry, EntryError, clean_entry
from synthesis.text.xsampa import xsampa_to_ipa

PLS_NAMESPACE = "http://www.w3.org/2005/01/pronunciation-lexicon"
MAX_DEPTH = 8
MAX_ELEMENTS_PER_ENTRY = 12  # a lexeme, a grapheme or two, a phoneme, an example...
_SEP = "\x1f"  # expat's namespace separator: "uri\x1flocal"
_XML_LANG = f"http://www.w3.org/XML/1998/namespace{_SEP}lang"
_ALPHABETS = {"ipa": lambda value: value, "x-sampa": xsampa_to_ipa}


class PlsError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ReadLexicon:
    language: str | None
    entries: list[Entry] = field(default_factory=list)


class _Stop(Exception):
    def __init__(self, error: PlsError) -> None:
        self.error = error


@dataclass
class _Lexeme:
    line: int
    graphemes: list[str] = field(default_factory=list)
    reading: tuple[str, str] | None = None  # ("alias" | "phoneme", value)


class _Reader:
    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_elements = 2 + max_entries * MAX_ELEMENTS_PER_ENTRY
        self.parser = expat.ParserCreate(encoding="UTF-8", namespace_separator=_SEP)
        self.stack: list[str] = []
        self.elements = 0
        self.alphabet = "ipa"
        self.phoneme_alphabet: str | None = None
        self.result = ReadLexicon(language=None)
        self.lexeme: _Lexeme | None = None
        self.text: list[str] | None = None  # the text of the grapheme/alias/phoneme being read

    def read(self, document: str | bytes) -> ReadLexicon:
        data = document.encode("utf-8") if isinstance(document, str) else document
        if len(data) > self.max_bytes:
            raise PlsError(
                "pls_too_large", f"The PLS document is larger than {self.max_bytes} bytes."
            )
        parser = self.parser
        parser.buffer_text = True
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        for handler in (
            "StartDoctypeDeclHandler",
            "EntityDeclHandler",
            "UnparsedEntityDeclHandler",
            "NotationDeclHandler",
            "ExternalEntityRefHandler",
        ):
            setattr(parser, handler, self._forbidden)
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._chars
        try:
            parser.Parse(data, True)
        except _Stop as stop:
            raise stop.error from None
        except expat.ExpatError as error:
            raise PlsError(
                "invalid_pls",
                f"Line {error.lineno}, column {error.offset + 1}: {expat.ErrorString(error.code)}.",
            ) from None
        if not self.result.entries:
            raise PlsError("invalid_pls", "The lexicon has no <lexeme> with a reading.")
        return self.result

    def _fail(self, code: str, message: str) -> _Stop:
        where = f"Line {self.parser.CurrentLineNumber}: "
        return _Stop(PlsError(code, where + message))

    def _forbidden(self, *_args: object) -> None:
        raise self._fail(
            "pls_dtd_forbidden", "DOCTYPE, ENTITY and NOTATION declarations are not accepted."
        )

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        uri, _, local = name.rpartition(_SEP)
        self.elements += 1
        if self.elements > self.max_elements or len(self.stack) >= MAX_DEPTH:
            raise self._fail("pls_too_large", "The document has too many or too deep elements.")
        if not self.stack:
            self._root(uri, local, attributes)
        elif uri not in ("", PLS_NAMESPACE) or len(self.stack) > 2:
            pass  # foreign markup and what lies inside <example>/<meta>: skipped
        elif local == "lexeme" and len(self.stack) == 1:
            self.lexeme = _Lexeme(line=self.parser.CurrentLineNumber)
        elif local in ("grapheme", "alias", "phoneme") and self.stack[-1].endswith("lexeme"):
            self.text = []
            if local == "phoneme":
                self.phoneme_alphabet = attributes.get("alphabet", self.alphabet).lower()
        self.stack.append(name)

    def _root(self, uri: str, local: str, attributes: dict[str, str]) -> None:
        if local != "lexicon" or uri not in ("", PLS_NAMESPACE):
            raise self._fail("invalid_pls", "The root element must be a PLS <lexicon>.")
        self.alphabet = attributes.get("alphabet", "ipa").lower()
        self.result.language = attributes.get(_XML_LANG) or attributes.get("xml:lang")

    def _chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def _end(self, name: str) -> None:
        self.stack.pop()
        local = name.rpartition(_SEP)[2]
        lexeme = self.lexeme
        if lexeme is None:
            return
        if local == "lexeme" and len(self.stack) == 1:
            self._add(lexeme)
            self.lexeme = None
        elif self.text is not None and local in ("grapheme", "alias", "phoneme"):
            value = "".join(self.text).strip()
            self.text = None
            if local == "grapheme":
                lexeme.graphemes.append(value)
            elif lexeme.reading is None:
                lexeme.reading = (local, self._ipa(value) if local == "phoneme" else value)

    def _ipa(self, value: str) -> str:
        alphabet = self.phoneme_alphabet or self.alphabet
        convert = _ALPHABETS.get(alphabet)
        if convert is None:
            raise self._fail("unsupported_alphabet", f"Alphabet {alphabet!r}: use ipa or x-sampa.")
        return convert(value)

    def _add(self, lexeme: _Lexeme) -> None:
        if not lexeme.graphemes or lexeme.reading is None:
            raise _Stop(
                PlsError(
                    "invalid_pls",
                    f"Line {lexeme.line}: a <lexeme> needs a <grapheme> and an <alias> or "
                    "<phoneme>.",
                )
            )
        kind, value = lexeme.reading
        for grapheme in lexeme.graphemes:
            if len(self.result.entries) >= self.max_entries:
                raise _Stop(
                    PlsError(
                        "too_many_entries",
                        f"The lexicon has more than {self.max_entries} entries, the most a "
                        "dictionary of your plan holds.",
                    )
                )
            try:
                entry = clean_entry(
                    grapheme,
                    value if kind == "alias" else None,
                    value if kind == "phoneme" else None,
                )
            except EntryError as error:
                raise _Stop(
                    PlsError("invalid_pls", f"Line {lexeme.line}: {error.message}")
                ) from None
            self.result.entries.append(entry)


def read_pls(document: str | bytes, *, max_bytes: int, max_entries: int) -> ReadLexicon:
    """The entries of a PLS document, checked; PlsError (code, message) otherwise."""
    return _Reader(max_bytes, max_entries).read(document)


def write_pls(language: str, entries: list[Entry]) -> str:
    """A PLS 1.0 document of `entries` (IPA phonemes), which `read_pls` reads back as they are."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<lexicon version="1.0" xmlns="{PLS_NAMESPACE}" alphabet="ipa" '
        f"xml:lang={quoteattr(language)}>",
    ]
    for entry in entries:
        reading = (
            f"<alias>{escape(entry.alias)}</alias>"
            if entry.alias is not None
            else f"<phoneme>{escape(entry.phonemes or '')}</phoneme>"
        )
        lines.append(f"  <lexeme><grapheme>{escape(entry.word)}</grapheme>{reading}</lexeme>")
    lines.append("</lexicon>")
    return "\n".join(lines) + "\n"
