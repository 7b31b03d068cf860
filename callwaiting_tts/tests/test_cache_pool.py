"""The cache's Redis connections are the process's, not each request's
(`callwaiting_tts.cache.SharedConnectionPool`)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.test import AsyncClient

from callwaiting_tts.redis import get_redis
from conftest import TenantFixture


def _connections_received() -> int:
    return int(get_redis().info("stats")["total_connections_received"])


def _read_in_a_new_thread() -> None:
    # A new thread has a cache object of its own, as each request under ASGI does.
    thread = threading.Thread(target=lambda: caches["default"].get("pool-probe"))
    thread.start()
    thread.join()


def test_cache_objects_of_many_threads_share_one_pool() -> None:
    _read_in_a_new_thread()  # the pool's first connection
    before = _connections_received()
    for _ in range(8):
        _read_in_a_new_thread()
    assert _connections_received() - before == 0


async def test_api_requests_under_asgi_open_no_redis_connection_each(
    make_tenant: Callable[[str], TenantFixture],
) -> None:
    tenant = await sync_to_async(make_tenant)("pool")
    client = AsyncClient()
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    first = await client.get("/v1/me", headers=auth)
    assert first.status_code == 200, first.content  # pools warm
    before = _connections_received()
    for _ in range(6):
        # daphne runs each request in a context of its own, as this does.
        request = asyncio.create_task(
            client.get("/v1/me", headers=auth), context=contextvars.Context()
        )
        assert (await request).status_code == 200
    # Before the shared pool: one new connection per request (6).
    assert _connections_received() - before <= 1
