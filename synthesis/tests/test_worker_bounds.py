"""What one job may cost a shared worker: the real Worker in this process, on real Redis and
the real Piper model, with an engine the test can hold at a chosen engine chunk (or make it
babble), so that what happens "within one chunk" is counted, not timed."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace

import pytest
import redis
from django.conf import settings

from synthesis.contract import messages
from synthesis.contract.jobs import Job
from synthesis.contract.keys import Keys
from synthesis.contract.segments import Chunk, Segment
from synthesis.engines.base import LoadedConditioning
from synthesis.engines.catalog import PIPER
from synthesis.engines.piper import PiperEngine
from synthesis.stream import AudioChunk, JobStream, SynthesisFailed
from synthesis.text.split import split_text
from synthesis.worker import Worker

RATE = 22050
LONG = " ".join(f"Sentence {n} of a long answer goes on for a while." for n in range(12))


class HeldPiper(PiperEngine):
    """Real Piper under a name of its own (the session's worker processes never see its jobs)
    that stops before handing out engine chunk `hold_at` until released, or babbles: repeats its
    audio as if the segment never ended, like a GPT-style engine that does not stop."""

    spec = replace(PIPER, name="piper-held")

    def __init__(self) -> None:
        super().__init__(noise_scale=0.0, noise_w_scale=0.0)
        self.reset()

    def reset(self) -> None:
        self.hold_at = 0
        self.babble = False
        self.made = 0
        self.reached = threading.Event()
        self.release = threading.Event()

    def stream(
        self,
        segments: Sequence[Segment],
        *,
        voice: str,
        conditioning: LoadedConditioning | None = None,
    ) -> Iterator[Chunk]:
        return self._held(super().stream(segments, voice=voice, conditioning=conditioning))

    def _held(self, inner: Iterator[Chunk]) -> Iterator[Chunk]:
        try:
            chunks = inner
            if self.babble:
                said = list(inner)
                chunks = iter([replace(c, segment_end=False) for c in said] * 200)
            for chunk in chunks:
                self.made += 1
                if self.made == self.hold_at:
                    self.reached.set()
                    self.release.wait(60)
                yield chunk
        finally:
            getattr(inner, "close", lambda: None)()


@pytest.fixture(scope="module")
def engine() -> HeldPiper:
    return HeldPiper()


@pytest.fixture
async def worker(engine: HeldPiper) -> AsyncIterator[Worker]:
    engine.reset()
    worker = Worker(engine, redis_url=settings.REDIS_URL, redis_prefix=settings.REDIS_PREFIX)
    task = asyncio.create_task(worker.run())
    client = redis.Redis.from_url(settings.REDIS_URL)
    await eventually(lambda: client.exists(Keys(settings.REDIS_PREFIX).heartbeat(worker.worker_id)))
    yield worker
    engine.release.set()
    worker.stop()
    await asyncio.wait_for(task, 30)


def job(text: str, *, speed: float = 1.0, window: int = 1000, seconds: float = 120) -> Job:
    return Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine=HeldPiper.spec.name,
        voice="joe",
        segments=[Segment(p.text, language="en-US", speed=speed) for p in split_text(text)],
        window=window,
        deadline=time.time() + seconds,
    )


async def eventually(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.02)


async def read_all(stream: JobStream) -> tuple[list[AudioChunk], SynthesisFailed | None]:
    received: list[AudioChunk] = []
    try:
        async for chunk in stream.chunks():
            received.append(chunk)
    except SynthesisFailed as failure:
        return received, failure
    return received, None


async def test_every_chunk_is_at_most_a_second_of_audio(worker):
    # At 0.25x each sentence is one engine chunk of several seconds: the worker cuts it, so a
    # cancel, a deadline or an audio budget always acts within a second of audio.
    stream = await JobStream.open(job(LONG, speed=0.25))
    received, failure = await read_all(stream)
    await stream.close()
    assert failure is None
    assert max(len(c.pcm) // 2 for c in received) <= RATE * worker.config.max_chunk_seconds
    assert sum(len(c.pcm) for c in received) // 2 > 12 * 8 * RATE  # all of it: > 8 s a sentence
    # The segment boundaries are what they were: one end per segment, on its last piece.
    assert [c.segment for c in received if c.segment_end] == list(range(len(split_text(LONG))))


async def test_a_cancel_stops_a_running_job_within_one_chunk(worker, engine):
    engine.hold_at = 3  # the worker waits on the engine's third chunk
    stream = await JobStream.open(job(LONG, speed=0.25))
    chunks = stream.chunks()
    await anext(chunks)  # reading, so the job runs
    await asyncio.to_thread(engine.reached.wait, 30)
    active = worker.active[stream.job.job_id]
    sent, samples = active.sent, active.samples
    await stream.close()  # the cancel
    await eventually(lambda: active.cancelled)
    engine.release.set()
    await eventually(lambda: stream.job.job_id not in worker.active)
    assert engine.made == 3  # the engine was asked for nothing more
    assert active.sent - sent <= 1
    assert active.samples - samples <= RATE * worker.config.max_chunk_seconds


async def test_a_job_past_its_deadline_ends_with_timeout_within_one_chunk(worker, engine):
    engine.hold_at = 2
    stream = await JobStream.open(job(LONG, speed=0.25, seconds=3))
    await asyncio.to_thread(engine.reached.wait, 30)
    sent = worker.active[stream.job.job_id].sent
    await eventually(lambda: time.time() > stream.job.deadline, timeout=10)
    engine.release.set()  # the engine finishes the chunk in hand after the deadline
    received, failure = await read_all(stream)
    await stream.close()
    assert failure is not None
    assert failure.code == "timeout"
    assert engine.made == 2
    late = received[sent:]
    assert len(late) <= 1
    assert sum(len(c.pcm) // 2 for c in late) <= RATE * worker.config.max_chunk_seconds


async def test_an_engine_that_babbles_is_stopped_at_the_segments_audio_budget(worker, engine):
    engine.babble = True
    stream = await JobStream.open(job("Hello there."))
    received, failure = await read_all(stream)
    await stream.close()
    [segment] = stream.job.segments
    budget = segment.max_audio_seconds * RATE
    assert failure is not None
    assert (failure.code, failure.status) == ("audio_limit_exceeded", 400)
    assert "12 characters" in failure.message
    delivered = sum(len(c.pcm) // 2 for c in received)
    assert budget - RATE * worker.config.max_chunk_seconds < delivered <= budget
    assert engine.made <= len(received) + 1  # of the 200 repetitions it had in store


@pytest.mark.parametrize(
    "text",
    [
        LONG,
        "Call me ASAP at WWW dot example dot com slash help.",
        "QQQQQQQQQQQQQQQQQQQQ WWWWWWWWWW",  # letters read one by one: the slowest text per char
        "W",
        "© © © © © © © © © ©",
    ],
)
async def test_speech_at_the_slowest_speed_stays_within_its_budget(worker, text):
    stream = await JobStream.open(job(text, speed=0.25))
    received, failure = await read_all(stream)
    await stream.close()
    assert failure is None
    assert received[-1].segment_end


async def test_a_malformed_job_is_answered_and_the_worker_lives_on(worker):
    bad = job("Hello there.").to_message()
    bad["segments"][0]["speed"] = 0  # what no web process sends: Segment refuses it
    bad["reply"] = Keys(settings.REDIS_PREFIX).reply(bad["job_id"])
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.rpush(Keys(settings.REDIS_PREFIX).queue(worker.worker_id), messages.pack(bad))
    popped = await asyncio.to_thread(client.blpop, [bad["reply"]], 20)
    assert popped is not None
    answer = messages.unpack(popped[1])
    assert (answer["type"], answer["code"]) == (messages.ERROR, "invalid_job")
    assert not worker.stopping.is_set()
    stream = await JobStream.open(job("Hello there."))
    received, failure = await read_all(stream)
    await stream.close()
    assert failure is None
    assert received
