"""The web side of a job: send it to a worker with room (or wait, boundedly, for one), wait for
the worker to accept it, receive its chunks in order, acknowledge each (the credit window), and
cancel it if the client goes away.

Sending reserves a slot on the live worker of the engine with the most free slots
(`contract.dispatch`, docs/adr/0007). With every worker full the job waits in the engine's wait
queue, at most `TTS_QUEUE_TIMEOUT_SECONDS` and behind at most `TTS_QUEUE_DEPTH - 1` others; past
either the answer is 503 (`queue_timeout`, `queue_full`) with `Retry-After`, as are `no_workers`
and a worker lost before it accepted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from django.conf import settings
from redis.exceptions import RedisError

from callwaiting_tts import tts_metrics
from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import async_client
from synthesis.contract import dispatch, messages
from synthesis.contract.jobs import Job, PrepareJob, WorkerStatus
from synthesis.contract.keys import Keys

POLL_SECONDS = 0.25
DONE_OR_ERROR = (messages.DONE, messages.ERROR)
# A job's reservation outlives its deadline by this much at most (the worker ends it at the
# deadline and frees the slot; this covers clocks that differ between hosts).
HOLD_MARGIN_SECONDS = 60
# The wait a 503 for want of capacity asks for: a slot frees when any stream ends, within
# seconds (docs/limits.md, "Worker capacity and the wait queue").
RETRY_AFTER_SECONDS = 2
# The 503s that mean "no capacity now; the same request later may succeed".
CAPACITY_ERRORS = frozenset(
    {"no_workers", "queue_full", "queue_timeout", "worker_lost", "worker_shutdown"}
)
# The capacity errors of a job no worker took (the others happen to a job a worker had).
REFUSALS = frozenset({"no_workers", "queue_full", "queue_timeout"})
# Names the web side's job connections in CLIENT LIST, per process (operators see which web
# process holds what; the Redis-blip test kills its own process's connections only).
CLIENT_NAME = f"cwtts-jobstream-{os.getpid()}"


def job_keys() -> Keys:
    """The job protocol's Redis names under this deployment's prefix."""
    return Keys(settings.REDIS_PREFIX)


class SynthesisFailed(ApplicationError):
    """The job failed or found no worker; rendered in the error shape (503 unless the input
    was at fault)."""

    def __init__(self, code: str, message: str, status: int = 503) -> None:
        retry = status == 503 and code in CAPACITY_ERRORS
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if retry else None
        super().__init__(message, code=code, status=status, headers=headers)


@dataclass(frozen=True)
class AudioChunk:
    seq: int
    pcm: bytes
    segment: int
    segment_end: bool
    # The engine's word spans in this chunk (`Chunk.extra["words"]`; absent: none reported).
    words: object = None
    aligned: bool = False  # whether the engine reported `words` (None there: it failed)


async def live_workers(client: aioredis.Redis, engine: str) -> list[WorkerStatus]:
    keys = job_keys()
    ids = sorted(await client.smembers(keys.workers(engine)))
    if not ids:
        return []
    beats = await client.mget([keys.heartbeat(messages.as_text(i)) for i in ids])
    dead = [i for i, raw in zip(ids, beats, strict=True) if raw is None]
    if dead:  # workers that died without saying so
        await client.srem(keys.workers(engine), *dead)
    return [WorkerStatus.loads(raw) for raw in beats if raw is not None]


def no_workers(engine: str) -> SynthesisFailed:
    return SynthesisFailed("no_workers", f"No {engine} TTS worker is running.")


def worker_lost() -> SynthesisFailed:
    return SynthesisFailed("worker_lost", "The TTS worker stopped during synthesis.")


class ChunkSink(Protocol):
    """What is given each chunk the reader took (the phrase cache's `Recorder`)."""

    async def feed(self, client: aioredis.Redis, chunk: AudioChunk) -> None: ...


class JobStream:
    def __init__(self, job: Job | PrepareJob) -> None:
        self.job = job
        self.keys = job_keys()
        self.redis = async_client(settings.REDIS_URL, client_name=CLIENT_NAME)
        self.reply = self.keys.reply(job.job_id)
        self.worker: str | None = None
        self.control: str | None = None
        self.received = 0
        self._finished = False
        self._pop: asyncio.Future[Any] | None = None
        self._keepalive: asyncio.Future[None] | None = None
        # Stores each segment the worker completes in the phrase cache (`synthesis.phrase_cache`).
        self.recorder: ChunkSink | None = None

    @classmethod
    async def open(cls, job: Job | PrepareJob) -> JobStream:
        stream = cls(job)
        try:
            await stream._submit()
        except BaseException as error:
            await stream.close()
            if isinstance(error, SynthesisFailed) and error.code in REFUSALS:
                tts_metrics.REFUSED.labels(reason=error.code).inc()
            raise
        stream._keepalive = asyncio.ensure_future(stream._keep_alive())
        return stream

    async def _keep_alive(self) -> None:
        """Until its reading starts, tells the worker its receiver lives. A worker drops a job
        whose receiver gives no credit for TTS_WORKER_STALL_SECONDS (its web process died), and
        a job can wait that long for its turn: a socket opens a context's next unit once the
        one before has its first audio, and reads it only once that one has played. Without
        this the worker dropped the waiting job, and its reader then waited for ever on a live
        worker (chaos/, "worker_killed", hung one run in three)."""
        interval = max(0.1, settings.TTS_WORKER_STALL_SECONDS / 3)
        while time.time() < self.job.deadline:  # the worker ends the job then in any case
            await asyncio.sleep(interval)
            try:
                await self._to_worker(messages.CREDIT, acked=self.received)
            except (RedisError, OSError):
                return  # Redis lost: the reader learns it when it reads

    def _reading(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    async def _submit(self) -> None:
        self.job.reply = self.reply
        if isinstance(self.job, Job):  # the worker's queue-wait figure starts here
            self.job.meta["dispatched_at"] = time.time()
        engine = self.job.engine
        depth = settings.TTS_QUEUE_DEPTH
        deadline = time.monotonic() + settings.TTS_QUEUE_TIMEOUT_SECONDS
        placement = await dispatch.dispatch(
            self.redis,
            self.keys,
            engine,
            job_id=self.job.job_id,
            message=messages.pack(self.job.to_message()),
            hold_ms=int((self.job.deadline - time.time() + HOLD_MARGIN_SECONDS) * 1000),
            wait_ms=int(settings.TTS_QUEUE_TIMEOUT_SECONDS * 1000),
            depth=depth,
        )
        if placement.outcome == dispatch.NO_WORKERS:
            raise no_workers(engine)
        if placement.outcome == dispatch.FULL:
            raise SynthesisFailed(
                "queue_full",
                f"Every {engine} TTS worker is busy and {depth} requests wait for one already; "
                "the service is at capacity.",
            )
        message = await self._next(deadline)
        if message["type"] != messages.ACCEPTED:
            self._raise_for(message)
        self.worker, self.control = message["worker"], message["control"]

    async def _next(self, deadline: float | None = None) -> dict[str, Any]:
        """The next reply; while none comes, checks that the worker (or any worker) lives."""
        while True:
            # Shielded: when the client goes away Django cancels us, and cancelling a task
            # blocked in a redis-py read can hang (Python 3.11); the pop ends within a poll.
            self._pop = asyncio.ensure_future(self.redis.blpop([self.reply], timeout=POLL_SECONDS))
            popped = await asyncio.shield(self._pop)
            if popped is not None:
                return messages.unpack(popped[1])
            await self._check_alive(deadline)

    async def worker_lost(self) -> bool:
        """Whether the job's worker stopped (its heartbeat lapsed) before it made all the audio.
        Replies it sent before it died may still wait to be read; no more will come. Asked by a
        reader that holds audio back (a socket paces it), so that its caller learns of the loss
        now, not once that audio has played."""
        if self._finished or self.worker is None:
            return False
        if await self.redis.exists(self.keys.heartbeat(self.worker)):
            return False
        last = await self.redis.lindex(self.reply, -1)  # the job's end, when it was sent
        return last is None or messages.unpack(last)["type"] not in DONE_OR_ERROR

    async def _check_alive(self, deadline: float | None) -> None:
        if self.worker is not None:
            if not await self.redis.exists(self.keys.heartbeat(self.worker)):
                raise worker_lost()
            return
        if deadline is not None and time.monotonic() > deadline:
            raise SynthesisFailed(
                "queue_timeout",
                "No TTS worker took the request in time; the service is at capacity.",
            )
        # Not accepted yet: on a worker's queue (which must live), in the wait queue, or
        # popped by its worker a moment ago (any worker of the engine must live).
        placed = await self.redis.hget(self.keys.placed(self.job.engine), self.job.job_id)
        if placed is not None:
            if not await self.redis.exists(self.keys.heartbeat(messages.as_text(placed))):
                raise SynthesisFailed(
                    "worker_lost", "The TTS worker stopped before it took the request."
                )
            return
        if not await live_workers(self.redis, self.job.engine):
            raise no_workers(self.job.engine)

    def _raise_for(self, message: dict[str, Any]) -> None:
        self._finished = True
        if message["type"] == messages.ERROR:
            code = str(message.get("code", "engine_error"))
            status = 400 if code in messages.INPUT_ERRORS else 503
            raise SynthesisFailed(code, str(message.get("message", "Synthesis failed.")), status)
        raise SynthesisFailed("protocol_error", f"Unexpected message {message['type']!r}.")

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        self._reading()
        while True:
            message = await self._next()
            if message["type"] == messages.DONE:
                self._finished = True
                return
            if message["type"] != messages.AUDIO:
                self._raise_for(message)
            self.received = int(message["seq"])
            chunk = AudioChunk(
                seq=self.received,
                pcm=message["pcm"],
                segment=message["segment"],
                segment_end=bool(message["segment_end"]),
                words=message.get("words"),
                aligned="words" in message,
            )
            yield chunk
            await self._to_worker(messages.CREDIT, acked=self.received)
            if self.recorder is not None:  # only reached when the reader took the chunk
                await self.recorder.feed(self.redis, chunk)

    async def result(self, kind: str) -> dict[str, Any]:
        """The job's one final reply of type `kind` (a prepare job's `prepared`); raises
        SynthesisFailed for an error or a worker that died."""
        self._reading()
        message = await self._next()
        if message["type"] != kind:
            self._raise_for(message)
        self._finished = True
        return message

    async def _to_worker(self, kind: str, **fields: Any) -> None:
        if self.control is not None:
            message = {"type": kind, "job_id": self.job.job_id, **fields}
            await self.redis.rpush(self.control, messages.pack(message))

    async def close(self) -> None:
        """Cancels the job at the worker unless it ended, and drops what is left of its replies.
        Uses a fresh connection: the stream's own may be mid-BLPOP when the client went away."""
        self._reading()
        cleanup = async_client(settings.REDIS_URL)
        try:
            if not self._finished:
                if self.control is None:
                    # Not accepted yet: take the claim first, so no worker starts it later
                    # (one that pops it frees its slot), and leave the wait queue.
                    await cleanup.set(
                        self.keys.claim(self.job.job_id), "cancelled", nx=True, px=600_000
                    )
                    await dispatch.withdraw(cleanup, self.keys, self.job.engine, self.job.job_id)
                else:
                    message = {"type": messages.CANCEL, "job_id": self.job.job_id}
                    await cleanup.rpush(self.control, messages.pack(message))
            await cleanup.delete(self.reply)
        finally:
            await cleanup.aclose()
            if self._pop is not None:
                await asyncio.wait({self._pop}, timeout=POLL_SECONDS * 4)
            with contextlib.suppress(Exception):
                await self.redis.aclose()
