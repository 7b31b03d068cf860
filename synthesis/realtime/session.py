"""One realtime socket's contexts: text in as it is generated, audio out, barge-in.

    client ──start/text/flush/end/mark/cancel──► Session
        per context: TextBuffer ─units─► producer: prepare → JobStream (one job per unit,
                                          opened while the unit before is still speaking)
        one speaker for the socket: contexts in start order; per job a pump reads the worker's
        chunks (one at a time: the credit window holds the worker back) → encode → frames → send

Each context is one synthesis: one admission (billing.admission: rate limit, concurrency lease
shared with HTTP streams, quota reservation grown by each `text` piece), one usage record (billed
for the segments whose audio was sent when cancelled). Nothing is sent for a context after its
`cancelled`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from redis.exceptions import RedisError

from billing import admission as admission_service
from billing.admission import CONCURRENCY_LIMIT_EXCEEDED, Admission, AdmissionRefused
from billing.limits import check_plan
from billing.models import UsageRecord
from callwaiting_tts.errors import ApplicationError
from synthesis.audio.encode import AudioPipeline
from synthesis.realtime.buffer import TextBuffer
from synthesis.realtime.messages import CONTEXT_ID, ContextError, Options, error_type, parse_options
from synthesis.realtime.output import Output
from synthesis.realtime.telephony import twilio_mark, twilio_media
from synthesis.services import (
    Synthesis,
    SynthesisInput,
    plan_input,
    resolve_voice,
    synthesis_finish,
    unit_job,
)
from synthesis.stream import JobStream, SynthesisFailed
from synthesis.text.model import Plan
from synthesis.text.split import MAX_SEGMENT_CHARS
from tenants.auth import KeyPrincipal, key_problem

logger = logging.getLogger(__name__)
Status = UsageRecord.Status


Send = Callable[[dict[str, Any] | bytes], Awaitable[None]]


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


@dataclass
class Context:
    id: str
    options: Options
    synthesis: Synthesis
    admission: Admission
    buffer: TextBuffer = field(default_factory=TextBuffer)
    items: asyncio.Queue[TextUnit | ClientMark | End] = field(default_factory=asyncio.Queue)
    planned: asyncio.Queue[Planned | ClientMark | End | ContextError] = field(
        default_factory=lambda: asyncio.Queue(maxsize=1)
    )
    ended: bool = False
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False
    characters: int = 0
    max_characters: int = 5000  # the service's limit, or the plan's if lower
    seq: int = 0
    samples_sent: int = 0  # engine-rate samples sent to the client
    producer: asyncio.Task[None] | None = None
    streams: list[JobStream] = field(default_factory=list)
    last_planned: Planned | None = None
    speaking: bool = False  # the speaker has taken it
    spoken: asyncio.Event = field(default_factory=asyncio.Event)  # the speaker let go of it

    @property
    def billed_characters(self) -> int:
        """Text contexts: the characters of every `text` piece; SSML: its text content."""
        return self.characters or self.synthesis.plan.characters

    @property
    def rate(self) -> int:
        return self.synthesis.stock.sample_rate

    @property
    def audio_ms_sent(self) -> int:
        return self.samples_sent * 1000 // self.rate


class Session:
    def __init__(self, principal: KeyPrincipal, request_id: str, send: Send) -> None:
        self.principal = principal
        self.request_id = request_id
        self._send = send
        self.contexts: dict[str, Context] = {}
        self.latest: Context | None = None
        self.order: asyncio.Queue[Context] = asyncio.Queue()
        self.speaking: Context | None = None
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL)
        self.cleanups: set[asyncio.Task[None]] = set()
        self.speaker = asyncio.ensure_future(self._speaker())
        self.closed = False
        self.stop_renewing = asyncio.Event()
        self.renewer = asyncio.ensure_future(self._renew_admissions())

    # --- client messages -----------------------------------------------------------------

    async def start(self, message: dict[str, Any]) -> None:
        context_id = message.get("context_id")
        if context_id is None:
            context_id = f"ctx_{uuid.uuid4().hex[:16]}"
        elif not isinstance(context_id, str) or not CONTEXT_ID.match(context_id):
            raise ContextError(
                "invalid_request",
                "context_id: up to 64 letters, digits, '-', '_' or '.'.",
                "context_id",
            )
        if context_id in self.contexts:
            raise ContextError(
                "context_exists", f"Context {context_id!r} is already open.", "context_id"
            )
        open_contexts = [c for c in self.contexts.values() if not c.finished]
        if len(open_contexts) >= settings.WS_MAX_CONTEXTS:
            raise ContextError(
                "too_many_contexts",
                f"At most {settings.WS_MAX_CONTEXTS} contexts may be open on one socket.",
            )
        options = parse_options(message)
        ssml, text = message.get("ssml"), message.get("text")
        if ssml is not None and not isinstance(ssml, str):
            raise ContextError("invalid_request", "ssml must be a string.", "ssml")
        if text is not None and not isinstance(text, str):
            raise ContextError("invalid_request", "text must be a string.", "text")
        data = SynthesisInput(
            text=None,
            ssml=ssml,
            voice=options.voice,
            language=options.language,
            speed=options.speed,
            output_format=options.format,
            sample_rate=options.sample_rate,
            source="websocket",
        )
        await self._check_key()
        try:
            voice = await resolve_voice(self.principal, data)
            first_plan = (
                plan_input(data, language=voice.language, engine=voice.stock.engine)
                if ssml is not None
                else None
            )
            limits = await admission_service.limits_of(self.principal)
            check_plan(
                limits,
                engine=voice.stock.engine,
                output_format=options.format,
                characters=first_plan.characters if first_plan is not None else 0,
                param="ssml",
            )
        except ApplicationError as error:
            raise ContextError(error.code, error.message, error.param) from None
        synthesis_id = uuid.uuid4()
        # SSML is known whole: reserved now. Text is reserved piece by piece as it arrives.
        try:
            admission = await admission_service.admit_request(
                self.principal,
                characters=first_plan.characters if first_plan is not None else 0,
                lease_id=str(synthesis_id),
                limits=limits,
            )
        except AdmissionRefused as refused:
            code = refused.code
            if code == CONCURRENCY_LIMIT_EXCEEDED:
                code = "concurrency_limit"  # the socket's code since protocol v1
            raise ContextError(code, refused.message) from None
        except (RedisError, OSError):
            raise ContextError(*_REDIS_LOST) from None
        synthesis = Synthesis(
            id=synthesis_id,
            principal=self.principal,
            request_id=self.request_id,
            input=data,
            voice=voice,
            plan=Plan(segments=[], characters=0),
            started_at=_now(),
            admission=admission,
        )
        context = Context(id=context_id, options=options, synthesis=synthesis, admission=admission)
        context.buffer = TextBuffer(max_chars=MAX_SEGMENT_CHARS)
        context.max_characters = min(settings.TTS_MAX_INPUT_CHARACTERS, limits.max_input_characters)
        self.contexts[context_id] = context
        self.latest = context
        context.producer = asyncio.ensure_future(self._produce(context, first_plan))
        self.order.put_nowait(context)
        await self.send(
            {
                "type": "started",
                "context_id": context_id,
                "format": options.format,
                "sample_rate": options.sample_rate,
            }
        )
        if ssml is not None:
            context.ended = True
            context.items.put_nowait(End())
        elif text:
            await self.text({"text": text, "context_id": context_id})

    async def text(self, message: dict[str, Any]) -> None:
        context = self._context(message, writable=True)
        text = message.get("text")
        if not isinstance(text, str):
            raise ContextError("invalid_request", "text must be a string.", "text")
        if context.characters + len(text) > context.max_characters:
            await self.cancel_context(context, reason="input_too_long")
            raise ContextError(
                "input_too_long",
                f"A context takes at most {context.max_characters} characters; it was cancelled.",
                "text",
            )
        if not await self._reserve(context, len(text)):
            await self.cancel_context(context, reason="quota_exceeded")
            raise ContextError(
                "quota_exceeded",
                "This text would pass the account's monthly character quota; "
                "the context was cancelled.",
                "text",
            )
        context.characters += len(text)
        for unit in context.buffer.add(text):
            context.items.put_nowait(TextUnit(unit))
        if message.get("flush"):
            self._flush(context)

    async def flush(self, message: dict[str, Any]) -> None:
        self._flush(self._context(message, writable=True))

    async def end(self, message: dict[str, Any]) -> None:
        context = self._context(message, writable=True)
        self._flush(context)
        context.ended = True
        context.items.put_nowait(End())

    async def mark(self, message: dict[str, Any]) -> None:
        context = self._context(message, writable=True)
        name = message.get("name")
        if not isinstance(name, str) or not name or len(name) > 256:
            raise ContextError("invalid_request", "A mark needs a name (a string).", "name")
        self._flush(context)
        context.items.put_nowait(ClientMark(name))

    async def cancel(self, message: dict[str, Any]) -> None:
        if message.get("context_id") is None:  # barge-in: everything on the socket
            for context in list(self.contexts.values()):
                if not context.finished:
                    await self.cancel_context(context)
            return
        context = self._context(message, writable=False)
        if context.finished:
            raise ContextError(
                "context_finished", f"Context {context.id!r} has already finished.", "context_id"
            )
        await self.cancel_context(context)

    # --- lifecycle -----------------------------------------------------------------------

    async def cancel_context(self, context: Context, *, reason: str = "cancelled") -> None:
        """Stops the context now: acknowledged before anything else can be sent for it."""
        if context.finished or context.cancelled.is_set():
            return
        context.cancelled.set()
        await self.send(
            {"type": "cancelled", "context_id": context.id, "audio_ms_sent": context.audio_ms_sent}
        )
        await self._finish(
            context, Status.CANCELLED, error_code="" if reason == "cancelled" else reason
        )

    async def close(self) -> None:
        """The socket is gone: cancel every context (usage recorded as cancelled)."""
        self.closed = True
        for context in list(self.contexts.values()):
            if not context.finished:
                context.cancelled.set()
                await self._finish(context, Status.CANCELLED)
        self.speaker.cancel()
        with contextlib.suppress(BaseException):
            await self.speaker
        self.stop_renewing.set()  # not cancelled: it may be inside a redis-py call (ADR 0004)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(self.renewer), 5)
        if self.cleanups:
            await asyncio.wait(set(self.cleanups), timeout=10)
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    def busy(self) -> bool:
        return any(not c.finished for c in self.contexts.values())

    async def send(self, message: dict[str, Any] | bytes) -> None:
        if not self.closed:
            await self._send(message)

    # --- internals -----------------------------------------------------------------------

    async def _check_key(self) -> None:
        """The key and its tenant as they are now (one cache GET): a tenant suspended, or a key
        revoked, while the socket was open gets no new context."""
        problem = await database_sync_to_async(key_problem)(self.principal.prefix)
        if problem is not None:
            raise ContextError(problem.code, problem.message)

    async def _reserve(self, context: Context, characters: int) -> bool:
        """Grows the context's quota reservation; False when the text would pass the quota. A
        Redis failure lets the text through: the usage record still bills it."""
        try:
            return await admission_service.reserve_more(context.admission, characters)
        except (RedisError, OSError):
            logger.warning("could not reserve quota", extra={"context": context.id})
            return True

    async def _renew_admissions(self) -> None:
        """Keeps the concurrency leases of the socket's open contexts alive (a context may wait
        for text longer than a lease lives); stopped by an event, never cancelled."""
        every = settings.LEASE_TTL_MS / 3000
        while not self.stop_renewing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_renewing.wait(), every)
            for context in list(self.contexts.values()):
                if not context.finished and not self.stop_renewing.is_set():
                    with contextlib.suppress(Exception):  # a Redis blip: next time
                        await admission_service.renew(context.admission, force=True)

    def _context(self, message: dict[str, Any], *, writable: bool) -> Context:
        context_id = message.get("context_id")
        if context_id is None:
            context = self.latest
            if context is None:
                raise ContextError("no_context", "Send a start message first.", "context_id")
        else:
            context = self.contexts.get(context_id) if isinstance(context_id, str) else None
            if context is None:
                raise ContextError(
                    "unknown_context", f"No context {context_id!r} on this socket.", "context_id"
                )
        if writable and (context.ended or context.finished or context.cancelled.is_set()):
            raise ContextError(
                "context_closed",
                f"Context {context.id!r} takes no more text (ended or cancelled).",
                "context_id",
            )
        return context

    def _flush(self, context: Context) -> None:
        for unit in context.buffer.flush():
            context.items.put_nowait(TextUnit(unit))

    async def _produce(self, context: Context, first_plan: Plan | None) -> None:
        """Units → plans → jobs, in order, at most one job ahead of the one being spoken."""
        synthesis = context.synthesis
        try:
            if first_plan is not None:
                await self._open(context, first_plan)
            while not context.cancelled.is_set():
                item = await context.items.get()
                if isinstance(item, TextUnit):
                    try:
                        plan = plan_input(
                            replace(synthesis.input, text=item.text, ssml=None),
                            language=synthesis.voice.language,
                            engine=synthesis.stock.engine,
                        )
                    except ApplicationError as error:
                        if error.code == "empty_input":  # only punctuation: nothing to say
                            continue
                        raise ContextError(error.code, error.message, "text") from None
                    await self._open(context, plan)
                else:
                    await _put(context, item)
                    if isinstance(item, End):
                        return
        except ContextError as error:
            await _put(context, error)
        except SynthesisFailed as failure:
            await _put(context, ContextError(failure.code, failure.message))
        except (RedisError, OSError):
            logger.warning("lost Redis while starting a job", extra={"context": context.id})
            await _put(context, ContextError(*_REDIS_LOST))
        except Exception:
            logger.exception("could not start a job", extra={"context": context.id})
            await _put(context, ContextError("internal_error", "The context failed."))

    async def _open(self, context: Context, plan: Plan) -> None:
        # The next unit's job starts once the one before has its first audio: started at once,
        # it would take CPU from that first audio (both at once on a worker, or on the other
        # core beside it), and first audio is what the caller waits for. It is still made
        # while the unit before plays, far faster than real time.
        previous = context.last_planned
        if previous is not None and not previous.first_audio.is_set():
            waiting = asyncio.ensure_future(previous.first_audio.wait())
            if not await _wait_or_cancelled(waiting, context.cancelled):
                waiting.cancel()
                return
        synthesis = context.synthesis
        offset = len(synthesis.plan.segments)
        synthesis.plan = Plan(
            segments=[*synthesis.plan.segments, *plan.segments],
            characters=synthesis.plan.characters + plan.characters,
        )
        stream = await JobStream.open(unit_job(synthesis, plan))
        context.streams.append(stream)
        if context.cancelled.is_set():
            await stream.close()
            return
        planned = Planned(stream, plan, offset)
        context.last_planned = planned
        if not await _put(context, planned):
            await stream.close()

    async def _speaker(self) -> None:
        while True:
            context = await self.order.get()
            if context.finished:
                continue
            self.speaking = context
            context.speaking = True
            try:
                await self._speak(context)
            except Exception:
                logger.exception("realtime speaker failed", extra={"context": context.id})
                await self._fail(context, "internal_error", "The context failed.")
            finally:
                self.speaking = None

    async def _speak(self, context: Context) -> None:
        try:
            await self._speak_context(context)
        finally:
            context.spoken.set()

    async def _speak_context(self, context: Context) -> None:
        options = context.options
        pipeline = AudioPipeline(context.rate, options.format, options.sample_rate)
        out = Output(self, context, pipeline)
        while True:
            item = await _next_or_cancelled(context.planned.get(), context.cancelled)
            if item is None:  # cancelled
                return
            if isinstance(item, ContextError):
                await self._fail(context, item.code, item.message)
                return
            if isinstance(item, ClientMark):
                await self._mark(context, item.name)
                continue
            if isinstance(item, End):
                if not await out.finish():
                    return
                await self.send(
                    {
                        "type": "done",
                        "context_id": context.id,
                        "characters": context.billed_characters,
                        "audio_ms": context.audio_ms_sent,
                    }
                )
                await self._finish(context, Status.COMPLETED)
                return
            if not await self._play(context, item, out):
                return

    async def _play(self, context: Context, planned: Planned, out: Output) -> bool:
        """One unit's audio; False when the context ended (cancelled or failed)."""
        try:
            return await self._play_unit(context, planned, out)
        finally:
            planned.first_audio.set()

    async def _play_unit(self, context: Context, planned: Planned, out: Output) -> bool:
        synthesis = context.synthesis
        chunks = planned.stream.chunks()
        started: set[int] = set()
        while True:
            # Not cancellable (a redis-py read inside): on cancel it is left to end by itself,
            # which it does within a poll once the stream is closed.
            step = asyncio.ensure_future(chunks.__anext__())
            try:
                waited = await _wait_or_cancelled(step, context.cancelled)
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
            except SynthesisFailed as failure:
                await self._fail(context, failure.code, failure.message)
                return False
            except (RedisError, OSError):
                logger.warning("lost Redis mid-context", extra={"context": context.id})
                await self._fail(context, *_REDIS_LOST)
                return False
            planned.first_audio.set()
            segments = planned.plan.segments
            if chunk.segment not in started and chunk.segment < len(segments):
                started.add(chunk.segment)
                for name in segments[chunk.segment].marks:
                    await self._mark(context, name)
            synthesis.received(len(chunk.pcm) // 2)
            if not await out.feed(chunk.pcm, planned.offset + chunk.segment):
                return False
            if chunk.segment_end and chunk.segment < len(segments):
                for name in segments[chunk.segment].marks_after:
                    await self._mark(context, name)

    async def _mark(self, context: Context, name: str) -> None:
        if context.cancelled.is_set():
            return
        await self.send(
            {
                "type": "mark",
                "context_id": context.id,
                "name": name,
                "time_ms": context.audio_ms_sent,
            }
        )
        if context.options.output == "twilio" and context.options.stream_sid:
            await self.send(twilio_mark(context.options.stream_sid, name))

    async def _send_audio(self, context: Context, frame: bytes) -> None:
        options = context.options
        if options.output == "twilio" and options.stream_sid:
            await self.send(twilio_media(options.stream_sid, frame))
        elif options.encoding == "json":
            context.seq += 1
            await self.send(
                {
                    "type": "audio",
                    "context_id": context.id,
                    "seq": context.seq,
                    "audio": base64.b64encode(frame).decode(),
                }
            )
        else:
            await self.send(frame)

    async def _fail(self, context: Context, code: str, message: str) -> None:
        if context.finished:
            return
        context.cancelled.set()
        await self.send(
            {
                "type": "error",
                "context_id": context.id,
                "error": {
                    "type": error_type(code),
                    "code": code,
                    "message": message,
                    "param": None,
                    "request_id": self.request_id,
                },
            }
        )
        await self._finish(context, Status.FAILED, error_code=code)

    async def _finish(self, context: Context, status: str, error_code: str = "") -> None:
        """Ends the context once: its jobs are cancelled at the workers, then (in the background,
        after the speaker has let go of it) its usage is recorded and its lease released."""
        if context.finished:
            return
        context.finished = True
        if status != Status.COMPLETED:
            context.cancelled.set()
        if context.speaking is False:  # never reached the speaker: nothing to wait for
            context.spoken.set()
        context.items.put_nowait(End())  # wakes a producer waiting for text; it then stops
        task = asyncio.ensure_future(self._clean_up(context, status, error_code))
        self.cleanups.add(task)
        task.add_done_callback(self.cleanups.discard)

    async def _clean_up(self, context: Context, status: str, error_code: str) -> None:
        try:
            for stream in context.streams:
                with contextlib.suppress(Exception):
                    await stream.close()
            while not context.planned.empty():
                context.planned.get_nowait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(context.spoken.wait(), 5)
            synthesis = context.synthesis
            synthesis.plan = replace(synthesis.plan, characters=context.billed_characters)
            if synthesis.plan.characters:
                await database_sync_to_async(synthesis_finish)(
                    synthesis, status=status, error_code=error_code
                )
        except Exception:
            logger.exception("could not record a realtime context", extra={"context": context.id})
        finally:
            # Settled by synthesis_finish with what was billed; a second settle is a no-op,
            # and a context that billed nothing is settled here for nothing.
            with contextlib.suppress(Exception):
                await admission_service.settle(context.admission, billed_characters=0)


_REDIS_LOST = ("service_unavailable", "The connection to Redis was lost; start the context again.")


def _now() -> Any:
    from django.utils import timezone

    return timezone.now()


async def _next_or_cancelled(getter: Awaitable[Any], cancelled: asyncio.Event) -> Any:
    """The next item of a queue, or None as soon as the context is cancelled."""
    get = asyncio.ensure_future(getter)
    if await _wait_or_cancelled(get, cancelled):
        return get.result()
    get.cancel()  # a queue get: safe to cancel
    return None


async def _wait_or_cancelled(task: asyncio.Future[Any], cancelled: asyncio.Event) -> bool:
    """Waits for `task`; False (leaving it running) if the context is cancelled first."""
    if cancelled.is_set():
        return task.done()
    stop = asyncio.ensure_future(cancelled.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    return task.done()


async def _put(context: Context, item: Planned | ClientMark | End | ContextError) -> bool:
    """Hands an item to the speaker, unless the context is cancelled first (False)."""
    if context.cancelled.is_set():
        return False
    put = asyncio.ensure_future(context.planned.put(item))
    if await _wait_or_cancelled(put, context.cancelled):
        return True
    put.cancel()  # a queue put: safe to cancel
    return False


def _swallow(task: asyncio.Future[Any]) -> None:
    """Retrieves an abandoned task's outcome so that it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()
