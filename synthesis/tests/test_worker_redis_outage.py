"""A TTS worker outlives a Redis restart (chaos/, "Redis stopped and started"): its loops wait for
Redis to answer again and it beats and serves on, without a restart. Before, the first loop that
lost its connection stopped the worker, and a supervisor's restart would have crash-looped until
Redis was back. Its own redis-server, so the shared one is never stopped."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from chaos.servers import OwnRedis
from synthesis.contract.keys import Keys
from synthesis.engines.loader import load_engine
from synthesis.worker import Worker

PREFIX = "cwtts:outage-test"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    server.remove()


async def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met before the deadline"
        await asyncio.sleep(0.05)


def beating(server: OwnRedis, worker: Worker) -> bool:
    client = redis.Redis.from_url(server.url, socket_connect_timeout=1)
    try:
        return bool(client.exists(Keys(PREFIX).heartbeat(worker.worker_id)))
    except redis.ConnectionError:
        return False
    finally:
        client.close()


async def test_it_beats_again_after_redis_comes_back(own_redis: OwnRedis) -> None:
    worker = Worker(load_engine("piper"), redis_url=own_redis.url, redis_prefix=PREFIX)
    task = asyncio.create_task(worker.run())
    try:
        await eventually(lambda: beating(own_redis, worker))
        await asyncio.to_thread(own_redis.stop)
        await asyncio.sleep(1.5)  # every loop has met the closed connection by now
        assert not task.done(), "the worker stopped when Redis went away"
        await asyncio.to_thread(own_redis.start)
        # A heartbeat from before the stop may come back with the snapshot: only a new one counts.
        redis.Redis.from_url(own_redis.url).delete(Keys(PREFIX).heartbeat(worker.worker_id))
        await eventually(lambda: beating(own_redis, worker), timeout=10)
        assert not task.done()
        assert not worker.failed
    finally:
        worker.stop()
        await asyncio.wait_for(task, 30)
