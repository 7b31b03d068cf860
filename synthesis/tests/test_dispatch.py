"""The dispatch script on real Redis, with workers that are only their heartbeats (an engine
name of each test's own, so the session's real workers never see these jobs): who gets a job,
what waits, what is refused, and that concurrent dispatchers never overfill a worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from synthesis.contract import dispatch, messages
from synthesis.contract.dispatch import FULL, NO_WORKERS, PLACED, WAITING
from synthesis.contract.jobs import WorkerStatus
from synthesis.contract.keys import Keys

KEYS = Keys(settings.REDIS_PREFIX)
HOLD_MS = 60_000
WAIT_MS = 60_000


@pytest.fixture
async def client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def engine() -> str:
    return f"fake-{uuid.uuid4().hex[:8]}"


async def beat(client: aioredis.Redis, engine: str, worker: str, capacity: int) -> None:
    """What a live worker publishes: its heartbeat (with its capacity) and its id in the set;
    a fresh worker holds no reservations."""
    await client.delete(KEYS.queue(worker), KEYS.slots(worker))
    status = WorkerStatus(worker, engine, 1, "h", 0, 22050, capacity=capacity)
    await client.set(KEYS.heartbeat(worker), status.dumps(), px=60_000)
    await client.sadd(KEYS.workers(engine), worker)


async def send(
    client: aioredis.Redis,
    engine: str,
    *,
    depth: int = 10,
    hold_ms: int = HOLD_MS,
    wait_ms: int = WAIT_MS,
) -> tuple[str, dispatch.Placement]:
    job_id = str(uuid.uuid4())
    message = messages.pack({"type": messages.JOB, "job_id": job_id})
    placement = await dispatch.dispatch(
        client,
        KEYS,
        engine,
        job_id=job_id,
        message=message,
        hold_ms=hold_ms,
        wait_ms=wait_ms,
        depth=depth,
    )
    return job_id, placement


async def queued(client: aioredis.Redis, worker: str) -> list[str]:
    raw = await client.lrange(KEYS.queue(worker), 0, -1)
    return [str(messages.unpack(m)["job_id"]) for m in raw]


async def test_a_job_goes_to_the_worker_with_the_most_free_slots(client, engine):
    await beat(client, engine, "busy", capacity=3)
    await beat(client, engine, "idle", capacity=3)
    await client.zadd(KEYS.slots("busy"), {"running-1": 2**50, "running-2": 2**50})
    for _ in range(2):  # "idle" has 3 free, "busy" 1: two jobs leave "idle" with 1
        job_id, placement = await send(client, engine)
        assert placement == dispatch.Placement(PLACED, "idle")
        assert job_id in await queued(client, "idle")
        assert await client.hget(KEYS.placed(engine), job_id) == b"idle"
    assert await client.zcard(KEYS.slots("idle")) == 2
    assert await queued(client, "busy") == []


async def test_with_every_worker_full_a_job_waits_and_past_the_depth_is_refused(client, engine):
    await beat(client, engine, "w", capacity=1)
    first, placed = await send(client, engine, depth=2)
    assert placed.outcome == PLACED
    waiting = [await send(client, engine, depth=2) for _ in range(2)]
    assert [p.outcome for _, p in waiting] == [WAITING, WAITING]
    _, refused = await send(client, engine, depth=2)
    assert refused.outcome == FULL
    assert await queued(client, "w") == [first]
    # The first job ends: its slot goes to the oldest waiting job, and only to it.
    assert await dispatch.pull(client, KEYS, engine, "w", release=first) == 1
    assert await queued(client, "w") == [first, waiting[0][0]]
    assert await client.zrange(KEYS.waiting(engine), 0, -1) == [waiting[1][0].encode()]


async def test_a_depth_of_zero_refuses_at_once_when_every_worker_is_full(client, engine):
    await beat(client, engine, "w", capacity=1)
    assert (await send(client, engine, depth=0))[1].outcome == PLACED
    assert (await send(client, engine, depth=0))[1].outcome == FULL


async def test_a_dead_workers_slots_are_not_offered(client, engine):
    await beat(client, engine, "alive", capacity=1)
    await beat(client, engine, "dead", capacity=8)
    await client.delete(KEYS.heartbeat("dead"))  # its heartbeat expired: it died
    _, placement = await send(client, engine)
    assert placement == dispatch.Placement(PLACED, "alive")
    _, placement = await send(client, engine)
    assert placement.outcome == WAITING  # not on the dead worker's free slots
    assert await queued(client, "dead") == []
    assert await client.smembers(KEYS.workers(engine)) == {b"alive"}  # pruned
    await client.delete(KEYS.heartbeat("alive"))
    assert (await send(client, engine))[1].outcome == NO_WORKERS


async def test_waiting_jobs_get_slots_in_the_order_they_came_even_within_a_millisecond(
    client, engine
):
    """Waiting jobs scored by the time they give up came out of one millisecond in the order
    of their ids (the dispatch test above failed so, now and then)."""
    await beat(client, engine, "w", capacity=1)
    running, _ = await send(client, engine, depth=50)
    waiting = [(await send(client, engine, depth=50))[0] for _ in range(30)]
    placed = [running]
    for expected in waiting:
        assert await dispatch.pull(client, KEYS, engine, "w", release=placed[-1]) == 1
        placed.append(expected)
        assert await queued(client, "w") == placed


async def test_a_worker_with_capacity_zero_is_offered_nothing(client, engine):
    """A worker that stops beats with capacity 0 until it is gone."""
    await beat(client, engine, "stopping", capacity=0)
    assert (await send(client, engine))[1].outcome == WAITING


async def test_a_reservation_nobody_frees_lapses_and_its_slot_is_offered_again(client, engine):
    """A web process that died after reserving, with the job never run: the reservation lives
    only as long as the job's deadline allows (`hold_ms`)."""
    await beat(client, engine, "w", capacity=1)
    _, placement = await send(client, engine, hold_ms=1)
    assert placement.outcome == PLACED
    await asyncio.sleep(0.01)
    assert (await send(client, engine))[1].outcome == PLACED


async def test_a_waiting_job_whose_web_process_gave_up_is_never_dispatched(client, engine):
    await beat(client, engine, "w", capacity=1)
    running, _ = await send(client, engine)
    _, placement = await send(client, engine, wait_ms=1)  # its web process gives up
    assert placement.outcome == WAITING
    withdrawn, _ = await send(client, engine)
    assert await dispatch.withdraw(client, KEYS, engine, withdrawn)  # its client went away
    await asyncio.sleep(0.01)
    assert await dispatch.pull(client, KEYS, engine, "w", release=running) == 0
    assert await queued(client, "w") == [running]
    assert not await client.hlen(KEYS.waiting_jobs(engine))


async def test_a_new_worker_takes_the_waiting_jobs_at_its_first_pull(client, engine):
    await beat(client, engine, "old", capacity=1)
    await send(client, engine)
    waiting, _ = await send(client, engine)
    await beat(client, engine, "new", capacity=2)
    assert await dispatch.pull(client, KEYS, engine, "new") == 1
    assert await queued(client, "new") == [waiting]


async def test_concurrent_dispatchers_never_overfill_a_worker(client, engine):
    """Many web processes at once (each its own connection): every slot is taken exactly once,
    `depth` jobs wait, and the rest are refused."""
    capacities = {"a": 3, "b": 5, "c": 1}
    for worker, capacity in capacities.items():
        await beat(client, engine, worker, capacity)
    clients = [aioredis.Redis.from_url(settings.REDIS_URL) for _ in range(20)]
    try:
        sent = await asyncio.gather(
            *(send(clients[n % len(clients)], engine, depth=25) for n in range(200))
        )
    finally:
        for each in clients:
            await each.aclose()
    outcomes = [placement.outcome for _, placement in sent]
    assert outcomes.count(PLACED) == sum(capacities.values())
    assert outcomes.count(WAITING) == 25
    assert outcomes.count(FULL) == 200 - 25 - sum(capacities.values())
    for worker, capacity in capacities.items():
        assert await client.zcard(KEYS.slots(worker)) == capacity
        assert len(await queued(client, worker)) == capacity
