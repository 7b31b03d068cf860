"""The realtime protocol's client messages, validated: a bad one raises an ApplicationError that
names the field (the socket answers it with an `error` and stays open). Protocol:
docs/websocket.md.

Two steps. `check_message` holds a message to its type's fields (the protocol's
MESSAGE_FIELDS): a field the type does not have, a value of the wrong JSON type or a missing
required field make it malformed (`MalformedMessage`: these, and only these with bad JSON and
unknown types, count towards the socket's bad-message limit). The `parse_*` functions then judge
the values: ranges, choices, formats and rates; refusing one is an answer, not a protocol fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.serializers import a_kind, checked_language, did_you_mean, json_kind
from callwaiting_tts_client.protocol import (
    AUDIO_FORMATS,
    DEFAULT_FORMAT,
    DEFAULT_PCM_RATE,
    ENCODINGS,
    G711_RATE,
    MESSAGE_FIELDS,
    OUTPUTS,
    PACINGS,
    REQUIRED_FIELDS,
    TIMESTAMPS,
    TWILIO_FORMAT,
    JsonType,
)
from pronunciations.selectors import MAX_PER_REQUEST
from synthesis.audio.formats import FormatError, check_format
from synthesis.services import SynthesisInput

CONTEXT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_MARK_NAME = 256


def invalid(message: str, param: str | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_request", param=param)


class MalformedMessage(ApplicationError):
    """A message that does not have its type's shape: an unknown field, a value of the wrong JSON
    type, a required field missing (`invalid_request`, naming the field)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message, code="invalid_request", param=param)


def _a(kind: str) -> str:
    # The socket says "a number" where HTTP says "a decimal number": its fields take any number.
    return "a number" if kind == "number" else a_kind(kind)


def _fits(value: object, wanted: JsonType) -> bool:
    """Booleans are not integers, floats are not integers (a rate of 8000.0 is refused)."""
    found = json_kind(value)
    return wanted == "any" or found == wanted or (wanted == "number" and found == "integer")


def check_message(kind: str, message: dict[str, Any], key: str = "type") -> dict[str, Any]:
    """`message` (of type `kind`, named by its `key`) held to MESSAGE_FIELDS[kind]: its fields
    with nulls left out (null is an optional field left out). Raises MalformedMessage naming the
    first unknown field, the first value of the wrong type or a missing required field."""
    fields = MESSAGE_FIELDS[kind]
    checked: dict[str, Any] = {}
    for name, value in message.items():
        if name == key:
            continue
        wanted = fields.get(name)
        if wanted is None:
            raise MalformedMessage(_unknown_field(kind, name, fields), name)
        if value is None and wanted != "any":
            continue
        if not _fits(value, wanted):
            found = json_kind(value)
            raise MalformedMessage(f"{name} must be {_a(wanted)}, not {_a(found)}.", name)
        checked[name] = value
    for name in REQUIRED_FIELDS.get(kind, ()):
        if name not in checked:
            raise MalformedMessage(f"A {kind} message needs {name} ({_a(fields[name])}).", name)
    return checked


def _unknown_field(kind: str, name: str, fields: dict[str, JsonType]) -> str:
    known = list(fields)
    close = did_you_mean(name, known)
    hint = f" Did you mean {close!r}?" if close else f" It has: {', '.join(known)}."
    return f"A {kind} message has no field {name!r}.{hint}"


@dataclass
class Options:
    voice: str | None = None
    language: str | None = None
    speed: float = 1.0
    format: str = DEFAULT_FORMAT
    sample_rate: int = DEFAULT_PCM_RATE
    encoding: str = ENCODINGS[0]  # binary | json
    output: str = OUTPUTS[0]  # raw | twilio
    pacing: str = PACINGS[0]  # none | realtime
    stream_sid: str | None = None
    # The service's own messages about the context (started, mark, done, cancelled, errors):
    # always with raw output; with Twilio output only when the start asks (`service_events`).
    service_events: bool = True
    timestamps: str = TIMESTAMPS[0]  # word: a `words` message after each segment's audio
    # Ids of the tenant's pronunciation dictionaries; None: its default, if any.
    pronunciation_dictionaries: tuple[str, ...] | None = None
    cache: bool = True  # False: units neither served from nor stored in the phrase cache

    @property
    def twilio_only(self) -> bool:
        """Only Twilio Media Streams messages may go out for this context."""
        return self.output == "twilio" and not self.service_events


def asks_for_twilio_only(message: dict[str, Any]) -> bool:
    """Whether a `start`, even one about to be refused, asks for Twilio-only output: its refusal
    must then take Twilio's shape too (docs/websocket.md, "Twilio")."""
    return message.get("output") == "twilio" and message.get("service_events") is not True


@dataclass(frozen=True)
class Start:
    """A `start`: the context's id (None: the server names it), its options and what it says
    at once (`ssml`, known whole; or the first `text`)."""

    context_id: str | None
    options: Options
    text: str | None
    ssml: str | None

    def synthesis_input(self) -> SynthesisInput:
        """The synthesis this context is: SSML, or text admitted empty that grows."""
        options = self.options
        return SynthesisInput(
            text=None,
            ssml=self.ssml,
            voice=options.voice,
            language=options.language,
            speed=options.speed,
            output_format=options.format,
            sample_rate=options.sample_rate,
            source="websocket",
            pronunciation_dictionaries=options.pronunciation_dictionaries,
            cache=options.cache,
        )


# The parsers take messages that passed `check_message`: fields known, of their JSON types.


def parse_start(message: dict[str, Any]) -> Start:
    context_id = message.get("context_id")
    if context_id is not None and not CONTEXT_ID.match(context_id):
        raise invalid("context_id: up to 64 letters, digits, '-', '_' or '.'.", "context_id")
    options = parse_options(message)
    return Start(
        context_id=context_id, options=options, text=message.get("text"), ssml=message.get("ssml")
    )


def parse_text(message: dict[str, Any]) -> str:
    text: str = message["text"]
    return text


def parse_mark(message: dict[str, Any]) -> str:
    name: str = message["name"]
    if not name or len(name) > MAX_MARK_NAME:
        raise invalid(f"A mark's name is 1 to {MAX_MARK_NAME} characters.", "name")
    return name


def parse_played_ms(message: dict[str, Any]) -> int | None:
    """A cancel's playback point: how much of the context's audio the client played."""
    played: int | None = message.get("played_ms")
    if played is not None and played < 0:
        raise invalid("played_ms: milliseconds of the context's audio, 0 or more.", "played_ms")
    return played


def parse_options(message: dict[str, Any]) -> Options:
    """The `start` message's settings, validated."""
    options = Options()
    output = message.get("output", OUTPUTS[0])
    if output not in OUTPUTS:
        raise invalid("output must be 'raw' or 'twilio'.", "output")
    options.output = output
    if output == "twilio":
        sid = message.get("stream_sid")
        if not sid:
            raise invalid("output 'twilio' needs the stream's stream_sid.", "stream_sid")
        # Twilio takes μ-law at 8 kHz in JSON `media` messages: anything else asked is refused,
        # not quietly replaced.
        for name, value in (("format", TWILIO_FORMAT), ("sample_rate", G711_RATE)):
            if message.get(name, value) != value:
                raise invalid(f"output 'twilio' is {TWILIO_FORMAT} at {G711_RATE} Hz.", name)
        if message.get("encoding", "json") != "json":
            raise invalid("output 'twilio' sends JSON messages: leave encoding out.", "encoding")
        options.stream_sid, options.format, options.encoding = sid, TWILIO_FORMAT, "json"
        options.sample_rate = G711_RATE
        options.service_events = message.get("service_events", False)
    else:
        if message.get("service_events") is False:
            raise invalid(
                "service_events: false needs output 'twilio' (raw output is the service's "
                "own messages).",
                "service_events",
            )
        fmt = message.get("format", DEFAULT_FORMAT)
        if fmt not in AUDIO_FORMATS:
            raise invalid(f"format must be one of {', '.join(AUDIO_FORMATS)}.", "format")
        try:
            options.format, options.sample_rate = check_format(fmt, message.get("sample_rate"))
        except FormatError as error:
            raise invalid(str(error), error.field) from None
        encoding = message.get("encoding", ENCODINGS[0])
        if encoding not in ENCODINGS:
            raise invalid("encoding must be 'binary' or 'json'.", "encoding")
        options.encoding = encoding
    timestamps = message.get("timestamps", TIMESTAMPS[0])
    if timestamps not in TIMESTAMPS:
        raise invalid("timestamps must be 'none' or 'word'.", "timestamps")
    options.timestamps = timestamps
    pacing = message.get("pacing", PACINGS[0])
    if pacing not in PACINGS:
        raise invalid("pacing must be 'none' or 'realtime'.", "pacing")
    options.pacing = pacing
    speed = message.get("speed", 1.0)
    if not 0.25 <= speed <= 4:
        raise invalid("speed must be a number from 0.25 to 4.", "speed")
    options.speed = float(speed)
    for name in ("voice", "language"):
        chosen: str | None = message.get(name)
        if chosen is not None and len(chosen) > 100:
            raise invalid(f"{name} must be a string of at most 100 characters.", name)
        setattr(options, name, chosen)
    options.language = checked_language(options.language)  # the HTTP API's list (one for all)
    options.pronunciation_dictionaries = _dictionaries(message.get("pronunciation_dictionaries"))
    cache = message.get("cache", True)
    if not isinstance(cache, bool):
        raise invalid("cache must be true or false.", "cache")
    options.cache = cache
    return options


def _dictionaries(named: list[Any] | None) -> tuple[str, ...] | None:
    """`pronunciation_dictionaries`, as the HTTP bodies take it: at most MAX_PER_REQUEST ids."""
    param = "pronunciation_dictionaries"
    if named is None:
        return None
    if len(named) > MAX_PER_REQUEST:
        raise invalid(f"{param}: at most {MAX_PER_REQUEST} dictionary ids.", param)
    for index, value in enumerate(named):
        if not isinstance(value, str) or not 0 < len(value) <= 100:
            raise invalid(f"{param}[{index}] must be a dictionary id (a string).", param)
    return tuple(named)
