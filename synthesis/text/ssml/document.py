"""The document as it is read: the frame of each open element (the context its content
inherits), and what the document has produced so far: items, warnings, counts against the
limits. Text is collected here and becomes a span when an element starts or ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from synthesis.text.model import NEUTRAL, Boundary, InputTooLong, Item, Prosody, SayAs, Span

from .errors import Limits, Stop
from .values import XML_SPACE

FrameMode = Literal["normal", "skip", "capture"]


@dataclass
class Frame:
    """One open element: where it starts, the namespaces in scope, and the context (language,
    prosody, voice, emphasis...) its content is read in."""

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
    owner: Frame | None = None  # the <say-as>/<phoneme>/<sub alias> whose text this is
    in_p: bool = False
    in_s: bool = False
    text_only: bool = False  # <say-as>, <phoneme>: no child elements
    buffer: list[str] = field(default_factory=list)
    say_as: SayAs | None = None
    phonemes: str | None = None
    alphabet: str | None = None
    alias: str | None = None

    def inherit(self, parent: Frame) -> None:
        """Take the parent's context; the name stays empty until the element is accepted."""
        self.language = parent.language
        self.prosody = parent.prosody
        self.voice = parent.voice
        self.emphasis = parent.emphasis
        self.owner = parent.owner
        self.in_p = parent.in_p
        self.in_s = parent.in_s
        self.validate = parent.validate
        self.mode = "skip" if parent.mode == "skip" else parent.mode
        self.name = ""


class Document:
    """How the document is read (lenient or strict, limits, break strengths) and what it has
    produced so far."""

    def __init__(
        self,
        lenient: bool,
        limits: Limits,
        strengths: Mapping[str, int],
        max_characters: int | None = None,
    ) -> None:
        self.lenient = lenient
        self.limits = limits
        self.strengths = strengths
        self.max_characters = max_characters
        self.characters = 0  # billed so far
        self.items: list[Item] = []
        self.warnings: list[str] = []
        self.text: list[str] = []
        self.marks = 0
        self.audio = 0
        self.break_ms = 0
        self.language: str | None = None
        self.had_text = False  # a span with text was emitted
        self.ended_space = False  # ... and it ended with whitespace
        self.pending_space = False  # whitespace-only text since then

    def add_text(self, frame: Frame, data: str) -> None:
        """Character data inside `frame`: kept for the next span, or for the element that
        captures it (<say-as>, <phoneme>, <sub alias>)."""
        if frame.mode == "skip":
            return
        if frame.owner is not None:
            frame.owner.buffer.append(data)
        else:
            self.text.append(data)

    def flush(self, frame: Frame) -> None:
        """The text kept since the last tag, as one span read in `frame`'s context."""
        if not self.text:
            return
        raw = "".join(self.text)
        self.text.clear()
        collapsed = XML_SPACE.sub(" ", raw)
        if not collapsed.strip(" "):
            self.pending_space = self.pending_space or bool(collapsed)
            return
        self.add_span(collapsed, collapsed, frame)

    def add_span(
        self,
        text: str,
        written: str,
        frame: Frame,
        *,
        say_as: SayAs | None = None,
        phonemes: str | None = None,
        alphabet: str | None = None,
        normalize: bool = True,
        spoken: int | None = None,
    ) -> None:
        """Emit a span speaking `text` for `written` (the document's collapsed text): billed as
        `written` without edge spaces, or as `spoken` characters when that is given (a `<sub>`
        alias, `<phoneme>` symbols: what is said, not what is written), plus one for the space
        that separates it from the text before it. Raises (through the parser) `InputTooLong`
        as soon as the document's billed characters pass the caller's limit."""
        separated = self.had_text and (
            written.startswith(" ") or self.pending_space or self.ended_space
        )
        if separated and not self.ended_space and not text.startswith(" "):
            text = " " + text  # words never glue together ...
        elif self.ended_space and text.startswith(" "):
            text = text[1:]  # ... and the spans' texts joined have no double space
        chars = (len(written.strip(" ")) if spoken is None else spoken) + (1 if separated else 0)
        self.characters += chars
        if self.max_characters is not None and self.characters > self.max_characters:
            raise Stop(InputTooLong(self.max_characters))
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

    def emit(self, item: Item, frame: Frame) -> None:
        if frame.mode != "normal" or frame.owner is not None:
            return
        if isinstance(item, Boundary) and (not self.items or self.items[-1] == item):
            return  # nothing to end, or ended already
        self.items.append(item)

    def warn(self, line: int, column: int, problem: str) -> None:
        self.warnings.append(f"Line {line}, column {column}: {problem}")
