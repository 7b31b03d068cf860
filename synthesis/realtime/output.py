"""A context's audio on its way to the client: encoded, framed (20 ms for telephony), paced
and sent, and accounted for frame by frame (what was sent is what is billed)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from django.conf import settings

from synthesis.audio.encode import AudioPipeline
from synthesis.audio.telephony import Framer
from synthesis.realtime.telephony import Pacer

if TYPE_CHECKING:
    from synthesis.realtime.session import Context, Session

REALTIME_HEAD_START_MS = 200.0


class Output:
    """A context's audio on its way out: encoded, framed (20 ms for telephony), paced, sent, and
    accounted frame by frame (what was sent is what is billed)."""

    def __init__(self, session: Session, context: Context, pipeline: AudioPipeline) -> None:
        options = context.options
        self.session = session
        self.context = context
        self.pipeline = pipeline
        telephony = options.format in ("mulaw", "alaw")
        self.framer = Framer.for_format(options.format, options.sample_rate) if telephony else None
        head_start = (
            REALTIME_HEAD_START_MS if options.pacing == "realtime" else settings.WS_SEND_AHEAD_MS
        )
        self.pacer = Pacer(head_start_ms=head_start)
        self.out_ms = 0.0
        self.bytes_per_ms = _bytes_per_ms(options.format, options.sample_rate)

    async def feed(self, pcm: bytes, segment: int) -> bool:
        data = await asyncio.to_thread(self.pipeline.feed, pcm)
        frames = self.framer.push(data) if self.framer else ([data] if data else [])
        return await self._send(frames, segment)

    async def finish(self) -> bool:
        tail = await asyncio.to_thread(self.pipeline.finish)
        frames = self.framer.push(tail) if self.framer else ([tail] if tail else [])
        if self.framer:
            frames += self.framer.finish()
        return await self._send(frames, None)

    async def _send(self, frames: list[bytes], segment: int | None) -> bool:
        context = self.context
        for frame in frames:
            await self.pacer.wait(self.out_ms)
            if context.cancelled.is_set():
                return False
            await self.session._send_audio(context, frame)
            ms = len(frame) / self.bytes_per_ms
            self.out_ms += ms
            samples = round(ms * context.rate / 1000)
            context.samples_sent += samples
            if segment is not None:
                context.synthesis.delivered(segment, samples)
            else:
                context.synthesis.samples_delivered += samples
        return not context.cancelled.is_set()


def _bytes_per_ms(fmt: str, sample_rate: int) -> float:
    return sample_rate / 1000 * (1 if fmt in ("mulaw", "alaw") else 2)
