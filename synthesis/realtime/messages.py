"""The realtime protocol's client messages, validated: a bad one raises an ApplicationError that
names the field (the socket answers it with an `error` and stays open). Protocol:
docs/websocket.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.serializers import checked_language
from callwaiting_tts_client.protocol import (
    AUDIO_FORMATS,
    DEFAULT_FORMAT,
    DEFAULT_PCM_RATE,
    ENCODINGS,
    G711_RATE,
    OUTPUTS,
    PACINGS,
    TWILIO_FORMAT,
)
from synthesis.audio.formats import check_format
from synthesis.services import SynthesisInput

CONTEXT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_MARK_NAME = 256


def invalid(message: str, param: str | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_request", param=param)


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
        )


def parse_start(message: dict[str, Any]) -> Start:
    context_id = message.get("context_id")
    if context_id is not None and (
        not isinstance(context_id, str) or not CONTEXT_ID.match(context_id)
    ):
        raise invalid("context_id: up to 64 letters, digits, '-', '_' or '.'.", "context_id")
    options = parse_options(message)
    ssml, text = message.get("ssml"), message.get("text")
    if ssml is not None and not isinstance(ssml, str):
        raise invalid("ssml must be a string.", "ssml")
    if text is not None and not isinstance(text, str):
        raise invalid("text must be a string.", "text")
    return Start(context_id=context_id, options=options, text=text, ssml=ssml)


def parse_text(message: dict[str, Any]) -> str:
    text = message.get("text")
    if not isinstance(text, str):
        raise invalid("text must be a string.", "text")
    return text


def parse_mark(message: dict[str, Any]) -> str:
    name = message.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_MARK_NAME:
        raise invalid("A mark needs a name (a string).", "name")
    return name


def parse_options(message: dict[str, Any]) -> Options:
    """The `start` message's settings, validated."""
    options = Options()
    output = message.get("output", OUTPUTS[0])
    if output not in OUTPUTS:
        raise invalid("output must be 'raw' or 'twilio'.", "output")
    options.output = output
    if output == "twilio":
        sid = message.get("stream_sid")
        if not isinstance(sid, str) or not sid:
            raise invalid("output 'twilio' needs the stream's stream_sid.", "stream_sid")
        options.stream_sid, options.format, options.encoding = sid, TWILIO_FORMAT, "json"
        options.sample_rate = G711_RATE
    else:
        fmt = message.get("format", DEFAULT_FORMAT)
        if fmt not in AUDIO_FORMATS:
            raise invalid(f"format must be one of {', '.join(AUDIO_FORMATS)}.", "format")
        rate = message.get("sample_rate")
        if rate is not None and not isinstance(rate, int):
            raise invalid("sample_rate must be an integer.", "sample_rate")
        try:
            options.format, options.sample_rate = check_format(fmt, rate)
        except ValueError as error:
            raise invalid(str(error), "sample_rate") from None
        encoding = message.get("encoding", ENCODINGS[0])
        if encoding not in ENCODINGS:
            raise invalid("encoding must be 'binary' or 'json'.", "encoding")
        options.encoding = encoding
    pacing = message.get("pacing", PACINGS[0])
    if pacing not in PACINGS:
        raise invalid("pacing must be 'none' or 'realtime'.", "pacing")
    options.pacing = pacing
    speed = message.get("speed", 1.0)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not 0.25 <= speed <= 4:
        raise invalid("speed must be a number from 0.25 to 4.", "speed")
    options.speed = float(speed)
    for name in ("voice", "language"):
        value = message.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            raise invalid(f"{name} must be a string.", name)
        setattr(options, name, value)
    options.language = checked_language(options.language)  # the HTTP API's list (one for all)
    return options
