"""Telephony output: real-time pacing and the Twilio Media Streams messages that carry 20 ms
frames (the frames themselves: `synthesis.audio.telephony.Framer`)."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

# The events of Twilio Media Streams messages, either direction.
TWILIO_EVENTS = frozenset({"clear", "connected", "dtmf", "mark", "media", "start", "stop"})
# Those Twilio takes from the application on a bidirectional stream: anything else it refuses
# (its errors 31951 and 31924), so they are all that Twilio-only output sends.
TWILIO_OUTBOUND_EVENTS = frozenset({"clear", "mark", "media"})


class Pacer:
    """Real-time pacing: frame n (starting at audio time t ms) is released no earlier than
    start + t - head_start."""

    def __init__(
        self,
        *,
        head_start_ms: float = 200.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.head_start_ms = head_start_ms
        self._clock = clock
        self._sleep = sleep
        self._start: float | None = None

    async def wait(self, audio_ms: float) -> None:
        """Waits until the frame starting at `audio_ms` of the utterance may leave. The first
        call (after construction or `reset`) starts the clock."""
        now = self._clock()
        if self._start is None:
            self._start = now
        delay = self._start + (audio_ms - self.head_start_ms) / 1000.0 - now
        if delay > 0:
            await self._sleep(delay)

    def reset(self) -> None:
        """A new utterance: the next `wait` starts the clock again."""
        self._start = None


def twilio_media(stream_sid: str, payload: bytes) -> dict[str, object]:
    """A Twilio Media Streams `media` message carrying `payload` (8 kHz μ-law)."""
    return {
        "event": "media",
        "streamSid": stream_sid,
        "media": {"payload": base64.b64encode(payload).decode("ascii")},
    }


def twilio_mark(stream_sid: str, name: str) -> dict[str, object]:
    """A Twilio Media Streams `mark` message."""
    return {"event": "mark", "streamSid": stream_sid, "mark": {"name": name}}


def twilio_clear(stream_sid: str) -> dict[str, object]:
    """A Twilio Media Streams `clear` message: Twilio drops the audio it has not played yet."""
    return {"event": "clear", "streamSid": stream_sid}


def twilio_event(message: object) -> str | None:
    """The `event` of a Twilio Media Streams message ("clear", "mark", "media", "start", "stop",
    "connected", "dtmf"), else None (not an object, no `event`, or another event)."""
    if not isinstance(message, dict):
        return None
    event = message.get("event")
    if isinstance(event, str) and event in TWILIO_EVENTS:
        return event
    return None
