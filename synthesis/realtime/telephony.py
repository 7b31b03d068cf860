"""Telephony output: 20 ms frames of 8 kHz, 8-bit audio (μ-law or A-law), real-time pacing,
and the Twilio Media Streams messages that carry them."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

FRAME_MS = 20
SAMPLE_RATE = 8000
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160: one byte a sample
# The byte of a zero sample in each codec (G.711): what pads the last frame.
SILENCE_BYTE = {"mulaw": 0xFF, "alaw": 0xD5}
# The events of Twilio Media Streams messages, either direction.
TWILIO_EVENTS = frozenset({"clear", "connected", "dtmf", "mark", "media", "start", "stop"})


class Framer:
    """Cuts a stream of 8 kHz, 8-bit telephony audio into 20 ms frames (160 bytes)."""

    def __init__(self, codec: str, frame_bytes: int = FRAME_BYTES) -> None:
        if codec not in SILENCE_BYTE:
            raise ValueError(
                f"Unknown telephony codec {codec!r}: expected one of {sorted(SILENCE_BYTE)}."
            )
        if frame_bytes < 1:
            raise ValueError("frame_bytes must be at least 1.")
        self.codec = codec
        self.frame_bytes = frame_bytes
        self._silence = bytes([SILENCE_BYTE[codec]])
        self._rest = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of their frame."""
        return len(self._rest)

    def feed(self, data: bytes) -> list[bytes]:
        """The complete frames `data` makes with what was held back; keeps the remainder."""
        self._rest += data
        size = self.frame_bytes
        whole = len(self._rest) - len(self._rest) % size
        frames = [bytes(self._rest[i : i + size]) for i in range(0, whole, size)]
        del self._rest[:whole]
        return frames

    def finish(self) -> list[bytes]:
        """The remainder padded to a full frame with the codec's silence, or [] if none."""
        if not self._rest:
            return []
        frame = bytes(self._rest) + self._silence * (self.frame_bytes - len(self._rest))
        self._rest.clear()
        return [frame]


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


def twilio_event(message: object) -> str | None:
    """The `event` of a Twilio Media Streams message ("clear", "mark", "media", "start", "stop",
    "connected", "dtmf"), else None (not an object, no `event`, or another event)."""
    if not isinstance(message, dict):
        return None
    event = message.get("event")
    if isinstance(event, str) and event in TWILIO_EVENTS:
        return event
    return None
