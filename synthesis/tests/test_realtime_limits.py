"""Realtime limits and failures, in-process (the consumer under channels' communicator, so
settings can be lowered per test) with real Redis and real worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest
import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from billing import leases
from callwaiting_tts_client.protocol import (
    CLOSE_IDLE_TIMEOUT,
    CLOSE_MESSAGE_TOO_LARGE,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_MANY_REQUESTS,
)
from synthesis.tests.sockets import (
    connect,
    disconnect_every_socket,  # noqa: F401  (autouse)
    eventually,
    forget,
    next_json,
    until,
)

pytestmark = pytest.mark.django_db(transaction=True)

LONG = " ".join(f"This is sentence number {n} of a long answer." for n in range(20))


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("lim")


async def test_concurrent_syntheses_per_tenant_are_limited(tenant, tts_worker, settings):
    settings.TTS_MAX_CONCURRENT_PER_TENANT = 1
    first = await connect(tenant.api_key)
    await until(first, "ready")
    await first.send_json_to({"type": "start", "context_id": "a", "text": "Hello"})
    assert (await next_json(first))["type"] == "started"
    second = await connect(tenant.api_key)
    await until(second, "ready")
    await second.send_json_to({"type": "start", "context_id": "b"})
    error = await next_json(second)
    assert (error["type"], error["error"]["code"], error["context_id"]) == (
        "error",
        "concurrency_limit",
        "b",
    )
    await first.send_json_to({"type": "cancel", "context_id": "a"})
    await until(first, "cancelled")
    deadline = time.monotonic() + 5
    while True:  # the slot frees as soon as the context is cleaned up
        await second.send_json_to({"type": "start", "context_id": f"b{time.monotonic()}"})
        reply = await next_json(second)
        if reply["type"] == "started" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert reply["type"] == "started"


async def test_open_sockets_per_tenant_are_limited(tenant, settings):
    settings.WS_MAX_CONNECTIONS_PER_TENANT = 1
    first = await connect(tenant.api_key)
    await until(first, "ready")
    second = await connect(tenant.api_key)
    error = await next_json(second)
    assert error["error"]["code"] == "too_many_connections"
    assert await next_json(second) == {"type": "close", "code": CLOSE_TOO_MANY_REQUESTS}
    await first.disconnect()
    forget(first)
    third = await connect(tenant.api_key)
    assert (await next_json(third))["type"] == "ready"


async def test_an_idle_socket_is_closed_but_not_while_it_speaks(tenant, tts_worker, settings):
    settings.WS_IDLE_TIMEOUT_SECONDS = 0.6
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "s", "text": LONG[:300]})
    await comm.send_json_to({"type": "end"})
    await until(comm, "done", timeout=30)  # speaking for longer than the idle timeout
    error = await next_json(comm, timeout=5)
    assert error["error"]["code"] == "idle_timeout"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_IDLE_TIMEOUT}


async def test_a_message_over_the_size_limit_closes_4413(tenant, settings):
    settings.WS_MAX_MESSAGE_BYTES = 100
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "text", "text": "x" * 200})
    assert (await next_json(comm))["error"]["code"] == "message_too_large"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_MESSAGE_TOO_LARGE}


async def test_a_client_that_sends_only_errors_is_closed_4400(tenant, settings):
    settings.WS_MAX_CONSECUTIVE_ERRORS = 3
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    for _ in range(2):
        await comm.send_to(text_data="{broken")
        assert (await next_json(comm))["error"]["code"] == "invalid_json"
    # A message that does what it asks resets the count (a ping does not: test_realtime_hardening).
    await comm.send_json_to({"type": "start", "context_id": "fine"})
    assert (await next_json(comm))["type"] == "started"
    for _ in range(3):
        await comm.send_json_to({"type": "nonsense"})
        await next_json(comm)
    assert (await next_json(comm))["error"]["code"] == "protocol_error"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_PROTOCOL_ERROR}


async def test_a_slow_reader_holds_back_the_audio_not_memory(tenant, tts_worker, settings):
    settings.WS_SEND_AHEAD_MS = 300
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "slow", "text": LONG})
    await comm.send_json_to({"type": "end"})
    assert (await next_json(comm))["type"] == "started"
    started = time.monotonic()
    await asyncio.sleep(2.0)  # the client reads nothing for two seconds
    elapsed_ms = (time.monotonic() - started) * 1000
    queued = 0
    while not comm.output_queue.empty():
        message = comm.output_queue.get_nowait()
        if message.get("bytes"):
            queued += len(message["bytes"])
    queued_ms = queued / 48  # 24 kHz s16le
    # Never more than the send-ahead allowance beyond playback time (plus one engine chunk).
    assert 0 < queued_ms <= elapsed_ms + 300 + 3000
    assert queued_ms < 9000  # the whole answer is far longer: the rest was held back


async def test_losing_the_worker_fails_the_context_and_the_socket_carries_on(
    tenant, worker_pool, settings
):
    from conftest import start_worker, stop_worker

    worker_pool.stop_all()  # the victim is the only worker: its loss is certain to matter
    victim = start_worker()
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "lost", "text": LONG})
    await comm.send_json_to({"type": "end"})
    deadline = time.monotonic() + 20
    while True:  # audio flows from the victim (the only worker)
        message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
        if message.get("bytes"):
            break
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait()
    error = await until(comm, "error", timeout=10)
    assert error["context_id"] == "lost"
    # The unit being spoken loses its worker, or the next unit finds none left: either way the
    # context ends with a clear error.
    assert error["error"]["code"] in ("worker_lost", "no_workers")
    await comm.send_json_to({"type": "ping", "id": 2})
    assert (await until(comm, "pong"))["id"] == 2
    survivor = worker_pool.ensure(1)[0]
    assert survivor.process.poll() is None
    await comm.send_json_to({"type": "start", "context_id": "next", "text": "Still here."})
    await comm.send_json_to({"type": "end"})
    assert (await until(comm, "done", timeout=30))["context_id"] == "next"
    stop_worker(victim)


def replies_waiting(at_least: int) -> bool:
    """Whether a job's reply list holds `at_least` messages not yet read."""
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        pattern = f"{django_settings.REDIS_PREFIX}:tts:reply:*"
        return any(client.llen(key) >= at_least for key in client.scan_iter(match=pattern))
    finally:
        client.close()


# One sentence without a clause break: a unit as long as the engine's segment limit allows, said
# at half speed (about 16 s, sixteen one-second chunks), so its job outlasts the credit window
# and still runs when its worker dies.
ONE_UNIT = " ".join(["thank you for waiting while we find the next agent who can help"] * 3)


async def test_a_lost_worker_halts_the_audio_a_context_holds_back(tenant, worker_pool, settings):
    """The audio is paced (300 ms ahead of playback) and the worker runs its credit window (8
    one-second chunks) ahead of that, so when the worker dies mid-unit the context holds about
    8 s of audio it has not sent. It stops sending as soon as the worker's heartbeat lapses (1.5 s),
    not once all of that has played: the caller hears far less than the window after the
    kill, and is billed only for what it heard."""
    from billing.models import UsageRecord
    from conftest import start_worker, stop_worker

    settings.WS_SEND_AHEAD_MS = 300
    settings.TTS_CREDIT_WINDOW = 8
    worker_pool.stop_all()
    victim = start_worker()
    try:
        comm = await connect(tenant.api_key)
        await until(comm, "ready")
        await comm.send_json_to(
            {"type": "start", "context_id": "held", "text": ONE_UNIT, "speed": 0.5}
        )
        await comm.send_json_to({"type": "end"})
        started = await until(comm, "started")
        bytes_per_second = started["sample_rate"] * 2  # pcm: 16-bit mono
        deadline = time.monotonic() + 20
        while True:
            message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
            if message.get("bytes"):
                break
        # The worker fills its credit window (Piper: far faster than real time).
        assert await eventually(lambda: sync_to_async(replies_waiting)(6))
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait()
        after_kill = 0
        deadline = time.monotonic() + 20
        while True:
            message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
            if message.get("bytes"):
                after_kill += len(message["bytes"])
            elif message.get("text") and json.loads(message["text"])["type"] == "error":
                error = json.loads(message["text"])
                break
        assert (error["context_id"], error["error"]["code"]) == ("held", "worker_lost")
        heard = after_kill / bytes_per_second
        # About the heartbeat's lapse plus the send-ahead (~2 s); without the halt, the window.
        assert heard < settings.TTS_CREDIT_WINDOW / 2, heard

        def record() -> UsageRecord | None:
            return (
                UsageRecord.objects.filter(tenant=tenant.tenant)
                .exclude(status=UsageRecord.Status.OPEN)
                .order_by("-id")
                .first()
            )

        found = await eventually(lambda: sync_to_async(record)())
        assert found is not None
        assert found.error_code == "worker_lost"
        assert 0 < found.audio_seconds_delivered <= found.audio_seconds_synthesized
    finally:
        stop_worker(victim)


async def test_leases_never_exceed_the_limit_and_free_themselves():
    client = aioredis.Redis.from_url(django_settings.REDIS_URL)
    key = f"{django_settings.REDIS_PREFIX}:lease:test:{time.monotonic_ns()}"
    try:
        lease_set = leases.LeaseSet(client, key, ttl_ms=300)
        taken = await asyncio.gather(*(lease_set.acquire(f"l{n}", 5) for n in range(40)))
        assert sum(taken) == 5
        assert await lease_set.count() == 5
        assert await lease_set.acquire("l0", 5) == taken[0]  # a holder renews its own
        deadline = time.monotonic() + 5  # nobody renews: a dead holder's slots free themselves
        while await lease_set.count() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert await lease_set.count() == 0
        assert await lease_set.acquire("new", 5)
        await lease_set.release("new")
        assert await lease_set.count() == 0
    finally:
        await client.delete(key)
        await client.aclose()


async def test_a_redis_blip_fails_the_context_and_the_socket_recovers(tenant, tts_worker):
    from synthesis.stream import CLIENT_NAME

    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    # Three sentences: under the 10 s send-ahead allowance, so nothing waits on playback time.
    three = " ".join(LONG.split(". ")[:3]) + "."
    await comm.send_json_to({"type": "start", "context_id": "blip", "text": three})
    await comm.send_json_to({"type": "end"})
    deadline = time.monotonic() + 20
    while True:
        message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
        if message.get("bytes"):
            break
    # Drop every connection the web side holds for its jobs, as a Redis restart would.
    admin = aioredis.Redis.from_url(django_settings.REDIS_URL)
    try:
        clients = await admin.client_list()
        victims = [c["id"] for c in clients if c.get("name") == CLIENT_NAME]
        assert victims
        for client_id in victims:
            await admin.client_kill_filter(_id=client_id)
    finally:
        await admin.aclose()
    # redis-py retries a dropped connection once it is idle; a read cut mid-way fails the
    # context. Either way the context ends cleanly, never hangs.
    deadline = time.monotonic() + 30
    while True:
        outcome = await next_json(comm, max(0.05, deadline - time.monotonic()))
        if outcome["type"] in ("error", "done"):
            break
    assert outcome["context_id"] == "blip"
    if outcome["type"] == "error":
        assert outcome["error"]["code"] == "service_unavailable"
    # The socket recovers: the next context gets fresh connections and completes.
    await comm.send_json_to({"type": "start", "context_id": "after", "text": "Back again."})
    await comm.send_json_to({"type": "end"})
    assert (await until(comm, "done", timeout=30))["context_id"] == "after"
