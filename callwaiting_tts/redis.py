"""One shared Redis client per process for the project's own keys (rate counters, buffers)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def get_redis() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: object) -> str:
    """A Redis key under this deployment's prefix."""
    return ":".join([settings.REDIS_PREFIX, *(str(p) for p in parts)])
