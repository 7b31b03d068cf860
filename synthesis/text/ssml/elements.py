"""A safe SSML 1.1 reader: document → `Item`s (see `synthesis.text.model`).

    parse_ssml(document, lenient=False, limits=DEFAULT_LIMITS) -> ParsedSsml

Safety comes first: the size limit is checked before any parsing; the parser is expat without
namespace processing, and a DOCTYPE, ENTITY or NOTATION declaration stops it with
`ssml_dtd_forbidden` at its first token, before anything is declared or expanded (so billion
laughs and XXE cost microseconds). Only the five predefined entities and character references
exist. Depth, element count, break lengths, marks and `<audio>` elements are limited while
parsing; every limit raises `SsmlError` with its own code and a message naming the limit.

Strict mode (the default) rejects anything it cannot honour: unknown elements and attributes,
unparseable or out-of-range values, elements in the wrong place, and vendor extensions
(`amazon:*`, `alexa:*`, `google:*`, `mstts:*`, `<par>`, `<seq>`, `<media>`: `ssml_unsupported`).
Lenient mode drops unknown and vendor elements (their text is still spoken) and ignores invalid
attributes, with a warning for each; malformed XML and the limits still raise.
The tenant-facing reference is docs/ssml.md. Pure Python, standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, NoReturn
from xml.parsers import expat

from synthesis.text.model import NEUTRAL, Boundary, Break, Item, Mark, Prosody, SayAs, Span
from synthesis.text.normalize import DATE_FORMATS, SAY_AS_TYPES  # one list for both

SSML_NAMESPACE = "http://www.w3.org/2001/10/synthesis"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"

TIME_FORMATS = frozenset({"hms12", "hms24"})
ALPHABETS = frozenset({"ipa", "x-sampa"})
EMPHASIS_LEVELS = frozenset({"strong", "moderate", "reduced", "none"})

# Pause per <break strength>, as Amazon Polly documents them: none and x-weak make no pause,
# weak and medium a comma-length pause, strong a sentence pause, x-strong a paragraph pause.
BREAK_STRENGTH_MS: Mapping[str, int] = {
    "none": 0,
    "x-weak": 0,
    "weak": 400,
    "medium": 400,
    "strong": 700,
    "x-strong": 1200,
}

# Prosody. Keywords are absolute (they replace what an enclosing <prosody> set); percentages and
# signed changes are relative and compose: rates multiply, semitones and decibels add.
RATE_KEYWORDS: Mapping[str, float] = {
    "x-slow": 0.5,
    "slow": 0.75,
    "medium": 1.0,
    "fast": 1.25,
    "x-fast": 1.5,
    "default": 1.0,
}
PITCH_KEYWORDS_ST: Mapping[str, float] = {
    "x-low": -6.0,
    "low": -3.0,
    "medium": 0.0,
    "high": 3.0,
    "x-high": 6.0,
    "default": 0.0,
}
VOLUME_KEYWORDS_DB: Mapping[str, float] = {
    "x-soft": -12.0,
    "soft": -6.0,
    "medium": 0.0,
    "loud": 6.0,
    "x-loud": 12.0,
    "default": 0.0,
}
RATE_RANGE = (0.1, 4.0)  # 10 % .. 400 % of the voice's rate
PITCH_RANGE_ST = (12 * math.log2(2 / 3), 12 * math.log2(1.5))  # -33.3 % .. +50 %, ±7.02 st
VOLUME_RANGE_DB = (-40.0, 20.0)
NOMINAL_PITCH_HZ = 150.0  # what "Hz" values are measured against

VENDOR_PREFIXES = frozenset({"amazon", "alexa", "google", "mstts"})
VENDOR_ELEMENTS = frozenset({"par", "seq", "media"})

_NUM = r"(\d{1,9}(?:\.\d{0,9})?|\.\d{1,9})"
_TIME = re.compile(rf"\+?{_NUM}(ms|s)")
_RATE = re.compile(rf"([+-]?){_NUM}%")
_PITCH_PCT = re.compile(rf"([+-]){_NUM}%")
_PITCH_ST = re.compile(rf"([+-]?){_NUM}st")
_PITCH_HZ = re.compile(rf"([+-]?){_NUM}Hz")
_VOLUME_DB = re.compile(rf"([+-]?){_NUM}dB")
_VOLUME_PCT = re.compile(rf"([+-]?){_NUM}%")
_CONTOUR = re.compile(r"\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)")
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|\d{3}))?")
_QNAME = re.compile(r"(?:([A-Za-z_][\w.-]*):)?[A-Za-z_][\w.-]*")
_DETAIL = re.compile(r"[A-Za-z0-9][\w.-]{0,31}")
_TELEPHONE_FORMAT = re.compile(r"\d{1,3}")
_XML_SPACE = re.compile(r"[ \t\r\n]+")
_LOOKS_LIKE = re.compile(r"\ufeff?[ \t\r\n]*(?:<\?xml[^>]*\?>[ \t\r\n]*)?<speak[ \t\r\n/>]")

MAX_MARK_NAME = 256


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
    document: str, *, lenient: bool = False, limits: Limits = DEFAULT_LIMITS
) -> ParsedSsml:
    return _Reader(document, lenient, limits, BREAK_STRENGTH_MS).read()


# --------------------------------------------------------------------------------------------
# The reader.


class _BadValue(Exception):
    pass


class _Stop(Exception):
    """Raised inside expat handlers; carries the SsmlError out of the parser."""

    def __init__(self, error: SsmlError) -> None:
        self.error = error


FrameMode = Literal["normal", "skip", "capture"]


@dataclass
class _Frame:
    name: str  # the SSML element, or "" for a dropped (lenient) or foreign element
    line: int
    column: int
    namespaces: dict[str, str]
    language: str | None = None
    prosody: Prosody = NEUTRAL
    voice: str | None = None
    emphasis: str | None = None
    mode: FrameMode = "normal"
    validate: bool = True  # False inside <metadata> and <desc>: content is not SSML
    owner: _Frame | None = None  # the <say-as>/<phoneme>/<sub alias> whose text this is
    in_p: bool = False
    in_s: bool = False
    text_only: bool = False  # <say-as>, <phoneme>: no child elements
    buffer: list[str] = field(default_factory=list)
    say_as: SayAs | None = None
    phonemes: str | None = None
    alphabet: str | None = None
    alias: str | None = None


# Attributes each SSML element takes (besides xmlns declarations and xml:id, which any takes).
_ATTRIBUTES: dict[str, frozenset[str]] = {
    "speak": frozenset({"version", "xml:lang", "xml:base", "onlangfailure", "xsi:schemaLocation"}),
    "p": frozenset({"xml:lang"}),
    "s": frozenset({"xml:lang"}),
    "break": frozenset({"time", "strength"}),
    "prosody": frozenset({"rate", "pitch", "volume", "duration", "contour", "range"}),
    "emphasis": frozenset({"level"}),
    "say-as": frozenset({"interpret-as", "format", "detail"}),
    "sub": frozenset({"alias"}),
    "phoneme": frozenset({"alphabet", "ph"}),
    "lang": frozenset({"xml:lang", "onlangfailure"}),
    "voice": frozenset(
        {
            "name",
            "gender",
            "age",
            "variant",
            "languages",
            "language",
            "xml:lang",
            "required",
            "ordering",
            "onvoicefailure",
        }
    ),
    "mark": frozenset({"name"}),
    "audio": frozenset(
        {
            "src",
            "fetchtimeout",
            "fetchhint",
            "maxage",
            "maxstale",
            "clipBegin",
            "clipEnd",
            "repeatCount",
            "repeatDur",
            "soundLevel",
            "speed",
        }
    ),
    "desc": frozenset({"xml:lang"}),
    "token": frozenset({"role", "xml:lang"}),
    "w": frozenset({"role", "xml:lang"}),
    "meta": frozenset({"name", "http-equiv", "content"}),
    "metadata": frozenset(),
    "lexicon": frozenset({"uri", "type", "fetchtimeout", "fetchhint", "maxage", "maxstale"}),
    "lookup": frozenset({"ref"}),
}
_PROSODY_ATTRIBUTES = _ATTRIBUTES["prosody"]
_HEAD_ELEMENTS = frozenset({"meta", "metadata", "lexicon"})
_LANG_FAILURE = frozenset({"changevoice", "ignoretext", "ignorelang", "processorchoice"})
_VOICE_FAILURE = frozenset({"priorityselect", "keepexisting", "processorchoice"})
_VOICE_FEATURES = frozenset({"name", "languages", "language", "gender", "age", "variant"})


class _Reader:
    def __init__(
        self, document: str, lenient: bool, limits: Limits, strengths: Mapping[str, int]
    ) -> None:
        self.document = document
        self.lenient = lenient
        self.limits = limits
        self.strengths = strengths
        self.items: list[Item] = []
        self.warnings: list[str] = []
        self.frames: list[_Frame] = []
        self.text: list[str] = []
        self.elements = 0
        self.marks = 0
        self.audio = 0
        self.break_ms = 0
        self.language: str | None = None
        self.had_text = False  # a span with text was emitted
        self.ended_space = False  # ... and it ended with whitespace
        self.pending_space = False  # whitespace-only text since then
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
        except _Stop as stop:
            raise stop.error from None
        except expat.ExpatError as error:
            raise self._malformed(error) from None
        characters = sum(item.billed for item in self.items if isinstance(item, Span))
        return ParsedSsml(
            items=self.items,
            characters=characters,
            language=self.language,
            warnings=self.warnings,
        )

    def _encoded(self) -> bytes:
        """The document as UTF-8 (BOM removed), once its size is known to be within the limit:
        a character is at least one byte, so a long string is refused before it is encoded."""
        limit = self.limits.max_bytes
        too_large = SsmlError(
            "ssml_too_large", f"The document is larger than the limit of {limit} bytes (max_bytes)."
        )
        if len(self.document) > limit:
            raise too_large
        try:
            data = self.document.removeprefix("\ufeff").encode("utf-8")
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
        stripped = self.document.lstrip("\ufeff \t\r\n")
        if not self.frames and self.elements == 0 and not stripped.startswith("<"):
            problem = "text outside the root element: an SSML document starts with <speak>."
        elif reason == "junk after document element":
            problem = "text or markup after the closing </speak>."
        elif reason == "undefined entity":
            problem = (
                "undefined entity: only &amp; &lt; &gt; &quot; &apos; and character references "
                "(&#233;) exist in SSML; write a literal & as &amp;."
            )
        elif reason == "not well-formed (invalid token)" and "&" in self.document:
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
        raise _Stop(
            SsmlError(
                "ssml_dtd_forbidden",
                "a DOCTYPE or entity declaration is not allowed in SSML (nothing was expanded).",
                line,
                column,
            )
        )

    def _on_text(self, data: str) -> None:
        if not self.frames:
            return
        frame = self.frames[-1]
        if frame.mode == "skip":
            return
        if frame.owner is not None:
            frame.owner.buffer.append(data)
        else:
            self.text.append(data)

    def _on_start(self, tag: str, attributes: dict[str, str]) -> None:
        line, column = self._position()
        self._flush()
        self.elements += 1
        if self.elements > self.limits.max_elements:
            self._limit(
                "ssml_too_many_elements",
                f"more than {self.limits.max_elements} elements (max_elements).",
                line,
                column,
            )
        if len(self.frames) + 1 > self.limits.max_depth:
            self._limit(
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
        frame = _Frame(tag, line, column, namespaces)
        if parent is not None:
            self._inherit(frame, parent)
            if not parent.validate:
                self.frames.append(frame)
                return
        _Element(self, frame, parent, tag, attributes).open()
        self.frames.append(frame)

    def _on_end(self, tag: str) -> None:
        self._flush()
        frame = self.frames.pop()
        if frame.owner is frame:
            self._close_owner(frame)
        elif frame.name in ("s", "p") and frame.mode == "normal":
            self._emit(Boundary("s" if frame.name == "s" else "p"), frame)

    @staticmethod
    def _inherit(frame: _Frame, parent: _Frame) -> None:
        frame.language = parent.language
        frame.prosody = parent.prosody
        frame.voice = parent.voice
        frame.emphasis = parent.emphasis
        frame.owner = parent.owner
        frame.in_p = parent.in_p
        frame.in_s = parent.in_s
        frame.validate = parent.validate
        frame.mode = "skip" if parent.mode == "skip" else parent.mode
        frame.name = ""

    # -- output -------------------------------------------------------------------------------

    def _flush(self) -> None:
        if not self.text:
            return
        raw = "".join(self.text)
        self.text.clear()
        frame = self.frames[-1]
        collapsed = _XML_SPACE.sub(" ", raw)
        if not collapsed.strip(" "):
            self.pending_space = self.pending_space or bool(collapsed)
            return
        self._add_span(collapsed, collapsed, frame)

    def _add_span(
        self,
        text: str,
        written: str,
        frame: _Frame,
        *,
        say_as: SayAs | None = None,
        phonemes: str | None = None,
        alphabet: str | None = None,
        normalize: bool = True,
    ) -> None:
        """Emit a span speaking `text` for `written` (the document's collapsed text): billed as
        `written` without edge spaces, plus one for the space that separates it from the text
        before it."""
        separated = self.had_text and (
            written.startswith(" ") or self.pending_space or self.ended_space
        )
        if separated and not self.ended_space and not text.startswith(" "):
            text = " " + text  # words never glue together ...
        elif self.ended_space and text.startswith(" "):
            text = text[1:]  # ... and the spans' texts joined have no double space
        chars = len(written.strip(" ")) + (1 if separated else 0)
        self.items.append(
            Span(
                text=text,
                language=frame.language,
                prosody=frame.prosody,
                voice=frame.voice,
                say_as=say_as,
                phonemes=phonemes,
                alphabet=alphabet,
                emphasis=frame.emphasis,
                normalize=normalize,
                chars=chars,
            )
        )
        self.had_text = True
        self.ended_space = text.endswith(" ") or written.endswith(" ")
        self.pending_space = False

    def _close_owner(self, frame: _Frame) -> None:
        written = _XML_SPACE.sub(" ", "".join(frame.buffer))
        label = frame.name
        if frame.alias is not None:
            if not written.strip(" "):
                written = ""
            self._add_span(frame.alias, written, frame, normalize=False)
        elif not written.strip(" "):
            self._warn(frame.line, frame.column, f"<{label}> has no text and says nothing.")
        else:
            self._add_span(
                written,
                written,
                frame,
                say_as=frame.say_as,
                phonemes=frame.phonemes,
                alphabet=frame.alphabet,
            )

    def _emit(self, item: Item, frame: _Frame) -> None:
        if frame.mode != "normal" or frame.owner is not None:
            return
        if isinstance(item, Boundary) and (not self.items or self.items[-1] == item):
            return  # nothing to end, or ended already
        self.items.append(item)

    # -- problems -----------------------------------------------------------------------------

    def _limit(self, code: str, problem: str, line: int, column: int) -> NoReturn:
        raise _Stop(SsmlError(code, problem, line, column))

    def _warn(self, line: int, column: int, problem: str) -> None:
        self.warnings.append(f"Line {line}, column {column}: {problem}")


def _show(value: str) -> str:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return repr(shown)


class _Element:
    """Validates one start tag and sets up its frame (and emits what a start tag emits)."""

    def __init__(
        self,
        reader: _Reader,
        frame: _Frame,
        parent: _Frame | None,
        tag: str,
        attributes: dict[str, str],
    ) -> None:
        self.reader = reader
        self.frame = frame
        self.parent = parent
        self.tag = tag
        self.attributes = attributes
        self.name = ""

    # -- problems -----------------------------------------------------------------------------

    def fail(self, code: str, problem: str, attribute: str | None = None) -> NoReturn:
        where = f"<{self.tag}>"
        if attribute is not None:
            where = f"<{self.tag} {attribute}={_show(self.attributes.get(attribute, ''))}>"
        if not problem.endswith("."):
            problem += "."
        raise _Stop(SsmlError(code, f"{where}: {problem}", self.frame.line, self.frame.column))

    def problem(self, problem: str, attribute: str | None = None, *, dropped: str) -> None:
        """Strict: reject. Lenient: note it with what was done instead."""
        if not self.reader.lenient:
            self.fail("invalid_ssml", problem, attribute)
        where = f"<{self.tag}>"
        if attribute is not None:
            where = f"<{self.tag} {attribute}={_show(self.attributes.get(attribute, ''))}>"
        self.reader._warn(
            self.frame.line, self.frame.column, f"{where}: {problem.rstrip('.')} ({dropped})."
        )

    def value(self, attribute: str, parse: Callable[[str], object]) -> object | None:
        """The parsed value of `attribute`, None when absent (or, lenient, invalid)."""
        raw = self.attributes.get(attribute)
        if raw is None:
            return None
        try:
            return parse(raw.strip(" \t\r\n"))
        except _BadValue as error:
            self.problem(str(error), attribute, dropped="attribute ignored")
            return None

    def text_value(self, attribute: str, parse: Callable[[str], str]) -> str | None:
        result = self.value(attribute, parse)
        return result if isinstance(result, str) else None

    # -- dispatch -----------------------------------------------------------------------------

    def open(self) -> None:
        frame, parent, tag = self.frame, self.parent, self.tag
        prefix, _, local = tag.rpartition(":")
        uri = frame.namespaces.get(prefix) if prefix else frame.namespaces.get("")
        if parent is None:
            if tag != "speak" and local != "speak":
                self.fail("invalid_ssml", "the root element must be <speak>.")
            if uri not in (None, SSML_NAMESPACE):
                self.fail(
                    "invalid_ssml",
                    f"the root must be in the SSML namespace {SSML_NAMESPACE} (or none), "
                    f"not {uri!r}.",
                )
        vendor = prefix.lower() in VENDOR_PREFIXES or (not prefix and local in VENDOR_ELEMENTS)
        if vendor:
            self.drop("ssml_unsupported", "vendor extensions are not supported")
            return
        if (prefix and uri != SSML_NAMESPACE) or (not prefix and uri not in (None, SSML_NAMESPACE)):
            self.drop("invalid_ssml", "unknown element (not in the SSML namespace)")
            return
        if local not in _ATTRIBUTES:
            self.drop("invalid_ssml", "unknown element")
            return
        self.name = local
        if parent is not None and parent.text_only:
            if not self.reader.lenient:
                self.fail("invalid_ssml", f"<{parent.name}> contains only text, no elements.")
            self.reader._warn(
                frame.line,
                frame.column,
                f"<{tag}>: <{parent.name}> contains only text (element ignored, text kept).",
            )
            return
        self.check_attributes()
        if not self.placed():
            return
        frame.name = local
        getattr(self, "open_" + local.replace("-", "_"))()

    def drop(self, code: str, problem: str) -> None:
        if not self.reader.lenient or self.parent is None:
            self.fail(code, f"{problem}.")
        self.reader._warn(
            self.frame.line,
            self.frame.column,
            f"<{self.tag}>: {problem} (element dropped, its text is spoken).",
        )

    def check_attributes(self) -> None:
        allowed = _ATTRIBUTES[self.name]
        for attribute in list(self.attributes):
            prefix, _, _local = attribute.rpartition(":")
            if attribute in allowed or attribute == "xml:id":
                continue
            if prefix.lower() in VENDOR_PREFIXES:
                if not self.reader.lenient:
                    self.fail("ssml_unsupported", "vendor attributes are not supported.", attribute)
                self.problem("vendor attribute", attribute, dropped="ignored")
            else:
                self.problem("unknown attribute", attribute, dropped="ignored")
            del self.attributes[attribute]

    def placed(self) -> bool:
        """Whether the element may stand here; lenient, a misplaced one is dropped."""
        name, parent = self.name, self.parent
        problem = None
        if name == "speak" and parent is not None:
            problem = "<speak> may only be the root element"
        elif name == "desc" and (parent is None or parent.name != "audio"):
            problem = "<desc> belongs directly inside <audio>"
        elif name in _HEAD_ELEMENTS and (parent is None or parent.name != "speak"):
            problem = f"<{name}> belongs directly inside <speak>"
        elif name == "p" and (self.frame.in_p or self.frame.in_s):
            problem = "a paragraph cannot be inside another <p> or an <s>"
        elif name == "s" and self.frame.in_s:
            problem = "a sentence cannot be inside another <s>"
        if problem is None:
            return True
        if not self.reader.lenient:
            self.fail("invalid_ssml", f"{problem}.")
        if name in ("desc", "metadata"):
            self.frame.mode = "skip"
            self.frame.validate = False
        self.reader._warn(self.frame.line, self.frame.column, f"<{name}>: {problem} (ignored).")
        return False

    # -- elements -----------------------------------------------------------------------------

    def open_speak(self) -> None:
        self.value("version", _version)
        self.value("onlangfailure", _enum(_LANG_FAILURE))
        language = self.text_value("xml:lang", _language)
        self.frame.language = language
        self.reader.language = language

    def open_p(self) -> None:
        self.frame.in_p = True
        self._section("p")

    def open_s(self) -> None:
        self.frame.in_s = True
        self._section("s")

    def _section(self, kind: Literal["s", "p"]) -> None:
        language = self.text_value("xml:lang", _language)
        if language:
            self.frame.language = language
        items = self.reader.items
        if items and isinstance(items[-1], Span) and self.frame.owner is None:
            items.append(Boundary(kind))

    def open_break(self) -> None:
        reader, frame = self.reader, self.frame
        limit = reader.limits.max_break_ms
        ms: int | None = None
        time = self.attributes.get("time")
        if time is not None:
            parsed = self.value("time", _time_ms)
            if isinstance(parsed, float):
                if parsed > limit:
                    reader._limit(
                        "ssml_break_too_long",
                        f"<break time={_show(time)}>: a break may last at most {limit} ms "
                        f"(max_break_ms).",
                        frame.line,
                        frame.column,
                    )
                ms = round(parsed)
        strength = self.text_value("strength", _enum(frozenset(reader.strengths)))
        if ms is None:
            ms = reader.strengths[strength or "medium"]
        if frame.owner is not None or frame.mode != "normal":
            if frame.owner is not None:
                reader._warn(frame.line, frame.column, "<break> inside <sub alias> is ignored.")
            return
        reader.break_ms += ms
        if reader.break_ms > reader.limits.max_total_break_ms:
            reader._limit(
                "ssml_breaks_too_long",
                f"the breaks add up to more than {reader.limits.max_total_break_ms} ms "
                f"(max_total_break_ms).",
                frame.line,
                frame.column,
            )
        reader._emit(Break(ms), frame)

    def open_prosody(self) -> None:
        frame = self.frame
        base = frame.prosody
        rate, pitch, volume = base.rate, base.pitch_st, base.volume_db
        silent = base.silent
        given = False
        parsed_rate = self.value("rate", _rate)
        if isinstance(parsed_rate, tuple):
            value, absolute = parsed_rate
            rate = value if absolute else rate * value
            given = True
        parsed_pitch = self.value("pitch", _pitch)
        if isinstance(parsed_pitch, tuple):
            value, absolute = parsed_pitch
            pitch = value if absolute else pitch + value
            given = True
        parsed_volume = self.value("volume", _volume)
        if isinstance(parsed_volume, tuple):
            value, absolute = parsed_volume
            if math.isinf(value):
                silent = True
            elif absolute:
                volume, silent = value, False
            else:
                volume += value
            given = True
        for attribute, parse in (("duration", _time_ms), ("range", _pitch), ("contour", _contour)):
            if attribute in self.attributes and self.value(attribute, parse) is not None:
                given = True
                self.reader._warn(
                    frame.line,
                    frame.column,
                    f"<prosody {attribute}>: not supported, ignored.",
                )
        if not given and not _PROSODY_ATTRIBUTES.intersection(self.attributes):
            self.problem(
                "needs at least one of rate, pitch, volume", dropped="element has no effect"
            )
        clamped = Prosody(
            rate=_clamp(rate, RATE_RANGE),
            pitch_st=_clamp(pitch, PITCH_RANGE_ST),
            volume_db=_clamp(volume, VOLUME_RANGE_DB),
            silent=silent,
        )
        if (clamped.rate, clamped.pitch_st, clamped.volume_db) != (rate, pitch, volume):
            self.reader._warn(
                frame.line,
                frame.column,
                "<prosody>: the nested values add up beyond the supported range (clamped).",
            )
        frame.prosody = clamped

    def open_emphasis(self) -> None:
        level = self.text_value("level", _enum(EMPHASIS_LEVELS))
        self.frame.emphasis = level or "moderate"

    def open_say_as(self) -> None:
        interpret = self.text_value("interpret-as", _enum(SAY_AS_TYPES))
        if "interpret-as" not in self.attributes:
            self.problem("interpret-as is required", dropped="text read as usual")
        if interpret is None:
            return
        fmt: str | None = None
        if "format" in self.attributes:
            formats: Callable[[str], str]
            if interpret == "date":
                formats = _enum(DATE_FORMATS)
            elif interpret == "time":
                formats = _enum(TIME_FORMATS)
            elif interpret == "telephone":
                formats = _pattern(_TELEPHONE_FORMAT, "a country code such as 1 or 44")
            else:
                formats = _no_format
            fmt = self.text_value("format", formats)
        detail = self.text_value("detail", _pattern(_DETAIL, "a short word or number"))
        self._own(say_as=SayAs(interpret, fmt, detail))

    def open_phoneme(self) -> None:
        alphabet = self.text_value("alphabet", _enum(ALPHABETS))
        ph = self.text_value("ph", _nonempty)
        for attribute in ("alphabet", "ph"):
            if attribute not in self.attributes:
                self.problem(f"{attribute} is required", dropped="text read as usual")
        if alphabet is None or ph is None:
            return
        self._own(phonemes=ph, alphabet=alphabet)

    def _own(
        self,
        *,
        say_as: SayAs | None = None,
        phonemes: str | None = None,
        alphabet: str | None = None,
    ) -> None:
        frame = self.frame
        frame.text_only = True
        if frame.owner is not None:  # inside <sub alias>: its alias is what is spoken
            return
        frame.owner = frame
        frame.mode = "capture"
        frame.say_as, frame.phonemes, frame.alphabet = say_as, phonemes, alphabet

    def open_sub(self) -> None:
        frame = self.frame
        alias = self.text_value("alias", _nonempty)
        if "alias" not in self.attributes:
            self.reader._warn(frame.line, frame.column, "<sub> has no alias: its text is spoken.")
        if alias is None or frame.owner is not None:
            return
        frame.owner = frame
        frame.mode = "capture"
        frame.alias = _XML_SPACE.sub(" ", alias).strip(" ")

    def open_lang(self) -> None:
        if "xml:lang" not in self.attributes:
            self.problem("xml:lang is required", dropped="language unchanged")
        language = self.text_value("xml:lang", _language)
        self.value("onlangfailure", _enum(_LANG_FAILURE))
        if language:
            self.frame.language = language

    def open_voice(self) -> None:
        frame = self.frame
        if not _VOICE_FEATURES.intersection(self.attributes) and (
            "xml:lang" not in self.attributes
        ):
            self.problem(
                "needs one of name, languages, gender, age, variant", dropped="voice unchanged"
            )
        name = self.text_value("name", _nonempty)
        self.value("gender", _enum(frozenset({"male", "female", "neutral"})))
        self.value("age", _integer(0))
        self.value("variant", _integer(1))
        self.value("onvoicefailure", _enum(_VOICE_FAILURE))
        for attribute in ("required", "ordering"):
            self.value(attribute, _words(_VOICE_FEATURES))
        language = None
        for attribute in ("languages", "language", "xml:lang"):
            language = self.text_value(attribute, _languages) or language
        if name:
            frame.voice = name.split()[0]
        elif any(a in self.attributes for a in ("gender", "age", "variant")):
            self.reader._warn(
                frame.line,
                frame.column,
                "<voice>: gender, age and variant do not choose a voice here; name does.",
            )
        if language:
            frame.language = language

    def open_mark(self) -> None:
        reader, frame = self.reader, self.frame
        if "name" not in self.attributes:
            self.problem("name is required", dropped="mark ignored")
        name = self.text_value("name", _mark_name)
        if name is None or frame.mode != "normal":
            return
        if frame.owner is not None:
            reader._warn(frame.line, frame.column, "<mark> inside <sub alias> is ignored.")
            return
        reader.marks += 1
        if reader.marks > reader.limits.max_marks:
            reader._limit(
                "ssml_too_many_marks",
                f"more than {reader.limits.max_marks} marks (max_marks).",
                frame.line,
                frame.column,
            )
        reader._emit(Mark(name), frame)

    def open_audio(self) -> None:
        reader, frame = self.reader, self.frame
        reader.audio += 1
        if reader.audio > reader.limits.max_audio:
            reader._limit(
                "ssml_too_many_audio",
                f"more than {reader.limits.max_audio} <audio> elements (max_audio).",
                frame.line,
                frame.column,
            )
        if "src" not in self.attributes:
            self.problem("src is required", dropped="fallback text spoken")
        self.value("src", _nonempty)
        for attribute in ("clipBegin", "clipEnd", "repeatDur", "fetchtimeout"):
            self.value(attribute, _time_ms)
        for attribute in ("maxage", "maxstale"):
            self.value(attribute, _integer(0))
        self.value("fetchhint", _enum(frozenset({"prefetch", "safe"})))
        self.value("repeatCount", _repeat_count)
        self.value("soundLevel", _sound_level)
        self.value("speed", _speed)
        reader._warn(
            frame.line, frame.column, "<audio> is never played: its fallback text is spoken."
        )

    def open_desc(self) -> None:
        self.value("xml:lang", _language)
        self.frame.mode = "skip"
        self.frame.validate = False

    def open_token(self) -> None:
        language = self.text_value("xml:lang", _language)
        if language:
            self.frame.language = language
        roles = self.attributes.get("role")
        if roles is None:
            return
        for role in roles.split():
            match = _QNAME.fullmatch(role)
            if match is None:
                self.problem("role is a list of names like pos:noun", "role", dropped="ignored")
                return
            if (match.group(1) or "").lower() in VENDOR_PREFIXES:
                if not self.reader.lenient:
                    self.fail("ssml_unsupported", "vendor roles are not supported.", "role")
                self.problem("vendor role", "role", dropped="ignored")
                return

    open_w = open_token

    def open_meta(self) -> None:
        if "content" not in self.attributes or not (
            "name" in self.attributes or "http-equiv" in self.attributes
        ):
            self.problem("needs content and name (or http-equiv)", dropped="ignored")

    def open_metadata(self) -> None:
        self.frame.mode = "skip"
        self.frame.validate = False

    def open_lexicon(self) -> None:
        if "uri" not in self.attributes:
            self.problem("uri is required", dropped="ignored")
        self.reader._warn(
            self.frame.line, self.frame.column, "<lexicon> is never fetched (ignored)."
        )

    def open_lookup(self) -> None:
        if "ref" not in self.attributes:
            self.problem("ref is required", dropped="ignored")
        self.reader._warn(
            self.frame.line,
            self.frame.column,
            "<lookup>: lexicons are not loaded, its text is read as usual.",
        )


# --------------------------------------------------------------------------------------------
# Attribute values. Each parser raises _BadValue with what a good value looks like.


def _enum(values: frozenset[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value not in values:
            raise _BadValue("use one of " + ", ".join(sorted(values)) + ".")
        return value

    return parse


def _pattern(pattern: re.Pattern[str], description: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if pattern.fullmatch(value) is None:
            raise _BadValue(f"use {description}.")
        return value

    return parse


def _no_format(value: str) -> str:
    raise _BadValue("format applies only to interpret-as date, time and telephone.")


def _nonempty(value: str) -> str:
    if not value:
        raise _BadValue("must not be empty.")
    return value


def _mark_name(value: str) -> str:
    if not value or len(value) > MAX_MARK_NAME:
        raise _BadValue(f"a mark name has 1 to {MAX_MARK_NAME} characters.")
    return value


def _version(value: str) -> str:
    if value not in ("1.0", "1.1"):
        raise _BadValue("SSML versions are 1.0 and 1.1.")
    return value


def _language(value: str) -> str:
    if _LANGUAGE.fullmatch(value) is None:
        raise _BadValue("use a language tag like en, en-US or sr-Latn-RS.")
    return value


def _languages(value: str) -> str:
    tags = value.split()
    if not tags:
        raise _BadValue("use a language tag like en-US.")
    for tag in tags:
        _language(tag.split(":", 1)[0])
    return tags[0].split(":", 1)[0]


def _words(allowed: frozenset[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.split() or any(word not in allowed for word in value.split()):
            raise _BadValue("use a list of " + ", ".join(sorted(allowed)) + ".")
        return value

    return parse


def _integer(minimum: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.isascii() or not value.isdigit() or len(value) > 9 or int(value) < minimum:
            raise _BadValue(f"use a whole number of at least {minimum}.")
        return value

    return parse


def _time_ms(value: str) -> float:
    match = _TIME.fullmatch(value)
    if match is None:
        raise _BadValue("use a time like 500ms or 1.5s.")
    number = float(match.group(1))
    return number * 1000 if match.group(2) == "s" else number


def _repeat_count(value: str) -> str:
    try:
        count = float(value) if re.fullmatch(r"\+?" + _NUM, value) else -1.0
    except ValueError:  # pragma: no cover - the pattern admits only numbers
        count = -1.0
    if count <= 0:
        raise _BadValue("use a positive number.")
    return value


def _sound_level(value: str) -> str:
    if _VOLUME_DB.fullmatch(value) is None:
        raise _BadValue("use a change like +6dB or -3.5dB.")
    return value


def _speed(value: str) -> str:
    match = re.fullmatch(_NUM + "%", value)
    if match is None or float(match.group(1)) <= 0:
        raise _BadValue("use a percentage like 80%.")
    return value


def _signed(sign: str, number: str) -> float:
    return -float(number) if sign == "-" else float(number)


def _rate(value: str) -> tuple[float, bool]:
    """(multiplier, absolute?)."""
    if value in RATE_KEYWORDS:
        return RATE_KEYWORDS[value], True
    match = _RATE.fullmatch(value)
    if match is None:
        raise _BadValue(
            "use x-slow, slow, medium, fast, x-fast, default, a percentage like 80% or a "
            "change like +10%."
        )
    sign, number = match.groups()
    factor = 1 + _signed(sign, number) / 100 if sign else float(number) / 100
    low, high = RATE_RANGE
    if not low <= factor <= high:
        raise _BadValue(f"the rate must be between {low:.0%} and {high:.0%} of normal.")
    return factor, False


def _pitch(value: str) -> tuple[float, bool]:
    """(semitones, absolute?)."""
    if value in PITCH_KEYWORDS_ST:
        return PITCH_KEYWORDS_ST[value], True
    absolute = False
    if match := _PITCH_PCT.fullmatch(value):
        factor = 1 + _signed(*match.groups()) / 100
        semitones = 12 * math.log2(factor) if factor > 0 else -math.inf
    elif match := _PITCH_ST.fullmatch(value):
        semitones = _signed(*match.groups())
    elif match := _PITCH_HZ.fullmatch(value):
        sign, number = match.groups()
        hertz = NOMINAL_PITCH_HZ + _signed(sign, number) if sign else float(number)
        absolute = not sign
        semitones = 12 * math.log2(hertz / NOMINAL_PITCH_HZ) if hertz > 0 else -math.inf
    else:
        raise _BadValue(
            "use x-low, low, medium, high, x-high, default, or a change like +10%, -2st or "
            "+20Hz, or a frequency like 180Hz."
        )
    low, high = PITCH_RANGE_ST
    if not low - 1e-9 <= semitones <= high + 1e-9:
        raise _BadValue("the pitch may change by -33.3% to +50% (about ±7 semitones).")
    return semitones, absolute


def _volume(value: str) -> tuple[float, bool]:
    """(dB, absolute?); -inf dB is silent."""
    if value == "silent":
        return -math.inf, True
    if value in VOLUME_KEYWORDS_DB:
        return VOLUME_KEYWORDS_DB[value], True
    if match := _VOLUME_DB.fullmatch(value):
        decibels = _signed(*match.groups())
    elif match := _VOLUME_PCT.fullmatch(value):
        sign, number = match.groups()
        factor = 1 + _signed(sign, number) / 100 if sign else float(number) / 100
        if factor <= 0:
            return -math.inf, True
        decibels = 20 * math.log10(factor)
    else:
        raise _BadValue(
            "use silent, x-soft, soft, medium, loud, x-loud, default, or a change like +6dB."
        )
    low, high = VOLUME_RANGE_DB
    if not low <= decibels <= high:
        raise _BadValue(f"the volume may change by {low:+.0f}dB to {high:+.0f}dB.")
    return decibels, False


def _contour(value: str) -> str:
    points = _CONTOUR.findall(value)
    if not points or _CONTOUR.sub("", value).strip(" \t\r\n"):
        raise _BadValue("use (position%, pitch) pairs like (0%,+10%) (100%,-2st).")
    for position, target in points:
        match = re.fullmatch(_NUM + "%", position)
        if match is None or float(match.group(1)) > 100:
            raise _BadValue("a contour position is a percentage from 0% to 100%.")
        _pitch(target)
    return value


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return min(max(value, low), high)


__all__ = [
    "ALPHABETS",
    "BREAK_STRENGTH_MS",
    "DATE_FORMATS",
    "DEFAULT_LIMITS",
    "SAY_AS_TYPES",
    "Limits",
    "ParsedSsml",
    "SsmlError",
    "looks_like_ssml",
    "parse_ssml",
]
