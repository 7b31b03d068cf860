"""Element semantics: what each SSML element does to the document's items.

`open_element` validates a start tag (its name, namespace, place and attributes) and sets up
the element's frame; `close_element` ends it. A `<p>` or `<s>` ends with a `Boundary`,
`<break>` and `<mark>` emit a `Break` and a `Mark`, and `<say-as>`, `<phoneme>` and
`<sub alias>` capture their text and emit it as one span when they close. The others change the
context (language, prosody, voice, emphasis) that the spans inside them carry.

In strict mode a problem raises `SsmlError`; in lenient mode it becomes a warning that says
what was done instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NoReturn

from synthesis.text.model import Boundary, Break, Mark, Prosody, SayAs, Span

from . import values
from .document import Document, Frame
from .errors import refuse
from .vocabulary import (
    ALPHABETS,
    ATTRIBUTES,
    DATE_FORMATS,
    EMPHASIS_LEVELS,
    FETCH_HINTS,
    HEAD_ELEMENTS,
    LANG_FAILURE,
    PROSODY_ATTRIBUTES,
    SAY_AS_TYPES,
    SSML_NAMESPACE,
    TIME_FORMATS,
    VENDOR_ELEMENTS,
    VENDOR_PREFIXES,
    VOICE_FAILURE,
    VOICE_FEATURES,
    VOICE_GENDERS,
)


def open_element(
    document: Document, frame: Frame, parent: Frame | None, tag: str, attributes: dict[str, str]
) -> None:
    if parent is not None:
        frame.inherit(parent)
        if not parent.validate:
            return
    _Element(document, frame, parent, tag, attributes).open()


def close_element(document: Document, frame: Frame) -> None:
    if frame.owner is frame:
        _close_owner(document, frame)
    elif frame.name in ("s", "p") and frame.mode == "normal":
        document.emit(Boundary("s" if frame.name == "s" else "p"), frame)


def _close_owner(document: Document, frame: Frame) -> None:
    written = values.XML_SPACE.sub(" ", "".join(frame.buffer))
    label = frame.name
    if frame.alias is not None:  # billed as spoken: the alias, whatever the text inside
        if not written.strip(" "):
            written = ""
        document.add_span(frame.alias, written, frame, normalize=False, spoken=len(frame.alias))
    elif not written.strip(" "):
        document.warn(frame.line, frame.column, f"<{label}> has no text and says nothing.")
    else:
        # Phonemes are spoken where the engine takes them, the text where it does not: the
        # longer of the two is billed.
        spoken = None
        if frame.phonemes is not None:
            spoken = max(len(frame.phonemes), len(written.strip(" ")))
        document.add_span(
            written,
            written,
            frame,
            say_as=frame.say_as,
            phonemes=frame.phonemes,
            alphabet=frame.alphabet,
            spoken=spoken,
        )


def _show(value: str) -> str:
    shown = value if len(value) <= 40 else value[:37] + "..."
    return repr(shown)


class _Element:
    """Validates one start tag and sets up its frame (and emits what a start tag emits)."""

    def __init__(
        self,
        document: Document,
        frame: Frame,
        parent: Frame | None,
        tag: str,
        attributes: dict[str, str],
    ) -> None:
        self.document = document
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
        refuse(code, f"{where}: {problem}", self.frame.line, self.frame.column)

    def problem(self, problem: str, attribute: str | None = None, *, dropped: str) -> None:
        """Strict: reject. Lenient: note it with what was done instead."""
        if not self.document.lenient:
            self.fail("invalid_ssml", problem, attribute)
        where = f"<{self.tag}>"
        if attribute is not None:
            where = f"<{self.tag} {attribute}={_show(self.attributes.get(attribute, ''))}>"
        self.document.warn(
            self.frame.line, self.frame.column, f"{where}: {problem.rstrip('.')} ({dropped})."
        )

    def value(self, attribute: str, parse: Callable[[str], object]) -> object | None:
        """The parsed value of `attribute`, None when absent (or, lenient, invalid)."""
        raw = self.attributes.get(attribute)
        if raw is None:
            return None
        try:
            return parse(raw.strip(" \t\r\n"))
        except values.BadValue as error:
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
        if local not in ATTRIBUTES:
            self.drop("invalid_ssml", "unknown element")
            return
        self.name = local
        if parent is not None and parent.text_only:
            if not self.document.lenient:
                self.fail("invalid_ssml", f"<{parent.name}> contains only text, no elements.")
            self.document.warn(
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

    def cap(self, attribute: str, length: int, limit: int, code: str, what: str) -> None:
        """A value spoken in place of the text is limited in strict and lenient mode alike:
        lenient may not turn it into an ignored attribute whose text bills less."""
        if length > limit:
            self.fail(
                code, f"{attribute} may be at most {limit} {what}; it has {length}", attribute
            )

    def drop(self, code: str, problem: str) -> None:
        if not self.document.lenient or self.parent is None:
            self.fail(code, f"{problem}.")
        self.document.warn(
            self.frame.line,
            self.frame.column,
            f"<{self.tag}>: {problem} (element dropped, its text is spoken).",
        )

    def check_attributes(self) -> None:
        allowed = ATTRIBUTES[self.name]
        for attribute in list(self.attributes):
            prefix, _, _local = attribute.rpartition(":")
            if attribute in allowed or attribute == "xml:id":
                continue
            if prefix.lower() in VENDOR_PREFIXES:
                if not self.document.lenient:
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
        elif name in HEAD_ELEMENTS and (parent is None or parent.name != "speak"):
            problem = f"<{name}> belongs directly inside <speak>"
        elif name == "p" and (self.frame.in_p or self.frame.in_s):
            problem = "a paragraph cannot be inside another <p> or an <s>"
        elif name == "s" and self.frame.in_s:
            problem = "a sentence cannot be inside another <s>"
        if problem is None:
            return True
        if not self.document.lenient:
            self.fail("invalid_ssml", f"{problem}.")
        if name in ("desc", "metadata"):
            self.frame.mode = "skip"
            self.frame.validate = False
        self.document.warn(self.frame.line, self.frame.column, f"<{name}>: {problem} (ignored).")
        return False

    # -- elements -----------------------------------------------------------------------------

    def open_speak(self) -> None:
        self.value("version", values.version)
        self.value("onlangfailure", values.one_of(LANG_FAILURE))
        language = self.text_value("xml:lang", values.language)
        self.frame.language = language
        self.document.language = language

    def open_p(self) -> None:
        self.frame.in_p = True
        self._section("p")

    def open_s(self) -> None:
        self.frame.in_s = True
        self._section("s")

    def _section(self, kind: Literal["s", "p"]) -> None:
        language = self.text_value("xml:lang", values.language)
        if language:
            self.frame.language = language
        items = self.document.items
        if items and isinstance(items[-1], Span) and self.frame.owner is None:
            items.append(Boundary(kind))

    def open_break(self) -> None:
        document, frame = self.document, self.frame
        limit = document.limits.max_break_ms
        ms: int | None = None
        time = self.attributes.get("time")
        if time is not None:
            parsed = self.value("time", values.time_ms)
            if isinstance(parsed, float):
                if parsed > limit:
                    refuse(
                        "ssml_break_too_long",
                        f"<break time={_show(time)}>: a break may last at most {limit} ms "
                        f"(max_break_ms).",
                        frame.line,
                        frame.column,
                    )
                ms = round(parsed)
        strength = self.text_value("strength", values.one_of(frozenset(document.strengths)))
        if ms is None:
            ms = document.strengths[strength or "medium"]
        if frame.owner is not None or frame.mode != "normal":
            if frame.owner is not None:
                document.warn(frame.line, frame.column, "<break> inside <sub alias> is ignored.")
            return
        document.break_ms += ms
        if document.break_ms > document.limits.max_total_break_ms:
            refuse(
                "ssml_breaks_too_long",
                f"the breaks add up to more than {document.limits.max_total_break_ms} ms "
                f"(max_total_break_ms).",
                frame.line,
                frame.column,
            )
        document.emit(Break(ms), frame)

    def open_prosody(self) -> None:
        frame = self.frame
        base = frame.prosody
        rate, pitch, volume = base.rate, base.pitch_st, base.volume_db
        silent = base.silent
        given = False
        parsed_rate = self.value("rate", values.rate)
        if isinstance(parsed_rate, tuple):
            value, absolute = parsed_rate
            rate = value if absolute else rate * value
            given = True
        parsed_pitch = self.value("pitch", values.pitch)
        if isinstance(parsed_pitch, tuple):
            value, absolute = parsed_pitch
            pitch = value if absolute else pitch + value
            given = True
        parsed_volume = self.value("volume", values.volume)
        if isinstance(parsed_volume, tuple):
            value, absolute = parsed_volume
            if math.isinf(value):
                silent = True
            elif absolute:
                volume, silent = value, False
            else:
                volume += value
            given = True
        for attribute, parse in (
            ("duration", values.time_ms),
            ("range", values.pitch),
            ("contour", values.contour),
        ):
            if attribute in self.attributes and self.value(attribute, parse) is not None:
                given = True
                self.document.warn(
                    frame.line,
                    frame.column,
                    f"<prosody {attribute}>: not supported, ignored.",
                )
        if not given and not PROSODY_ATTRIBUTES.intersection(self.attributes):
            self.problem(
                "needs at least one of rate, pitch, volume", dropped="element has no effect"
            )
        clamped = Prosody(
            rate=values.clamp(rate, values.RATE_RANGE),
            pitch_st=values.clamp(pitch, values.PITCH_RANGE_ST),
            volume_db=values.clamp(volume, values.VOLUME_RANGE_DB),
            silent=silent,
        )
        if (clamped.rate, clamped.pitch_st, clamped.volume_db) != (rate, pitch, volume):
            self.document.warn(
                frame.line,
                frame.column,
                "<prosody>: the nested values add up beyond the supported range (clamped).",
            )
        frame.prosody = clamped

    def open_emphasis(self) -> None:
        level = self.text_value("level", values.one_of(EMPHASIS_LEVELS))
        self.frame.emphasis = level or "moderate"

    def open_say_as(self) -> None:
        interpret = self.text_value("interpret-as", values.one_of(SAY_AS_TYPES))
        if "interpret-as" not in self.attributes:
            self.problem("interpret-as is required", dropped="text read as usual")
        if interpret is None:
            return
        fmt: str | None = None
        if "format" in self.attributes:
            formats: Callable[[str], str]
            if interpret == "date":
                formats = values.one_of(DATE_FORMATS)
            elif interpret == "time":
                formats = values.one_of(TIME_FORMATS)
            elif interpret == "telephone":
                formats = values.matching(values.TELEPHONE_FORMAT, "a country code such as 1 or 44")
            else:
                formats = values.no_format
            fmt = self.text_value("format", formats)
        detail = self.text_value("detail", values.matching(values.DETAIL, "a short word or number"))
        self._own(say_as=SayAs(interpret, fmt, detail))

    def open_phoneme(self) -> None:
        symbols = len(self.attributes.get("ph", "").strip(" \t\r\n"))
        limit = self.document.limits.max_phonemes
        self.cap("ph", symbols, limit, "ssml_phonemes_too_long", "symbols (max_phonemes)")
        alphabet = self.text_value("alphabet", values.one_of(ALPHABETS))
        ph = self.text_value("ph", values.nonempty)
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
        spoken = values.XML_SPACE.sub(" ", self.attributes.get("alias", "")).strip(" ")
        limit = self.document.limits.max_alias_chars
        self.cap("alias", len(spoken), limit, "ssml_alias_too_long", "characters (max_alias_chars)")
        alias = self.text_value("alias", values.nonempty)
        if "alias" not in self.attributes:
            self.document.warn(frame.line, frame.column, "<sub> has no alias: its text is spoken.")
        if alias is None or frame.owner is not None:
            return
        frame.owner = frame
        frame.mode = "capture"
        frame.alias = values.XML_SPACE.sub(" ", alias).strip(" ")

    def open_lang(self) -> None:
        if "xml:lang" not in self.attributes:
            self.problem("xml:lang is required", dropped="language unchanged")
        language = self.text_value("xml:lang", values.language)
        self.value("onlangfailure", values.one_of(LANG_FAILURE))
        if language:
            self.frame.language = language

    def open_voice(self) -> None:
        frame = self.frame
        if not VOICE_FEATURES.intersection(self.attributes) and ("xml:lang" not in self.attributes):
            self.problem(
                "needs one of name, languages, gender, age, variant", dropped="voice unchanged"
            )
        name = self.text_value("name", values.nonempty)
        self.value("gender", values.one_of(VOICE_GENDERS))
        self.value("age", values.integer(0))
        self.value("variant", values.integer(1))
        self.value("onvoicefailure", values.one_of(VOICE_FAILURE))
        for attribute in ("required", "ordering"):
            self.value(attribute, values.words(VOICE_FEATURES))
        language = None
        for attribute in ("languages", "language", "xml:lang"):
            language = self.text_value(attribute, values.languages) or language
        if name:
            frame.voice = name.split()[0]
        elif any(a in self.attributes for a in ("gender", "age", "variant")):
            self.document.warn(
                frame.line,
                frame.column,
                "<voice>: gender, age and variant do not choose a voice here; name does.",
            )
        if language:
            frame.language = language

    def open_mark(self) -> None:
        document, frame = self.document, self.frame
        if "name" not in self.attributes:
            self.problem("name is required", dropped="mark ignored")
        name = self.text_value("name", values.mark_name)
        if name is None or frame.mode != "normal":
            return
        if frame.owner is not None:
            document.warn(frame.line, frame.column, "<mark> inside <sub alias> is ignored.")
            return
        document.marks += 1
        if document.marks > document.limits.max_marks:
            refuse(
                "ssml_too_many_marks",
                f"more than {document.limits.max_marks} marks (max_marks).",
                frame.line,
                frame.column,
            )
        document.emit(Mark(name), frame)

    def open_audio(self) -> None:
        document, frame = self.document, self.frame
        document.audio += 1
        if document.audio > document.limits.max_audio:
            refuse(
                "ssml_too_many_audio",
                f"more than {document.limits.max_audio} <audio> elements (max_audio).",
                frame.line,
                frame.column,
            )
        if "src" not in self.attributes:
            self.problem("src is required", dropped="fallback text spoken")
        self.value("src", values.nonempty)
        for attribute in ("clipBegin", "clipEnd", "repeatDur", "fetchtimeout"):
            self.value(attribute, values.time_ms)
        for attribute in ("maxage", "maxstale"):
            self.value(attribute, values.integer(0))
        self.value("fetchhint", values.one_of(FETCH_HINTS))
        self.value("repeatCount", values.repeat_count)
        self.value("soundLevel", values.sound_level)
        self.value("speed", values.speed)
        document.warn(
            frame.line, frame.column, "<audio> is never played: its fallback text is spoken."
        )

    def open_desc(self) -> None:
        self.value("xml:lang", values.language)
        self.frame.mode = "skip"
        self.frame.validate = False

    def open_token(self) -> None:
        language = self.text_value("xml:lang", values.language)
        if language:
            self.frame.language = language
        roles = self.attributes.get("role")
        if roles is None:
            return
        for role in roles.split():
            match = values.QNAME.fullmatch(role)
            if match is None:
                self.problem("role is a list of names like pos:noun", "role", dropped="ignored")
                return
            if (match.group(1) or "").lower() in VENDOR_PREFIXES:
                if not self.document.lenient:
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
        self.document.warn(
            self.frame.line, self.frame.column, "<lexicon> is never fetched (ignored)."
        )

    def open_lookup(self) -> None:
        if "ref" not in self.attributes:
            self.problem("ref is required", dropped="ignored")
        self.document.warn(
            self.frame.line,
            self.frame.column,
            "<lookup>: lexicons are not loaded, its text is read as usual.",
        )
