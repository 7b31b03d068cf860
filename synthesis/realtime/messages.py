"""The realtime protocol's messages: `start` options, their validation, and the error types
that go with each code (the same as on HTTP). Protocol: docs/websocket.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from synthesis.audio.formats import check_format

CONTEXT_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
WS_FORMATS = ("pcm", "mulaw", "alaw")


class ContextError(Exception):
    """A bad message about a context: answered with an error, the socket stays open."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


@dataclass
class Options:
    voice: str | None = None
    language: str | None = None
    speed: float = 1.0
    format: str = "pcm"
    sample_rate: int = 24000
    encoding: str = "binary"  # binary | json
    output: str = "raw"  # raw | twilio
    pacing: str = "none"  # none | realtime
    stream_sid: str | None = None


def parse_options(message: dict[str, Any]) -> Options:
    """The `start` message's settings, validated (ContextError names the field)."""
    options = Options()
    output = message.get("output", "raw")
    if output not in ("raw", "twilio"):
        raise ContextError("invalid_request", "output must be 'raw' or 'twilio'.", "output")
    options.output = output
    if output == "twilio":
        sid = message.get("stream_sid")
        if not isinstance(sid, str) or not sid:
            raise ContextError(
                "invalid_request", "output 'twilio' needs the stream's stream_sid.", "stream_sid"
            )
        options.stream_sid, options.format, options.encoding = sid, "mulaw", "json"
        options.sample_rate = 8000
    else:
        fmt = message.get("format", "pcm")
        if fmt not in WS_FORMATS:
            raise ContextError(
                "invalid_request", f"format must be one of {', '.join(WS_FORMATS)}.", "format"
            )
        rate = message.get("sample_rate")
        if rate is not None and not isinstance(rate, int):
            raise ContextError("invalid_request", "sample_rate must be an integer.", "sample_rate")
        try:
            options.format, options.sample_rate = check_format(fmt, rate)
        except ValueError as error:
            raise ContextError("invalid_request", str(error), "sample_rate") from None
        encoding = message.get("encoding", "binary")
        if encoding not in ("binary", "json"):
            raise ContextError(
                "invalid_request", "encoding must be 'binary' or 'json'.", "encoding"
            )
        options.encoding = encoding
    pacing = message.get("pacing", "none")
    if pacing not in ("none", "realtime"):
        raise ContextError("invalid_request", "pacing must be 'none' or 'realtime'.", "pacing")
    options.pacing = pacing
    speed = message.get("speed", 1.0)
    if not isinstance(speed, int | float) or isinstance(speed, bool) or not 0.25 <= speed <= 4:
        raise ContextError("invalid_request", "speed must be a number from 0.25 to 4.", "speed")
    options.speed = float(speed)
    for name in ("voice", "language"):
        value = message.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            raise ContextError("invalid_request", f"{name} must be a string.", name)
        setattr(options, name, value)
    return options


_ERROR_TYPES = {
    "authentication_error": frozenset(
        {
            "missing_api_key",
            "invalid_api_key",
            "invalid_authorization_header",
            "api_key_revoked",
            "api_key_expired",
            "auth_timeout",
        }
    ),
    "permission_error": frozenset({"tenant_suspended", "insufficient_scope"}),
    "rate_limit_error": frozenset(
        {
            "too_many_failed_attempts",
            "too_many_connections",
            "concurrency_limit",
            "rate_limit_exceeded",
            "quota_exceeded",
        }
    ),
    "api_error": frozenset(
        {
            "no_workers",
            "queue_timeout",
            "worker_lost",
            "internal_error",
            "engine_error",
            "service_unavailable",
        }
    ),
}


def error_type(code: str) -> str:
    """The error `type` for a code, as on HTTP (callwaiting_tts/errors.py)."""
    for kind, codes in _ERROR_TYPES.items():
        if code in codes:
            return kind
    return "invalid_request_error"
