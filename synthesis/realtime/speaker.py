"""The socket's one speaker: contexts are spoken one at a time, in the order they started.

Per context it takes what the producer planned (units with their job streams, marks, the end,
or an error), reads each unit's chunks one at a time (the credit window holds the worker back)
and hands them to the context's output; at the end it sends `done` and finishes the context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError, redis_lost
from synthesis.realtime.context import (
    ClientMark,
    Context,
    End,
    Planned,
    internal_error,
    next_unless_cancelled,
    wait_unless_cancelled,
)
from synthesis.stream import SynthesisFailed
from synthesis.timing import NO_SPANS

logger = logging.getLogger(__name__)
Status = UsageRecord.Status


class Speaker:
    def __init__(self) -> None:
        self.order: asyncio.Queue[Context] = asyncio.Queue()
        self.playing: Context | None = None  # the context whose unit is being played
        self.task = asyncio.ensure_future(self._run())

    def queue(self, context: Context) -> None:
        self.order.put_nowait(context)

    async def _run(self) -> None:
        while True:
            context = await self.order.get()
            if context.finished:
                continue
            context.speaking = True
            try:
                await self._speak(context)
            except ApplicationError as error:  # a slow reader (SlowReader), say
                await context.fail(error)
            except Exception:
                logger.exception("realtime speaker failed", extra={"context": context.id})
                await context.fail(internal_error())
            finally:
                context.spoken.set()

    async def _speak(self, context: Context) -> None:
        out = context.output
        while True:
            item = await next_unless_cancelled(context.planned.get(), context.cancelled)
            if item is None:  # cancelled
                return
            if isinstance(item, ApplicationError):
                await context.fail(item)
                return
            if isinstance(item, ClientMark):
                context.marks_pending -= 1
                await out.mark(item.name)
                continue
            if isinstance(item, End):
                if not await out.finish():
                    return
                await context.event(
                    {
                        "type": "done",
                        "context_id": context.id,
                        "characters": context.billed_characters,
                        "audio_ms": context.audio_ms_sent,
                    }
                )
                context.finish(Status.COMPLETED)
                return
            if not await self._play(context, item):
                return

    async def _play(self, context: Context, planned: Planned) -> bool:
        """One unit's audio; False when the context ended (cancelled or failed)."""
        self.playing = context
        try:
            return await self._play_unit(context, planned)
        finally:
            self.playing = None
            planned.first_audio.set()

    async def _play_unit(self, context: Context, planned: Planned) -> bool:
        out, synthesis = context.output, context.synthesis
        chunks = planned.stream.chunks()
        started: set[int] = set()
        segments = planned.plan.segments
        while True:
            # Not cancellable (a redis-py read inside): on cancel it is left to end by itself,
            # which it does within a poll once the stream is closed.
            step = asyncio.ensure_future(chunks.__anext__())
            try:
                waited = await wait_unless_cancelled(step, context.cancelled)
            except asyncio.CancelledError:  # the socket closed under us
                step.add_done_callback(_swallow)
                raise
            if not waited:
                step.add_done_callback(_swallow)
                return False
            try:
                chunk = step.result()
            except StopAsyncIteration:
                return True
            except (SynthesisFailed, RedisError, OSError) as error:
                await _fail(context, error)
                return False
            planned.first_audio.set()
            if chunk.segment not in started and chunk.segment < len(segments):
                started.add(chunk.segment)
                for name in segments[chunk.segment].marks:
                    await out.mark(name)
            index = planned.offset + chunk.segment
            words = synthesis.timed(
                index,
                chunk.pcm,
                at=synthesis.samples_synthesized,
                end=chunk.segment_end,
                spans=chunk.words if chunk.aligned else NO_SPANS,
            )
            synthesis.received(len(chunk.pcm) // 2)
            try:
                # A worker lost meanwhile raises (`Context.check_workers`).
                fed = await out.feed(chunk.pcm, index)
            except (SynthesisFailed, RedisError, OSError) as error:
                await _fail(context, error)
                return False
            if not fed:
                return False
            if words and context.options.timestamps == "word":
                await context.event(
                    {
                        "type": "words",
                        "context_id": context.id,
                        "words": [word.as_json() for word in words],
                    }
                )
            if chunk.segment_end and chunk.segment < len(segments):
                for name in segments[chunk.segment].marks_after:
                    await out.mark(name)

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(BaseException):  # its outcome is the cancellation asked for
            await self.task


async def _fail(context: Context, error: Exception) -> None:
    """Ends the context for its job's failure, or for lost Redis."""
    if isinstance(error, SynthesisFailed):
        await context.fail(error)
    else:
        logger.warning("lost Redis mid-context", extra={"context": context.id})
        await context.fail(redis_lost())


def _swallow(task: asyncio.Future[Any]) -> None:
    """Retrieves an abandoned task's outcome so that it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()
