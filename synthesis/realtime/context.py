"""One realtime context: a synthesis whose text arrives as it is written, from `start` to its
end (done, cancelled or failed).

    text pieces ─► TextBuffer ─units─► producer: plan each unit → a job (opened once the unit
                                       before has its first audio) ─► `planned` ─► the speaker

Each context is one synthesis (`synthesis.services`): one admission, one usage record, billed
for the segments whose audio was sent when it ends early. Nothing is sent for a context after
its `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from redis.exceptions import RedisError

from billing.models import UsageRecord
from callwaiting_tts import tts_metrics
from callwaiting_tts.backpressure import Probe
from callwaiting_tts.errors import ApplicationError, redis_lost
from synthesis.realtime.buffer import TextBuffer
from synthesis.realtime.messages import Options
from synthesis.realtime.output import Output, Send
from synthesis.realtime.telephony import twilio_clear
from synthesis.services import Synthesis, synthesis_end, synthesis_open, synthesis_plan_unit
from synthesis.stream import JobStream, worker_lost
from synthesis.text.model import Plan

logger = logging.getLogger(__name__)
Status = UsageRecord.Status


@dataclass(frozen=True)
class TextUnit:
    text: str


@dataclass(frozen=True)
class ClientMark:
    name: str


@dataclass(frozen=True)
class End:
    pass


@dataclass(frozen=True)
class Planned:
    """A unit handed to a worker: its stream and where its segments sit in the context.
    `first_audio` is set once its first chunk arrived (or it ended without one)."""

    stream: JobStream
    plan: Plan
    offset: int
    first_audio: asyncio.Event = field(default_factory=asyncio.Event)


Item = TextUnit | ClientMark | End
Spoken = Planned | ClientMark | End | ApplicationError


class Context:
    def __init__(
        self,
        *,
        context_id: str,
        options: Options,
        synthesis: Synthesis,
        send: Send,
        report: Callable[[ApplicationError, str | None], Awaitable[None]],
        send_ahead_ms: float,
        unsent: Probe | None = None,
    ) -> None:
        self.id = context_id
        self.request_id = synthesis.request_id
        self.options = options
        self.synthesis = synthesis
        self.send = send
        self.report = report
        self.cancelled = asyncio.Event()
        self.output = Output(
            send,
            context_id=context_id,
            options=options,
            synthesis=synthesis,
            cancelled=self.cancelled,
            send_ahead_ms=send_ahead_ms,
            unsent=unsent,
            watch=self.check_workers,
        )
        # Units are cut under the engine's own segment limit, as HTTP input is.
        self.buffer = TextBuffer(max_chars=synthesis.engine.segment_limit(synthesis.voice.language))
        self.items: asyncio.Queue[Item] = asyncio.Queue()
        self.marks_pending = 0  # client marks queued, not yet sent back (bounded by the session)
        self.planned: asyncio.Queue[Spoken] = asyncio.Queue(maxsize=1)
        self.ended = False  # no more text will come
        self.finished = False
        self.producer: asyncio.Task[None] | None = None
        self.streams: list[JobStream] = []
        self.last_planned: Planned | None = None
        self.speaking = False  # the speaker has taken it
        self.spoken = asyncio.Event()  # the speaker let go of it
        self.cleanup: asyncio.Task[None] | None = None
        self.cancelled_at: float | None = None  # when the client's cancel came (monotonic)

    @property
    def billed_characters(self) -> int:
        """Text contexts: the characters of every `text` piece; SSML: its text content."""
        return self.synthesis.grown or self.synthesis.plan.characters

    @property
    def audio_ms_sent(self) -> int:
        return self.output.audio_ms_sent

    @property
    def writable(self) -> bool:
        return not (self.ended or self.finished or self.cancelled.is_set())

    async def check_workers(self) -> None:
        """Raises `worker_lost` when the worker of one of the context's jobs died before it
        made all its audio: the job being played, or the next unit's (which the context would
        not get). Run while its audio waits its turn (`Output.watch`): sending is paced up to
        WS_SEND_AHEAD_MS ahead of playback and the worker runs its credit window ahead of that,
        so without it the loss was learnt of only once all that audio had played (chaos/,
        "worker_killed"). A job that ended before its worker died is not lost: it plays."""
        for stream in self.streams:
            if await stream.worker_lost():
                raise worker_lost()

    async def event(self, message: dict[str, Any]) -> None:
        """Sends one of the service's own messages about this context (`started`, `mark`,
        `done`, `cancelled`): never to Twilio-only output, which takes Twilio's messages only."""
        if self.options.service_events:
            await self.send(message)

    # --- text in ---------------------------------------------------------------------------

    def add(self, text: str) -> None:
        for unit in self.buffer.add(text):
            self.items.put_nowait(TextUnit(unit))

    def flush(self) -> None:
        for unit in self.buffer.flush():
            self.items.put_nowait(TextUnit(unit))

    def end(self) -> None:
        self.flush()
        self.ended = True
        self.items.put_nowait(End())

    def mark(self, name: str) -> None:
        self.flush()
        self.marks_pending += 1
        self.items.put_nowait(ClientMark(name))

    # --- producing: units → jobs ---------------------------------------------------------

    def start_producing(self, first_plan: Plan | None) -> None:
        self.producer = asyncio.ensure_future(self._produce(first_plan))

    async def _produce(self, first_plan: Plan | None) -> None:
        """Units → plans → jobs, in order, at most one job ahead of the one being spoken."""
        try:
            if first_plan is not None:
                await self._open(first_plan)
            while not self.cancelled.is_set():
                item = await self.items.get()
                if isinstance(item, TextUnit):
                    plan = await synthesis_plan_unit(self.synthesis, item.text)
                    if plan is not None:  # None: only punctuation, nothing to say
                        await self._open(plan)
                else:
                    await put_unless_cancelled(self, item)
                    if isinstance(item, End):
                        return
        except ApplicationError as error:  # SynthesisFailed too
            await put_unless_cancelled(self, error)
        except (RedisError, OSError):
            logger.warning("lost Redis while starting a job", extra={"context": self.id})
            await put_unless_cancelled(self, redis_lost())
        except Exception:
            logger.exception("could not start a job", extra={"context": self.id})
            await put_unless_cancelled(self, internal_error())

    async def _open(self, plan: Plan) -> None:
        # The next unit's job starts once the one before has its first audio: started at once,
        # it would take CPU from that first audio (both at once on a worker, or on the other
        # core beside it), and first audio is what the caller waits for. It is still made
        # while the unit before plays, far faster than real time.
        previous = self.last_planned
        if previous is not None and not previous.first_audio.is_set():
            waiting = asyncio.ensure_future(previous.first_audio.wait())
            if not await wait_unless_cancelled(waiting, self.cancelled):
                waiting.cancel()
                return
        synthesis = self.synthesis
        offset = len(synthesis.plan.segments)
        synthesis.plan = Plan(
            segments=[*synthesis.plan.segments, *plan.segments],
            characters=synthesis.plan.characters + plan.characters,
        )
        stream = await synthesis_open(synthesis, plan)
        self.streams.append(stream)
        if self.cancelled.is_set():
            await stream.close()
            return
        planned = Planned(stream, plan, offset)
        self.last_planned = planned
        if not await put_unless_cancelled(self, planned):
            await stream.close()

    # --- ending ----------------------------------------------------------------------------

    async def cancel(
        self, *, reason: str = "cancelled", clear: bool = True, played_ms: int | None = None
    ) -> None:
        """Stops the context now: acknowledged before anything else can be sent for it, with
        the text heard up to `played_ms` of its audio (the client's playback point; None: all
        the audio sent). With Twilio output, the audio Twilio still holds of it is dropped (a
        Twilio `clear`, unless `clear` is False: a barge-in sends one for the whole socket)."""
        if self.finished or self.cancelled.is_set():
            return
        self.cancelled.set()
        self.cancelled_at = time.monotonic()
        self.synthesis.played_ms = played_ms
        sid = self.options.stream_sid
        if clear and sid is not None and self.output.samples_sent:
            await self.send(twilio_clear(sid))
        await self.event(
            {
                "type": "cancelled",
                "context_id": self.id,
                "audio_ms_sent": self.audio_ms_sent,
                "text_spoken": self.synthesis.text_spoken(Status.CANCELLED),
            }
        )
        self.finish(Status.CANCELLED, error_code="" if reason == "cancelled" else reason)

    async def fail(self, error: ApplicationError) -> None:
        """Ends the context with `error`, reported to the client (in Twilio-only mode that
        closes the socket, which may cancel the caller: the context is settled first)."""
        if self.finished:
            return
        self.cancelled.set()
        self.finish(Status.FAILED, error_code=error.code)
        await self.report(error, self.id)

    def finish(self, status: str, error_code: str = "") -> None:
        """Ends the context once: its jobs are cancelled at the workers, then (in the background,
        after the speaker has let go of it) its usage is recorded and its lease released."""
        if self.finished:
            return
        self.finished = True
        if status != Status.COMPLETED:
            self.cancelled.set()
        if not self.speaking:  # never reached the speaker: nothing to wait for
            self.spoken.set()
        self.items.put_nowait(End())  # wakes a producer waiting for text; it then stops
        self.cleanup = asyncio.ensure_future(self._clean_up(status, error_code))

    async def _clean_up(self, status: str, error_code: str) -> None:
        synthesis = self.synthesis
        try:
            for stream in self.streams:
                with contextlib.suppress(Exception):
                    await stream.close()
            while not self.planned.empty():
                self.planned.get_nowait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.spoken.wait(), 5)
            self._count_cancel()
            synthesis.plan = replace(synthesis.plan, characters=self.billed_characters)
        except Exception:
            logger.exception("could not wind a realtime context down", extra={"context": self.id})
        finally:
            # Always recorded (its record is open since `start`), even when it billed nothing:
            # closing it settles the admission; a failure leaves it to the reaper.
            await synthesis_end(synthesis, status, error_code)

    def _count_cancel(self) -> None:
        """Cancel to the last frame sent, once the speaker let go (no frame can follow): 0
        when none left after the cancel came."""
        if self.cancelled_at is None:
            return
        last = self.output.last_frame_at
        after = max(0.0, last - self.cancelled_at) if last is not None else 0.0
        tts_metrics.CANCEL_TO_LAST_FRAME.labels(endpoint="ws").observe(after)


def internal_error() -> ApplicationError:
    return ApplicationError("The context failed.", code="internal_error", status=500)


async def wait_unless_cancelled(task: asyncio.Future[Any], cancelled: asyncio.Event) -> bool:
    """Waits for `task`; False (leaving it running) if the context is cancelled first."""
    if cancelled.is_set():
        return task.done()
    stop = asyncio.ensure_future(cancelled.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    return task.done()


async def next_unless_cancelled(getter: Awaitable[Any], cancelled: asyncio.Event) -> Any:
    """The next item of a queue, or None as soon as the context is cancelled."""
    get = asyncio.ensure_future(getter)
    if await wait_unless_cancelled(get, cancelled):
        return get.result()
    get.cancel()  # a queue get: safe to cancel
    return None


async def put_unless_cancelled(context: Context, item: Spoken) -> bool:
    """Hands an item to the speaker, unless the context is cancelled first (False)."""
    if context.cancelled.is_set():
        return False
    put = asyncio.ensure_future(context.planned.put(item))
    if await wait_unless_cancelled(put, context.cancelled):
        return True
    put.cancel()  # a queue put: safe to cancel
    return False
