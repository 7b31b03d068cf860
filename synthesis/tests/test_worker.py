"""The worker process against real Redis and real Piper, driven through the web side's
JobStream (no HTTP): credit window, fair scheduling, cancel, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import cast

import pytest
import redis
from django.conf import settings

from conftest import start_worker, stop_worker
from synthesis.contract import messages
from synthesis.contract.jobs import Job
from synthesis.contract.keys import Keys
from synthesis.contract.segments import Segment
from synthesis.stream import JobStream, SynthesisFailed
from synthesis.text.split import split_text

LONG = " ".join(f"Sentence {n} of a long answer goes on for a while." for n in range(40))
SHORT = "Hello there."
# Enough sentences that one job running ahead of the other would show (a third of LONG: the
# whole of LONG twice cost 20 s of the suite for the same verdict).
TURNS = " ".join(f"Sentence {n} of a shorter answer." for n in range(12))


def job(text: str, window: int = 4) -> Job:
    segments = [Segment(p.text, language="en-US") for p in split_text(text)]
    return Job(
        job_id=str(uuid.uuid4()),
        reply="",
        engine="piper",
        voice="joe",
        segments=segments,
        window=window,
        deadline=time.time() + 120,
    )


def queued(stream: JobStream) -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).llen(stream.reply))


def last_reply(stream: JobStream) -> str:
    """The type of the last reply waiting to be read ("" when none waits)."""
    last = redis.Redis.from_url(settings.REDIS_URL).lindex(stream.reply, -1)
    return str(messages.unpack(last)["type"]) if last is not None else ""


def queued_segments(stream: JobStream) -> set[int]:
    """The segments whose audio waits in the reply list (a segment may come in several chunks:
    the worker cuts them to a second of audio, which costs no engine time)."""
    waiting = redis.Redis.from_url(settings.REDIS_URL).lrange(stream.reply, 0, -1)
    return {int(m["segment"]) for m in map(messages.unpack, waiting) if m["type"] == messages.AUDIO}


async def eventually(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


async def test_a_stalled_reader_never_has_more_than_the_window_waiting(tts_worker):
    stream = await JobStream.open(job(LONG, window=3))
    try:
        await eventually(lambda: queued(stream) == 3)
        for _ in range(20):  # the worker has more to say but must wait for credit
            assert queued(stream) <= 3
            await asyncio.sleep(0.05)
        chunks = stream.chunks()
        first = await anext(chunks)
        await anext(chunks)  # asking for the second sent credit for the first
        assert first.seq == 1
        # Sent 3, acknowledged 1: one more may come, and no more than that.
        await eventually(lambda: queued(stream) == 2)
        for _ in range(20):
            assert queued(stream) == 2
            await asyncio.sleep(0.05)
    finally:
        await stream.close()


async def test_a_cancelled_job_frees_the_worker(tts_worker):
    stream = await JobStream.open(job(LONG, window=2))
    await anext(stream.chunks())
    await stream.close()
    started = time.monotonic()
    short = await JobStream.open(job(SHORT))
    audio = [chunk async for chunk in short.chunks()]
    await short.close()
    assert audio
    assert time.monotonic() - started < 30  # generous: only that it is served at all


async def test_new_jobs_get_their_first_audio_before_running_jobs_continue(worker_pool):
    worker_pool.stop_all()
    worker = start_worker()
    try:
        long_stream = await JobStream.open(job(LONG, window=50))
        long_chunks = long_stream.chunks()
        await anext(long_chunks)
        short_stream = await JobStream.open(job(SHORT, window=50))
        first = await anext(short_stream.chunks())
        assert first.seq == 1
        # Sentences the long job got meanwhile: at most the one in hand and one more.
        assert len(queued_segments(long_stream)) <= 2
        rest = [chunk async for chunk in long_chunks]
        assert [c.segment for c in rest if c.segment_end][-1] == len(split_text(LONG)) - 1
        await long_stream.close()
        await short_stream.close()
    finally:
        stop_worker(worker)


async def test_two_running_jobs_take_turns(worker_pool):
    worker_pool.stop_all()
    worker = start_worker()
    order: list[str] = []
    try:
        streams = {name: await JobStream.open(job(TURNS, window=2)) for name in "ab"}

        async def read(name: str) -> None:
            async for chunk in streams[name].chunks():
                if chunk.segment_end:  # one per sentence, whatever chunks it came in
                    order.append(name)

        await asyncio.gather(read("a"), read("b"))
        for stream in streams.values():
            await stream.close()
    finally:
        stop_worker(worker)
    runs, last, longest = 0, "", 0
    for name in order:
        runs = runs + 1 if name == last else 1
        longest, last = max(longest, runs), name
    assert order.count("a") == order.count("b") == len(split_text(TURNS))
    assert longest <= 3  # interleaved, not one job after the other


async def test_sigterm_finishes_the_chunk_in_hand_and_exits_cleanly(worker_pool):
    worker_pool.stop_all()
    worker = start_worker()
    stream = await JobStream.open(job(LONG, window=50))
    chunks = stream.chunks()
    await anext(chunks)
    worker.process.send_signal(signal.SIGTERM)
    received = [chunk async for chunk in until_failure(chunks)]
    await stream.close()
    assert isinstance(received[-1], SynthesisFailed)
    assert received[-1].code == "worker_shutdown"
    sentences = [c for c in received[:-1] if c.segment_end]
    assert len(sentences) < len(split_text(LONG)) - 1
    assert await asyncio.to_thread(worker.process.wait, 20) == 0
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert not client.exists(Keys(settings.REDIS_PREFIX).heartbeat(worker.worker_id))
    stop_worker(worker)


async def until_failure(chunks):
    try:
        async for chunk in chunks:
            yield chunk
    except SynthesisFailed as failure:
        yield failure


async def test_a_duplicate_delivery_runs_once(tts_worker):
    duplicate = job(SHORT)
    stream = await JobStream.open(duplicate)
    audio = [chunk async for chunk in stream.chunks()]
    await stream.close()
    # The same message delivered again (a web process that dispatched it twice): the claim
    # fails, and the worker answers nothing.
    keys = Keys(settings.REDIS_PREFIX)
    duplicate.reply = keys.reply(duplicate.job_id)
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert stream.worker is not None
    client.rpush(keys.queue(stream.worker), messages.pack(duplicate.to_message()))
    await eventually(lambda: not client.llen(keys.queue(stream.worker)))
    await asyncio.sleep(0.5)
    assert client.llen(Keys(settings.REDIS_PREFIX).reply(duplicate.job_id)) == 0
    assert audio


# --- which worker gets a job (docs/adr/0007) -----------------------------------------------


def waiting_jobs(engine: str = "piper") -> set[bytes]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    ids = cast(list[bytes], client.zrange(Keys(settings.REDIS_PREFIX).waiting(engine), 0, -1))
    return set(ids)


async def test_a_job_goes_to_the_worker_with_room_and_waits_while_every_worker_is_full(
    worker_pool,
):
    worker_pool.stop_all()
    workers = [start_worker(TTS_WORKER_MAX_JOBS="1") for _ in range(2)]
    streams: list[JobStream] = []
    try:
        # Held: never read, so each keeps its worker's one slot.
        streams.append(await JobStream.open(job(LONG, window=1)))
        streams.append(await JobStream.open(job(LONG, window=1)))
        assert {s.worker for s in streams} == {w.worker_id for w in workers}
        third = job(SHORT)
        opening = asyncio.ensure_future(JobStream.open(third))
        await eventually(lambda: third.job_id.encode() in waiting_jobs())
        assert not opening.done()
        await streams[0].close()  # a slot frees: the waiting job takes it
        streams.append(await opening)
        assert streams[-1].worker == streams[0].worker
        assert [chunk async for chunk in streams[-1].chunks()]
    finally:
        for stream in streams:
            await stream.close()
        for worker in workers:
            stop_worker(worker)


async def test_a_killed_workers_slots_are_not_offered(worker_pool):
    worker_pool.stop_all()
    alive, killed = (start_worker(TTS_WORKER_MAX_JOBS="1") for _ in range(2))
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = Keys(settings.REDIS_PREFIX)
    killed.process.kill()  # no goodbye: its heartbeat expires on its own
    await eventually(lambda: not client.exists(keys.heartbeat(killed.worker_id)))
    streams: list[JobStream] = []
    try:
        streams.append(await JobStream.open(job(LONG, window=1)))
        assert streams[0].worker == alive.worker_id
        second = job(SHORT)
        opening = asyncio.ensure_future(JobStream.open(second))
        await eventually(lambda: second.job_id.encode() in waiting_jobs())
        assert not client.llen(keys.queue(killed.worker_id))
        await streams[0].close()
        streams.append(await opening)
        assert streams[-1].worker == alive.worker_id
    finally:
        for stream in streams:
            await stream.close()
        stop_worker(alive)
        stop_worker(killed)


async def test_past_the_queue_depth_a_job_is_refused_at_once_with_retry_after(
    worker_pool, settings
):
    settings.TTS_QUEUE_DEPTH = 0  # no job may wait: a full service refuses at once
    worker_pool.stop_all()
    worker = start_worker(TTS_WORKER_MAX_JOBS="1")
    held = await JobStream.open(job(LONG, window=1))
    try:
        with pytest.raises(SynthesisFailed) as refused:
            await JobStream.open(job(SHORT))
    finally:
        await held.close()
        stop_worker(worker)
    assert (refused.value.status, refused.value.code) == (503, "queue_full")
    assert refused.value.headers == {"Retry-After": "2"}


async def test_the_workers_audio_carries_the_engines_word_alignment(tts_worker):
    """Each segment's first chunk carries Piper's words (sample spans of the segment's audio
    from that chunk on); the pieces the worker cuts after it carry none."""
    stream = await JobStream.open(job("Hello there. Your order of the blue chair is on its way."))
    try:
        chunks = [chunk async for chunk in stream.chunks()]
    finally:
        await stream.close()
    for index in (0, 1):
        mine = [c for c in chunks if c.segment == index]
        assert mine[0].aligned
        assert not any(c.aligned for c in mine[1:])
        samples = sum(len(c.pcm) // 2 for c in mine)
        words = cast(list[list[int]], mine[0].words)
        assert len(words) >= (2 if index == 0 else 9)  # espeak runs "of the" together
        for start, end, sounds in words:
            assert 0 <= start < end <= samples
            assert sounds >= 1


async def test_a_job_waiting_its_turn_is_kept_and_one_whose_reader_stopped_is_dropped(
    worker_pool, settings
):
    """A worker drops a job whose receiver sends no credit for its stall time (2 s here). A
    job opened but not read yet (a socket's next unit, waiting while the one before plays) is
    kept alive by its stream until it is read; once read, a reader that stops is dropped, and
    finds a clear error when it comes back instead of waiting on a live worker for ever."""
    settings.TTS_WORKER_STALL_SECONDS = 2.0  # this process's keep-alive: every 2/3 s
    worker_pool.stop_all()
    worker = start_worker(TTS_WORKER_STALL_SECONDS="2")
    try:
        waiting = await JobStream.open(job(LONG, window=2))
        await eventually(lambda: queued(waiting) == 2)  # its window is full: no more credit
        await asyncio.sleep(5)  # two and a half stall times, not read
        chunks = waiting.chunks()
        read = [await anext(chunks) for _ in range(6)]  # the rest of it still comes
        assert [chunk.seq for chunk in read] == [1, 2, 3, 4, 5, 6]

        # Reading started, then stopped: no keep-alive now, and the worker drops the job.
        await eventually(lambda: last_reply(waiting) == messages.ERROR)
        for _ in range(queued(waiting) - 1):  # what it sent before the drop
            await anext(chunks)
        with pytest.raises(SynthesisFailed) as failed:  # then the error
            await anext(chunks)
        assert failed.value.code == "stream_stalled"
        await waiting.close()
    finally:
        stop_worker(worker)
