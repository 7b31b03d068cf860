"""A context's audio on its way to the client: encoded, framed (20 ms for telephony), paced,
sent in the client's shape (binary frames, JSON `audio` messages or Twilio `media`), with its
marks; and accounted for frame by frame, because what was sent is what is billed."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

from callwaiting_tts.backpressure import Probe, drain
from synthesis.audio.encode import AudioPipeline
from synthesis.audio.telephony import Framer
from synthesis.realtime.messages import Options
from synthesis.realtime.telephony import Pacer, twilio_mark, twilio_media
from synthesis.services import Synthesis

Send = Callable[[dict[str, Any] | bytes], Awaitable[None]]

REALTIME_HEAD_START_MS = 200.0
# At most this much audio per message: daphne refuses to send a message over its own limit
# (1 MiB; a 200-character sentence at 48 kHz is more), and smaller pieces pace more finely.
MAX_AUDIO_MESSAGE_BYTES = 32 * 1024  # even: whole 16-bit samples
# How often audio waiting its turn checks that the rest will come (`Output.watch`): a dead
# worker's heartbeat lapses in 1.5 s, so its context learns of it within about 2 s.
WATCH_SECONDS = 0.25


class Output:
    """Sends one context's audio and marks. Sends nothing once `cancelled` is set."""

    def __init__(
        self,
        send: Send,
        *,
        context_id: str,
        options: Options,
        synthesis: Synthesis,
        cancelled: asyncio.Event,
        send_ahead_ms: float,
        unsent: Probe | None = None,
        watch: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._send = send
        self.unsent = unsent
        self.context_id = context_id
        self.options = options
        self.synthesis = synthesis
        self.cancelled = cancelled
        self.rate = synthesis.stock.sample_rate
        self.pipeline = AudioPipeline(self.rate, options.format, options.sample_rate)
        telephony = options.format in ("mulaw", "alaw")
        self.framer = Framer.for_format(options.format, options.sample_rate) if telephony else None
        head_start = REALTIME_HEAD_START_MS if options.pacing == "realtime" else send_ahead_ms
        self.pacer = Pacer(head_start_ms=head_start, sleep=self._sleep)
        self.watch = watch
        self._watched = 0.0  # when `watch` last ran (the loop's clock)
        self.out_ms = 0.0
        self.bytes_per_ms = _bytes_per_ms(options.format, options.sample_rate)
        self.samples_sent = 0  # engine-rate samples sent to the client
        self.seq = 0  # JSON audio messages sent
        self.last_frame_at: float | None = None  # when the last audio frame went (monotonic)

    @property
    def audio_ms_sent(self) -> int:
        return self.samples_sent * 1000 // self.rate

    async def feed(self, pcm: bytes, segment: int) -> bool:
        """Sends the audio of `pcm` (engine-rate PCM of the context's segment `segment`);
        False once the context is cancelled. Raises SlowReader when the client takes nothing
        for TTS_SLOW_READER_SECONDS while the socket holds more than its buffer bound."""
        data = await asyncio.to_thread(self.pipeline.feed, pcm)
        frames = self.framer.push(data) if self.framer else _pieces(data)
        return await self._frames(frames, segment)

    async def finish(self) -> bool:
        """Sends what the encoder and framer still hold; False once cancelled."""
        tail = await asyncio.to_thread(self.pipeline.finish)
        frames = self.framer.push(tail) if self.framer else _pieces(tail)
        if self.framer:
            frames += self.framer.finish()
        return await self._frames(frames, None)

    async def _sleep(self, delay: float) -> None:
        """The pacer's wait: audio waiting its turn. Meanwhile `watch` runs every
        WATCH_SECONDS; when it raises (the audio still to come will not come), the frame that
        waited is not sent, so not billed, and the error ends the feed."""
        loop = asyncio.get_running_loop()
        end = loop.time() + delay
        while True:
            if self.watch is not None and loop.time() - self._watched >= WATCH_SECONDS:
                self._watched = loop.time()
                await self.watch()
            left = end - loop.time()
            if left <= 0:
                return
            await asyncio.sleep(min(left, WATCH_SECONDS))

    async def mark(self, name: str) -> None:
        """A mark, placed at the audio sent so far: the service's `mark` (unless the output is
        Twilio's only) and, with Twilio output, a Twilio mark."""
        if self.cancelled.is_set():
            return
        if self.options.service_events:
            await self._send(
                {
                    "type": "mark",
                    "context_id": self.context_id,
                    "name": name,
                    "time_ms": self.audio_ms_sent,
                }
            )
        if self.options.output == "twilio" and self.options.stream_sid:
            await self._send(twilio_mark(self.options.stream_sid, name))

    async def _frames(self, frames: list[bytes], segment: int | None) -> bool:
        for frame in frames:
            await self.pacer.wait(self.out_ms)
            await drain(self.unsent)  # a slow reader: wait (bounded), or SlowReader
            if self.cancelled.is_set():
                return False
            await self._frame(frame)
            self.last_frame_at = time.monotonic()
            ms = len(frame) / self.bytes_per_ms
            self.out_ms += ms
            samples = round(ms * self.rate / 1000)
            self.samples_sent += samples
            if segment is not None:
                self.synthesis.delivered(segment, samples)
            else:
                self.synthesis.samples_delivered += samples
        return not self.cancelled.is_set()

    async def _frame(self, frame: bytes) -> None:
        options = self.options
        if options.output == "twilio" and options.stream_sid:
            await self._send(twilio_media(options.stream_sid, frame))
        elif options.encoding == "json":
            self.seq += 1
            await self._send(
                {
                    "type": "audio",
                    "context_id": self.context_id,
                    "seq": self.seq,
                    "audio": base64.b64encode(frame).decode(),
                }
            )
        else:
            await self._send(frame)


def _pieces(data: bytes) -> list[bytes]:
    step = MAX_AUDIO_MESSAGE_BYTES
    return [data[start : start + step] for start in range(0, len(data), step)]


def _bytes_per_ms(fmt: str, sample_rate: int) -> float:
    return sample_rate / 1000 * (1 if fmt in ("mulaw", "alaw") else 2)
