"""The TTS worker: one engine, loaded once, serving many jobs at once.

The worker advertises its capacity (`max_jobs`) in its heartbeat; web processes reserve one of
its slots and push the job onto its own queue (`contract.dispatch`, docs/adr/0007), and the worker
frees the slot when the job ends, taking the oldest job that waits for a slot of its engine. Each
job is still claimed atomically by id, so a job the web side gave up on is never started.
Synthesis runs in one thread. An engine that makes one stream at a time (Piper) is served a
chunk at a time: between chunks the scheduler picks the next job: audio already made first (the
rest of an engine chunk cut into pieces: no engine time), then jobs without audio yet (first
audio first), then the one served longest ago, skipping jobs whose receiver has not
acknowledged enough (the credit window), so a slow client never piles audio up in Redis. An
engine that batches (XTTS: `Engine.batched`) is advanced a step at a time for every job with
credit together (jobs without credit wait where they are), and makes newcomers' first audio
before other pieces itself (xtts/scheduler.py); cancel and the deadline act between steps. An
engine's chunk
is cut into pieces of at most `max_chunk_seconds`, so cancel and the deadline act within that
much audio; a segment whose audio passes its budget (`Segment.max_audio_seconds`, computed here
from the segment itself) ends the job with `audio_limit_exceeded`.

A cloned voice's job names its conditioning in storage (under the job's tenant's prefix); the
worker loads it once per voice version and keeps it in a cache bounded by bytes. A prepare job
computes that conditioning from a reference clip, once. Every worker publishes the stock voices
its engine offers beside the heartbeat (the catalog's, the model's own such as XTTS's studio
speakers, and voice packs' voices), with where their preview clips lie.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import io
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import soundfile
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from callwaiting_tts.redis import async_client
from synthesis import worker_metrics
from synthesis.conditioning import ConditioningCache
from synthesis.contract import dispatch, messages
from synthesis.contract.jobs import Job, PrepareJob, WorkerStatus
from synthesis.contract.keys import Keys
from synthesis.contract.segments import Chunk, Conditioning, ConditioningRef
from synthesis.engines.base import (
    BatchedStreams,
    Engine,
    EngineError,
    EngineVoice,
    LoadedConditioning,
)
from synthesis.engines.catalog import StockVoice
from voices.storage import ForeignPath, check_owned, storage_read, storage_write

logger = logging.getLogger(__name__)


@dataclass
class WorkerConfig:
    max_jobs: int = 6
    heartbeat_interval: float = 0.3
    heartbeat_ttl: float = 1.5
    stall_seconds: float = 30.0  # no credit for this long with a full window: receiver is gone
    conditioning_cache_bytes: int = 256 * 1024 * 1024
    # The most audio one message carries: cancel, the deadline and the audio budget act
    # between chunks, so at most this much audio follows any of them.
    max_chunk_seconds: float = 1.0


@dataclass
class ActiveJob:
    job: Job
    chunks: BoundedChunks | None  # the engine's stream, taken a chunk at a time; or
    budgets: list[int]  # the most samples each segment may come to
    stream: object = None  # its stream in the engine's batch (`Engine.batched`)
    arrived: float = field(default_factory=time.monotonic)
    served: float = 0.0
    last_credit: float = field(default_factory=time.monotonic)
    sent: int = 0
    acked: int = 0
    samples: int = 0
    segment_samples: dict[int, int] = field(default_factory=dict)
    cancelled: bool = False
    reported: set[int] = field(default_factory=set)  # segments whose characters were reported

    @property
    def has_credit(self) -> bool:
        return self.sent - self.acked < self.job.window

    @property
    def ready(self) -> bool:
        """Its next piece of audio is made already (the rest of an engine chunk longer than a
        message may carry): sending it costs no engine time."""
        return self.chunks is not None and self.chunks.ready

    def over_budget(self, chunk: Chunk) -> bool:
        """Whether `chunk` would take its segment past the segment's audio budget (a segment
        the job does not have has none). Summed over segments, this is the job's budget."""
        if not 0 <= chunk.segment < len(self.budgets):
            return True
        spoken = self.segment_samples.get(chunk.segment, 0) + chunk.samples
        return spoken > self.budgets[chunk.segment]


def audio_budgets(job: Job, sample_rate: int) -> list[int]:
    return [int(segment.max_audio_seconds * sample_rate) for segment in job.segments]


def split_chunk(chunk: Chunk, max_samples: int) -> Iterator[Chunk]:
    """`chunk` cut into pieces of at most `max_samples` (the last piece keeps `segment_end`,
    the first `extra`)."""
    step = max(1, max_samples) * 2
    if len(chunk.pcm) <= step:
        yield chunk
        return
    pcm = memoryview(chunk.pcm)
    for start in range(0, len(pcm), step):
        yield Chunk(
            pcm=bytes(pcm[start : start + step]),
            segment=chunk.segment,
            segment_end=chunk.segment_end and start + step >= len(pcm),
            extra=chunk.extra if start == 0 else {},
        )


class BoundedChunks:
    """The engine's chunks, each cut into pieces of at most `max_samples` (`split_chunk`).
    `ready`: pieces of a chunk the engine already made wait to be taken, which costs no engine
    time. Closing this closes the engine's stream, so the engine holds nothing once the job
    ends."""

    def __init__(self, chunks: Iterator[Chunk], max_samples: int) -> None:
        self._chunks = chunks
        self._max_samples = max_samples
        self._pieces: collections.deque[Chunk] = collections.deque()

    @property
    def ready(self) -> bool:
        return bool(self._pieces)

    def __iter__(self) -> BoundedChunks:
        return self

    def __next__(self) -> Chunk:
        if not self._pieces:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.close()
                raise
            self._pieces.extend(split_chunk(chunk, self._max_samples))
        return self._pieces.popleft()

    def close(self) -> None:
        self._pieces.clear()
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


# How long the worker's Redis loops block before they look at the stop flag.
POLL_SECONDS = 0.5
# How often a loop that lost Redis tries again: well under the 5 s the service takes to recover.
REDIS_RETRY_SECONDS = 0.5

# Long enough for the reaper (every minute, for records whose lease expired) to read it.
PROGRESS_TTL_SECONDS = 3 * 3600


def _next_chunk(chunks: Iterator[Chunk]) -> Chunk | None:
    return next(chunks, None)


class Worker:
    def __init__(
        self,
        engine: Engine,
        *,
        redis_url: str,
        redis_prefix: str,
        config: WorkerConfig | None = None,
        previews: dict[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.keys = Keys(redis_prefix)
        self.redis = async_client(redis_url)
        self.config = config or WorkerConfig()
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.active: dict[str, ActiveJob] = {}
        self.capacity = asyncio.Semaphore(self.config.max_jobs)
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.closed = asyncio.Event()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="tts-engine")
        self.control = self.keys.control(self.worker_id)
        self.queue = self.keys.queue(self.worker_id)
        self.failed = False
        self.conditionings = ConditioningCache(self.config.conditioning_cache_bytes)
        self.batch: BatchedStreams | None = engine.batched(self.config.max_jobs)
        self.preparing: set[asyncio.Task[None]] = set()
        previews = previews or {}
        self.published = json.dumps(
            [_published(engine, v, previews.get(v.id, v.preview)).dumps() for v in engine.voices()]
        )

    async def run(self) -> None:
        """Serves until `stop()`; then finishes the chunk in hand and fails the other jobs."""
        await self._beat()
        logger.info(
            "tts worker ready", extra={"worker": self.worker_id, "engine": self.engine.name}
        )
        background = [
            asyncio.create_task(self._guard(loop))
            for loop in (self._heartbeat, self._take_jobs, self._receive_control)
        ]
        try:
            await self._through_outages(self._schedule)
        finally:
            # The scheduler may have ended by an error: the loops end with it (else they took
            # jobs nobody would run). Capacity 0 next: no web process reserves a slot here any
            # more. Nothing is
            # cancelled: the Redis loops end by themselves within a poll. (Cancelling a task
            # blocked in a redis-py read can hang on Python 3.11, where asyncio.timeout may
            # swallow the cancellation.)
            self.stop()
            with contextlib.suppress(Exception):
                await self._beat()
            await asyncio.gather(*background[1:], return_exceptions=True)
            await asyncio.gather(*self.preparing, return_exceptions=True)
            await self._fail_all("worker_shutdown", "The TTS worker shut down; retry.")
            await self._drain()  # queued here, never started
            # The heartbeat goes last: waiting requests must read the error, not a lost worker.
            self.closed.set()
            await asyncio.gather(background[0], return_exceptions=True)
            await self.redis.delete(
                self.keys.heartbeat(self.worker_id),
                self.keys.voices(self.worker_id),
                self.control,
            )
            await self.redis.srem(self.keys.workers(self.engine.name), self.worker_id)
            await self._drain()  # pushed by a web process that read the last heartbeat
            await self.redis.delete(self.queue, self.keys.slots(self.worker_id))
            await self.redis.aclose()
            self.executor.shutdown(wait=True)
            logger.info("tts worker stopped", extra={"worker": self.worker_id})

    async def _through_outages(self, loop: Callable[[], Awaitable[None]]) -> None:
        """Runs `loop` to its end. Lost Redis pauses it (a job's messages wait; there is no
        heartbeat meanwhile, so no web process sends work here) and it starts again once Redis
        answers: the worker serves again without a restart (chaos/, "Redis stopped and
        started"); a supervisor's restart would only crash-loop until then. Raises it once the
        worker stops."""
        while True:
            try:
                await loop()
                return
            except (RedisConnectionError, RedisTimeoutError):
                if self.stopping.is_set():
                    raise
                logger.warning("tts worker lost Redis; retrying", extra={"worker": self.worker_id})
                await asyncio.sleep(REDIS_RETRY_SECONDS)

    async def _guard(self, loop: Callable[[], Awaitable[None]]) -> None:
        """A background loop that fails stops the worker: a worker that takes no jobs or
        reads no credits must not keep a live heartbeat. Lost Redis is the exception
        (`_through_outages`)."""
        try:
            await self._through_outages(loop)
        except asyncio.CancelledError:
            raise
        except (RedisConnectionError, RedisTimeoutError):
            return  # the worker stops
        except Exception:
            logger.exception("tts worker loop failed; stopping", extra={"worker": self.worker_id})
            self.failed = True
            self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    # --- intake ------------------------------------------------------------------------------

    async def _take_jobs(self) -> None:
        """Pops the worker's own queue while it has a free slot. Web processes push a job only
        after reserving a slot here, so the slot is normally free already."""
        while await self._slot():
            try:
                popped = await self.redis.blpop([self.queue], timeout=POLL_SECONDS)
                if popped is None:
                    self.capacity.release()
                    continue
                message = messages.unpack(popped[1])
                accepted = await self._accept(message)
            except BaseException:
                self.capacity.release()
                raise
            if not accepted:
                await self._release(str(message.get("job_id", "")))

    async def _slot(self) -> bool:
        """Takes a local slot (False once the worker stops): waits by polls, so the intake ends
        by itself when the worker stops."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.capacity.acquire(), POLL_SECONDS)
                return True
        return False

    async def _release(self, job_id: str) -> None:
        """A job ended (or was popped and not run): its local slot and its reservation are
        freed, and this worker takes the oldest job waiting for a slot of its engine. A worker
        that stops takes none."""
        self.capacity.release()
        if self.stopping.is_set():
            await self.redis.zrem(self.keys.slots(self.worker_id), job_id)
        else:
            await dispatch.pull(
                self.redis, self.keys, self.engine.name, self.worker_id, release=job_id
            )

    async def _drain(self) -> None:
        """Answers every job still queued here with `worker_shutdown` (503): the web side
        retries, and the next dispatch picks a live worker."""
        while isinstance(popped := await self.redis.lpop(self.queue), bytes):
            message = messages.unpack(popped)
            job_id, reply = message.get("job_id"), message.get("reply")
            if isinstance(job_id, str) and isinstance(reply, str) and await self._claim(job_id):
                answer = {"type": messages.ERROR, "job_id": job_id, "code": "worker_shutdown"}
                answer["message"] = "The TTS worker shut down; retry."
                await self._reply(reply, answer)

    async def _accept(self, message: dict[str, Any]) -> bool:
        self.wake.set()  # a batched engine stops stepping on its own: work may need its thread
        if message.get("type") == messages.PREPARE:
            return await self._accept_prepare(PrepareJob.from_message(message))
        try:
            job = Job.from_message(message)
        except (KeyError, TypeError, ValueError) as error:
            # A job no web process of this version sends (a segment with no speed, say): it is
            # answered, and the worker serves on.
            await self._refuse(message, str(error))
            return False
        if not await self._claim(job.job_id):
            return False  # a duplicate delivery: another worker runs it
        if job.deadline < time.time():
            await self._send(job, messages.ERROR, code="timeout", message="The job expired.")
            return False
        chunks: BoundedChunks | None = None
        stream: object = None
        try:
            conditioning = await self._conditioning(job)
            if self.batch is not None:
                stream = self.batch.open(job.segments, voice=job.voice, conditioning=conditioning)
            else:
                found = self.engine.stream(job.segments, voice=job.voice, conditioning=conditioning)
                chunks = BoundedChunks(found, self._max_samples)
        except EngineError as error:  # the request's fault (a voice, a language): not ours
            await self._send(job, messages.ERROR, code=error.code, message=str(error))
            return False
        self.active[job.job_id] = ActiveJob(
            job=job,
            chunks=chunks,
            stream=stream,
            budgets=audio_budgets(job, self.engine.sample_rate),
        )
        await self._send(job, messages.ACCEPTED, control=self.control, worker=self.worker_id)
        worker_metrics.job_taken(self.engine.name, job.meta, active=len(self.active))
        self.wake.set()
        return True

    async def _refuse(self, message: dict[str, Any], reason: str) -> None:
        job_id, reply = message.get("job_id"), message.get("reply")
        logger.warning("refused a malformed job", extra={"job": job_id, "reason": reason})
        if isinstance(job_id, str) and isinstance(reply, str) and await self._claim(job_id):
            answer = {"type": messages.ERROR, "job_id": job_id, "code": "invalid_job"}
            answer["message"] = f"The worker cannot run this job: {reason}"
            await self._reply(reply, answer)

    async def _reply(self, reply: str, answer: dict[str, Any]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(reply, messages.pack(answer))
            pipe.expire(reply, messages.REPLY_TTL_SECONDS)
            await pipe.execute()

    async def _claim(self, job_id: str) -> bool:
        """Whether this worker runs the job: the first to claim its id (a web process that gave
        up claims it first, as `cancelled`). The job is off its placement now."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.claim(job_id), self.worker_id, nx=True, px=600_000)
            pipe.hdel(self.keys.placed(self.engine.name), job_id)
            claimed, _ = await pipe.execute()
        return bool(claimed)

    # --- cloned voices -----------------------------------------------------------------------

    async def _conditioning(self, job: Job) -> LoadedConditioning | None:
        """The job's cloned voice, from the cache or else read from storage and loaded once (in
        the engine's thread: loading puts tensors on the engine's device). EngineError when it
        cannot be had."""
        ref = job.conditioning
        if ref is None:
            return None
        key = ref.cache_key(job.schema_name)
        loaded = self.conditionings.get(key)
        if loaded is None:
            loop = asyncio.get_running_loop()
            loaded = await loop.run_in_executor(self.executor, self._load_conditioning, job)
            self.conditionings.put(key, loaded)
        return loaded

    def _load_conditioning(self, job: Job) -> LoadedConditioning:
        assert job.conditioning is not None
        try:
            data = storage_read(job.conditioning.path, schema_name=job.schema_name)
        except ForeignPath:
            logger.warning("refused a foreign conditioning path", extra={"job": job.job_id})
            raise EngineError("The voice is not this tenant's.", code="unknown_voice") from None
        except (FileNotFoundError, OSError):
            raise EngineError(
                "The cloned voice's conditioning is missing from storage.",
                code="conditioning_missing",
            ) from None
        return self.engine.load_conditioning(Conditioning(engine=self.engine.name, data=data))

    async def _accept_prepare(self, job: PrepareJob) -> bool:
        if not await self._claim(job.job_id):
            return False
        if job.deadline < time.time():
            await self._send(job, messages.ERROR, code="timeout", message="The job expired.")
            return False
        await self._send(job, messages.ACCEPTED, control=self.control, worker=self.worker_id)
        task = asyncio.create_task(self._prepare(job))
        self.preparing.add(task)
        task.add_done_callback(self.preparing.discard)
        return True

    async def _prepare(self, job: PrepareJob) -> None:
        """Computes a voice's conditioning from its reference clip and stores it; one engine
        step in the engine's thread, between other jobs' chunks. Replies `prepared` or an
        error; frees its capacity slot either way."""
        loop = asyncio.get_running_loop()
        try:
            stored, loaded = await loop.run_in_executor(self.executor, self._prepare_now, job)
        except EngineError as error:
            await self._send(job, messages.ERROR, code=error.code, message=str(error))
        except Exception:
            logger.exception("conditioning failed", extra={"tenant": job.schema_name})
            await self._send(
                job, messages.ERROR, code="engine_failure", message="Conditioning failed."
            )
        else:
            # This worker is likely to speak the new voice first: it starts warm.
            ref = ConditioningRef(job.voice_id, job.version, job.conditioning_path)
            self.conditionings.put(ref.cache_key(job.schema_name), loaded)
            await self._send(job, messages.PREPARED, path=job.conditioning_path, nbytes=stored)
        finally:
            await self._release(job.job_id)

    def _prepare_now(self, job: PrepareJob) -> tuple[int, LoadedConditioning]:
        """The conditioning computed, checked to load back, and stored: its size and the loaded
        form."""
        try:
            check_owned(job.conditioning_path, job.schema_name)  # before any work
            raw = storage_read(job.reference_path, schema_name=job.schema_name)
        except ForeignPath:
            logger.warning("refused a foreign voice path", extra={"job": job.job_id})
            raise EngineError("The voice is not this tenant's.", code="unknown_voice") from None
        except (FileNotFoundError, OSError):
            raise EngineError(
                "The reference clip is missing from storage.", code="reference_missing"
            ) from None
        pcm, rate = _pcm16_mono(raw)
        conditioning = self.engine.prepare_voice(pcm, rate)
        loaded = self.engine.load_conditioning(conditioning)  # what is stored must load back
        storage_write(job.conditioning_path, conditioning.data, schema_name=job.schema_name)
        return len(conditioning.data), loaded

    async def _receive_control(self) -> None:
        while not self.stopping.is_set():
            popped = await self.redis.blpop([self.control], timeout=POLL_SECONDS)
            if popped is None:
                continue
            message = messages.unpack(popped[1])
            if message["type"] == messages.FORGET:  # a deleted voice: every version goes
                self.conditionings.forget(
                    ConditioningRef.voice_prefix(
                        str(message["schema_name"]), str(message["voice_id"])
                    )
                )
                continue
            active = self.active.get(str(message.get("job_id")))
            if active is None:
                continue
            if message["type"] == messages.CREDIT:
                active.acked = max(active.acked, int(message["acked"]))
                active.last_credit = time.monotonic()
            elif message["type"] == messages.CANCEL:
                active.cancelled = True
            self.wake.set()

    # --- scheduling --------------------------------------------------------------------------

    def _pick(self) -> ActiveJob | None:
        runnable = [a for a in self.active.values() if not a.cancelled and a.has_credit]
        if not runnable:
            return None
        # Audio already made goes out first: it costs no engine time, and held back behind
        # newcomers' first audio (an engine call each) it reached a caller seconds late (the
        # soak's underruns: a running job's remaining pieces of one engine chunk waited while
        # new jobs started, one after another).
        ready = [a for a in runnable if a.ready]
        if ready:
            return min(ready, key=lambda a: a.arrived)
        waiting = [a for a in runnable if a.sent == 0]
        if waiting:
            return min(waiting, key=lambda a: a.arrived)
        return min(runnable, key=lambda a: a.served)

    @property
    def _max_samples(self) -> int:
        return int(self.engine.sample_rate * self.config.max_chunk_seconds)

    async def _schedule(self) -> None:
        if self.batch is not None:
            await self._schedule_batched(self.batch)
            return
        loop = asyncio.get_running_loop()
        while True:
            await self._reap()
            if self.stopping.is_set():
                return
            active = self._pick()
            if active is None:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                continue
            assert active.chunks is not None
            try:
                began = time.perf_counter()
                if active.ready:  # made already: no engine call, no thread
                    chunk = _next_chunk(active.chunks)
                else:
                    chunk = await loop.run_in_executor(self.executor, _next_chunk, active.chunks)
                if chunk is not None:
                    worker_metrics.chunks_made(
                        self.engine.name,
                        time.perf_counter() - began,
                        [chunk.samples],
                        self.engine.sample_rate,
                    )
            except EngineError as error:
                await self._finish(active, messages.ERROR, code=error.code, message=str(error))
                continue
            except Exception:
                logger.exception(
                    "engine failed",
                    extra={"job": active.job.job_id, "tenant": active.job.schema_name},
                )
                await self._finish(
                    active,
                    messages.ERROR,
                    code="engine_failure",
                    message="The engine failed on this input.",
                )
                continue
            await self._deliver(active, chunk)

    async def _schedule_batched(self, batch: BatchedStreams) -> None:
        """One engine step at a time for every job with credit; what it made is delivered
        before the next, so a cancel, a deadline or a full window acts within a step."""
        loop = asyncio.get_running_loop()
        while True:
            await self._reap()
            if self.stopping.is_set():
                return
            runnable = [a for a in self.active.values() if not a.cancelled and a.has_credit]
            if not runnable:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=0.5)
                continue
            streams = [active.stream for active in runnable]
            # Anything the loop must act on (a job, a credit, a cancel, a stop) sets `wake`:
            # until then, and before the first deadline, the engine may step on by itself.
            self.wake.clear()
            keep_going = functools.partial(
                self._nothing_waits, min(active.job.deadline for active in runnable)
            )
            began = time.perf_counter()
            try:
                advanced = await loop.run_in_executor(
                    self.executor, batch.advance, streams, keep_going
                )
            except Exception as error:
                await self._batch_failed(batch, error)
                continue
            worker_metrics.chunks_made(
                self.engine.name,
                time.perf_counter() - began,
                [chunk.samples for made in advanced for chunk in made.chunks],
                self.engine.sample_rate,
            )
            jobs = {id(active.stream): active for active in runnable}
            for made in advanced:
                active = jobs[id(made.stream)]
                for chunk in made.chunks:
                    for piece in split_chunk(chunk, self._max_samples):
                        if active.job.job_id in self.active:
                            await self._deliver(active, piece)
                if made.done and active.job.job_id in self.active:
                    await self._deliver(active, None)

    def _nothing_waits(self, deadline: float) -> bool:
        """Asked from the engine's thread between its steps: no event for the loop yet, and
        the first deadline of the batch is ahead."""
        return not self.wake.is_set() and time.time() < deadline

    async def _batch_failed(self, batch: BatchedStreams, error: Exception) -> None:
        """A batched step failed: every job in the batch shared it, so every one ends with the
        error, and the batch starts afresh."""
        logger.exception("engine failed", extra={"jobs": len(self.active)}, exc_info=error)
        await asyncio.get_running_loop().run_in_executor(self.executor, batch.reset)
        if isinstance(error, EngineError):
            code, message = error.code, str(error)
        else:
            code, message = "engine_failure", "The engine failed on this input."
        for active in list(self.active.values()):
            await self._finish(active, messages.ERROR, code=code, message=message)

    async def _deliver(self, active: ActiveJob, chunk: Chunk | None) -> None:
        if active.cancelled:
            await self._finish(active, None)
            return
        if chunk is None:
            await self._finish(active, messages.DONE, samples=active.samples)
            return
        if active.over_budget(chunk):
            await self._over_budget(active, chunk)
            return
        active.sent += 1
        active.samples += chunk.samples
        active.segment_samples[chunk.segment] = (
            active.segment_samples.get(chunk.segment, 0) + chunk.samples
        )
        active.served = time.monotonic()
        await self._send(
            active.job,
            messages.AUDIO,
            progress=self._progress(active, chunk),
            seq=active.sent,
            pcm=chunk.pcm,
            segment=chunk.segment,
            segment_end=chunk.segment_end,
            # The engine's own word alignment (`synthesis.timing`), where it has one.
            **({"words": chunk.extra["words"]} if "words" in chunk.extra else {}),
        )

    def _progress(self, active: ActiveJob, chunk: Chunk) -> dict[str, int] | None:
        """What this chunk adds to its synthesis's sent figures (`Keys.progress`): its samples,
        and the characters of its segment the first time that segment sends audio (the web side
        bills a segment once any of its audio was delivered; the reaper bills what was sent)."""
        if not active.job.meta.get("synthesis"):
            return None
        added = {"samples": chunk.samples}
        if chunk.segment not in active.reported:
            active.reported.add(chunk.segment)
            added["first"] = 1  # the key's rate and life are set once per segment, not per chunk
            chars = active.job.meta.get("chars")
            if isinstance(chars, list) and 0 <= chunk.segment < len(chars):
                added["chars"] = int(chars[chunk.segment])
        return added

    async def _over_budget(self, active: ActiveJob, chunk: Chunk) -> None:
        job = active.job
        logger.warning(
            "audio over its budget; job stopped",
            extra={"job": job.job_id, "tenant": job.schema_name, "segment": chunk.segment},
        )
        if 0 <= chunk.segment < len(job.segments):
            segment = job.segments[chunk.segment]
            message = (
                f"Segment {chunk.segment + 1} came to more than "
                f"{segment.max_audio_seconds:.1f} s of audio, the most its "
                f"{segment.spoken_characters} characters may at speed {segment.speed:g}; "
                "the synthesis was stopped."
            )
        else:
            message = "The engine produced audio for a segment the job does not have."
        code = messages.AUDIO_LIMIT_EXCEEDED
        await self._finish(active, messages.ERROR, code=code, message=message)

    async def _reap(self) -> None:
        now, wall = time.monotonic(), time.time()
        for active in list(self.active.values()):
            if active.cancelled:
                await self._finish(active, None)
            elif active.job.deadline < wall:
                await self._finish(
                    active, messages.ERROR, code="timeout", message="The synthesis took too long."
                )
            elif not active.has_credit and now - active.last_credit > self.config.stall_seconds:
                logger.info("dropping stalled job", extra={"job": active.job.job_id})
                # Its receiver is gone, or so wedged that it has sent nothing, not even the
                # keep-alive of a job waiting its turn, for the stall time: should it come
                # back, it finds an error, not a wait on a live worker for ever.
                await self._finish(
                    active,
                    messages.ERROR,
                    code="stream_stalled",
                    message="The synthesis was dropped: its receiver took no audio for "
                    f"{self.config.stall_seconds:g} s.",
                )

    async def _finish(self, active: ActiveJob, kind: str | None, **fields: Any) -> None:
        self.active.pop(active.job.job_id, None)
        worker_metrics.job_ended(self.engine.name, kind, active=len(self.active))
        try:
            close = getattr(active.chunks, "close", None)
            if active.stream is not None and self.batch is not None:
                close = functools.partial(self.batch.close, active.stream)
            if close is not None:
                await asyncio.get_running_loop().run_in_executor(self.executor, close)
            if kind is not None:
                await self._send(active.job, kind, **fields)
        finally:
            await self._release(active.job.job_id)

    async def _fail_all(self, code: str, message: str) -> None:
        for active in list(self.active.values()):
            await self._finish(active, messages.ERROR, code=code, message=message)

    async def _send(
        self,
        job: Job | PrepareJob,
        kind: str,
        *,
        progress: dict[str, int] | None = None,
        **fields: Any,
    ) -> None:
        message = messages.pack({"type": kind, "job_id": job.job_id, **fields})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(job.reply, message)
            pipe.expire(job.reply, messages.REPLY_TTL_SECONDS)
            if progress is not None and isinstance(job, Job):
                key = self.keys.progress(str(job.meta["synthesis"]))
                first = progress.pop("first", 0)
                for name, amount in progress.items():
                    pipe.hincrby(key, name, amount)
                if first:
                    pipe.hset(key, "rate", self.engine.sample_rate)
                    pipe.expire(key, PROGRESS_TTL_SECONDS)
            await pipe.execute()

    # --- heartbeat ---------------------------------------------------------------------------

    async def _beat(self) -> None:
        status = WorkerStatus(
            worker_id=self.worker_id,
            engine=self.engine.name,
            pid=os.getpid(),
            host=socket.gethostname(),
            active_jobs=len(self.active),
            sample_rate=self.engine.sample_rate,
            # A worker that stops offers no slot (it still beats, so its jobs' web processes
            # read their errors rather than a lost worker).
            capacity=0 if self.stopping.is_set() else self.config.max_jobs,
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(
                self.keys.heartbeat(self.worker_id),
                status.dumps(),
                px=int(self.config.heartbeat_ttl * 1000),
            )
            pipe.sadd(self.keys.workers(self.engine.name), self.worker_id)
            pipe.set(  # lives exactly as long as the heartbeat
                self.keys.voices(self.worker_id),
                self.published,
                px=int(self.config.heartbeat_ttl * 1000),
            )
            await pipe.execute()
        worker_metrics.beat(self.engine.name, capacity=status.capacity)

    async def _heartbeat(self) -> None:
        """Beats, and takes waiting jobs into free slots: slots freed by a lapsed reservation,
        and a worker that just started, fill up within a beat."""
        while not self.closed.is_set():
            await self._beat()
            if not self.stopping.is_set():
                await dispatch.pull(self.redis, self.keys, self.engine.name, self.worker_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), self.config.heartbeat_interval)


def _published(engine: Engine, voice: EngineVoice, preview: str = "") -> StockVoice:
    """An engine's own voice as web processes list and resolve it (a voice that names no
    languages speaks the engine's)."""
    return StockVoice(
        id=voice.id,
        name=voice.name,
        engine=engine.name,
        language=voice.language,
        languages=voice.languages or engine.languages,
        description=voice.description,
        locale=voice.locale,
        accent=voice.accent,
        gender=voice.gender,
        preview=preview,
        pack=voice.pack,
    )


def _pcm16_mono(raw: bytes) -> tuple[bytes, int]:
    """A stored reference clip (WAV, FLAC or Ogg) as PCM s16le mono and its sample rate."""
    try:
        audio, rate = soundfile.read(io.BytesIO(raw), dtype="int16", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as error:
        raise EngineError(
            f"The reference clip cannot be read: {error}", code="reference_unusable"
        ) from None
    mono = audio.mean(axis=1).astype(np.int16) if audio.shape[1] > 1 else audio[:, 0]
    return mono.tobytes(), int(rate)
