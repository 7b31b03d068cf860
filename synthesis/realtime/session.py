"""One realtime socket's contexts: the handlers of the client's messages, each a parse
(`messages`) and a call (`synthesis.services`, a `Context`); the speaker that speaks them in
start order (`speaker`); and what keeps their admissions alive.

    client ──start/text/flush/end/mark/cancel──► Session ──► Context (one synthesis each)
                                                          └─► Speaker ─► Output ─► client
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError

from billing.admission import CONCURRENCY_LIMIT_EXCEEDED, AdmissionRefused, LeaseLost
from billing.models import UsageRecord
from callwaiting_tts.backpressure import Probe
from callwaiting_tts.errors import ApplicationError, redis_lost
from synthesis.realtime.context import Context
from synthesis.realtime.messages import parse_mark, parse_played_ms, parse_start, parse_text
from synthesis.realtime.output import Send
from synthesis.realtime.speaker import Speaker
from synthesis.realtime.telephony import twilio_clear
from synthesis.services import synthesis_admit, synthesis_grow
from synthesis.text.model import Plan
from tenants.principal import Principal

logger = logging.getLogger(__name__)
Status = UsageRecord.Status

# The socket's code for a concurrency refusal since protocol v1 (HTTP says ..._exceeded).
SOCKET_CONCURRENCY_CODE = "concurrency_limit"
# Ids of dropped (finished) contexts remembered, to answer `context_finished`, not unknown.
FINISHED_IDS_KEPT = 64

# Reports an error about a context (its id) to the client: an `error` message, or in
# Twilio-only mode the socket's close (the consumer's `report`).
Report = Callable[[ApplicationError, str | None], Awaitable[None]]


class Session:
    def __init__(
        self,
        principal: Principal,
        request_id: str,
        send: Send,
        *,
        report: Report,
        unsent: Probe | None = None,
    ) -> None:
        self.principal = principal
        self.report = report
        self.unsent = unsent  # the bytes the socket holds unsent, where the server tells
        self.request_id = request_id
        self._send = send
        # Open contexts, and finished ones until the next tick drops them.
        self.contexts: dict[str, Context] = {}
        self.active_at: dict[str, float] = {}  # per context: last input, or last work to do
        self.finished_ids: deque[str] = deque(maxlen=FINISHED_IDS_KEPT)
        self.cleanups: set[asyncio.Task[None]] = set()  # of dropped contexts, still running
        self.latest: Context | None = None
        self.closed = False
        # Twilio-only mode (docs/websocket.md, "Twilio"): set by a `start` that asks for it, even
        # one then refused; cleared by a context started with other output.
        self.twilio_only = False
        self.speaker = Speaker()

    # --- client messages -----------------------------------------------------------------

    async def start(self, message: dict[str, Any]) -> None:
        start = parse_start(message)
        context_id = start.context_id or f"ctx_{uuid.uuid4().hex[:16]}"
        self._drop_finished()  # a finished context's id may be used again
        if context_id in self.contexts:
            raise ApplicationError(
                f"Context {context_id!r} is already open.",
                code="context_exists",
                param="context_id",
                status=409,
            )
        if sum(not c.finished for c in self.contexts.values()) >= settings.WS_MAX_CONTEXTS:
            raise ApplicationError(
                f"At most {settings.WS_MAX_CONTEXTS} contexts may be open on one socket.",
                code="too_many_contexts",
            )
        try:
            synthesis = await synthesis_admit(
                principal=self.principal, data=start.synthesis_input(), request_id=self.request_id
            )
        except AdmissionRefused as refused:
            code = refused.code
            if code == CONCURRENCY_LIMIT_EXCEEDED:
                code = SOCKET_CONCURRENCY_CODE
            raise ApplicationError(refused.message, code=code, status=429) from None
        except (RedisError, OSError):
            raise redis_lost() from None
        # SSML is known whole: its plan is the first unit. Text arrives piece by piece.
        first_plan = synthesis.plan if start.ssml is not None else None
        synthesis.plan = Plan(segments=[], characters=0)  # grows as units are handed out
        context = Context(
            context_id=context_id,
            options=start.options,
            synthesis=synthesis,
            send=self.send,
            report=self.report,
            send_ahead_ms=settings.WS_SEND_AHEAD_MS,
            unsent=self.unsent,
        )
        self.contexts[context_id] = context
        self.active_at[context_id] = time.monotonic()
        self.latest = context
        self.twilio_only = start.options.twilio_only
        context.start_producing(first_plan)
        self.speaker.queue(context)
        await context.event(
            {
                "type": "started",
                "context_id": context_id,
                "format": start.options.format,
                "sample_rate": start.options.sample_rate,
            }
        )
        if start.ssml is not None:
            context.end()
        elif start.text:
            await self.text({"text": start.text, "context_id": context_id})

    async def text(self, message: dict[str, Any]) -> None:
        context = self._context(message, writable=True)
        text = parse_text(message)
        try:
            await synthesis_grow(context.synthesis, len(text))
        except ApplicationError as refused:  # over the length limit or the quota
            await context.cancel(reason=refused.code)
            raise
        context.add(text)
        if message.get("flush"):
            context.flush()

    async def flush(self, message: dict[str, Any]) -> None:
        self._context(message, writable=True).flush()

    async def end(self, message: dict[str, Any]) -> None:
        self._context(message, writable=True).end()

    async def mark(self, message: dict[str, Any]) -> None:
        context = self._context(message, writable=True)
        name = parse_mark(message)
        limit = settings.WS_MAX_PENDING_MARKS
        if context.marks_pending >= limit:
            raise ApplicationError(
                f"At most {limit} marks may wait for their audio in one context.",
                code="too_many_marks",
                param="name",
            )
        context.mark(name)

    async def cancel(self, message: dict[str, Any]) -> None:
        played_ms = parse_played_ms(message)
        if message.get("context_id") is None:  # barge-in: everything on the socket
            # Contexts do not interleave: only the one playing has audio that `played_ms`
            # (counted in each context's own audio) can reach.
            for context in list(self.contexts.values()):
                if not context.finished:
                    await context.cancel(clear=False, played_ms=played_ms)
            await self._clear_twilio()
            return
        context = self._context(message, writable=False)
        if context.finished:
            raise ApplicationError(
                f"Context {context.id!r} has already finished.",
                code="context_finished",
                param="context_id",
                status=409,
            )
        await context.cancel(played_ms=played_ms)

    # --- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """The socket is gone: cancel every context (usage recorded as cancelled)."""
        self.closed = True
        for context in list(self.contexts.values()):
            if not context.finished:
                context.cancelled.set()
                context.finish(Status.CANCELLED)
            self._drop(context)
        await self.speaker.close()
        if self.cleanups:
            await asyncio.wait(set(self.cleanups), timeout=10)

    async def tick(self) -> None:
        """Called about once a second: drops finished contexts (bounded memory on a long-lived
        socket) and ends those with nothing left to speak that got no text, flush, end or mark
        for WS_CONTEXT_IDLE_TIMEOUT_SECONDS, freeing their concurrency slots; and those whose
        lease the process's lease keeper (`billing.keeper`, which renews them) found taken."""
        now = time.monotonic()
        limit = settings.WS_CONTEXT_IDLE_TIMEOUT_SECONDS
        self._drop_finished()
        for context in list(self.contexts.values()):
            admission = context.synthesis.admission
            if not context.finished and admission is not None and admission.lost:
                await context.fail(LeaseLost())
            elif self._has_work(context):
                self.active_at[context.id] = now
            elif now - self.active_at[context.id] > limit:
                await context.fail(
                    ApplicationError(
                        f"Nothing was sent to this context for {limit:g} seconds; it was ended.",
                        code="context_idle_timeout",
                        status=408,
                    )
                )

    def busy(self) -> bool:
        """Whether any context has something left to speak (the socket is not idle then)."""
        return any(self._has_work(c) for c in self.contexts.values())

    async def send(self, message: dict[str, Any] | bytes) -> None:
        if not self.closed:
            await self._send(message)

    # --- internals -----------------------------------------------------------------------

    async def _clear_twilio(self) -> None:
        """A barge-in while Twilio plays this socket's audio: one Twilio `clear` empties its
        buffer, which may still hold contexts that finished here long ago (audio leaves faster
        than it plays)."""
        latest = self.latest
        if latest is not None and latest.options.stream_sid is not None:
            await self.send(twilio_clear(latest.options.stream_sid))

    def _has_work(self, context: Context) -> bool:
        """Something left to speak: ended (it finishes by itself), text or marks not yet taken
        by its producer, a unit or mark waiting for the speaker, or a unit being played.
        Buffered text short of a speakable piece waits for the client: that is idle."""
        if context.finished:
            return False
        return (
            context.ended
            or not context.items.empty()
            or not context.planned.empty()
            or self.speaker.playing is context
        )

    def _drop_finished(self) -> None:
        for context in list(self.contexts.values()):
            if context.finished:
                self._drop(context)

    def _drop(self, context: Context) -> None:
        """Forgets a finished context; its clean-up (usage record, lease) runs on, awaited by
        `close`."""
        self.contexts.pop(context.id, None)
        self.active_at.pop(context.id, None)
        self.finished_ids.append(context.id)
        cleanup = context.cleanup
        if cleanup is not None and not cleanup.done():
            self.cleanups.add(cleanup)
            cleanup.add_done_callback(self.cleanups.discard)

    def _context(self, message: dict[str, Any], *, writable: bool) -> Context:
        context_id = message.get("context_id")
        if context_id is None:
            context = self.latest
            if context is None:
                raise ApplicationError(
                    "Send a start message first.", code="no_context", param="context_id"
                )
        else:
            context = self.contexts.get(context_id) if isinstance(context_id, str) else None
            if context is None and context_id in self.finished_ids:
                raise ApplicationError(
                    f"Context {context_id!r} has already finished.",
                    code="context_closed" if writable else "context_finished",
                    param="context_id",
                    status=409,
                )
            if context is None:
                raise ApplicationError(
                    f"No context {context_id!r} on this socket.",
                    code="unknown_context",
                    param="context_id",
                )
        if writable and not context.writable:
            raise ApplicationError(
                f"Context {context.id!r} takes no more text (ended or cancelled).",
                code="context_closed",
                param="context_id",
                status=409,
            )
        if writable:  # text, flush, end or mark: the client still uses it
            self.active_at[context.id] = time.monotonic()
        return context
