"""Every Redis client the service makes comes from here (docs/scaling.md, "Redis").

The project's shared client (rate counters, buffers), the asyncio clients (admission, job
streams, workers, the phrase cache, socket leases), the cache's connection pool, and the
configuration the channel layer and Celery build their own clients from. Without
`REDIS_SENTINELS` they connect to `REDIS_URL`, as before. With it they ask the sentinels where
the primary is on every new connection, and a connection to a primary that was demoted is
dropped (Sentinel's failover kills its clients; a write answered READONLY disconnects), so
every client follows a failover. `REDIS_URL` then gives only the primary's password, user and
database number: its host and port are the sentinels' to say.

Redis Cluster is not supported: admission's and dispatch's Lua scripts touch several keys per
call, which Cluster refuses across hash slots (docs/scaling.md lists them).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

import redis
import redis.asyncio as aioredis
from django.conf import settings
from redis.asyncio.retry import Retry as AsyncRetry
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

# How long asking a sentinel may take; the next sentinel is asked after it.
SENTINEL_TIMEOUT_S = 2.0
# Under Sentinel a command whose connection is cut (the failover kills the old primary's
# clients, a worker's BLPOP among them) is sent again on a new connection to the primary the
# sentinels name, for about 3.5 s (0.1, 0.2, 0.4, 0.8, 1, 1 s apart). Without retries a TTS
# worker's Redis loop failed and the worker stopped (tests/test_redis_sentinel.py). Timeouts
# are not retried: they would multiply every wait. Only with Sentinel: a plain REDIS_URL keeps
# redis-py's defaults.
FAILOVER_RETRIES = 6
_BACKOFF = {"cap": 1.0, "base": 0.05}


@dataclass(frozen=True)
class SentinelConfig:
    """The sentinels and the primary they watch (`settings.REDIS_SENTINEL`)."""

    hosts: tuple[tuple[str, int], ...]
    master: str  # the name in `sentinel monitor <name> ...`
    password: str = ""  # the sentinels' own `requirepass`; the primary's is REDIS_URL's

    def sentinel_kwargs(self) -> dict[str, Any]:
        """Options of the connections to the sentinels themselves."""
        options: dict[str, Any] = {
            "socket_timeout": SENTINEL_TIMEOUT_S,
            "socket_connect_timeout": SENTINEL_TIMEOUT_S,
        }
        if self.password:
            options["password"] = self.password
        return options


def sentinel_config(hosts: list[str], *, master: str, password: str = "") -> SentinelConfig | None:
    """From `REDIS_SENTINELS` ("host:port,host:port"); None when it is empty (no Sentinel)."""
    if not hosts:
        return None
    parsed = []
    for entry in hosts:
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"REDIS_SENTINELS: {entry!r} is not host:port")
        parsed.append((host.strip("[]"), int(port)))
    if not master:
        raise ValueError("REDIS_SENTINEL_MASTER must name the primary the sentinels monitor")
    return SentinelConfig(hosts=tuple(parsed), master=master, password=password)


def primary_options(url: str) -> dict[str, Any]:
    """What `url` says of the primary besides where it is: password, user, database, query
    options. TLS (rediss://) and Unix sockets are refused: the sentinels name a TCP address."""
    options = parse_url(url)
    if "connection_class" in options:
        raise ValueError("Redis Sentinel needs a redis:// REDIS_URL (no rediss:// or unix://)")
    options.pop("host", None)
    options.pop("port", None)
    return options


def _configured() -> SentinelConfig | None:
    return getattr(settings, "REDIS_SENTINEL", None)


def _failover_retry() -> Retry:
    return Retry(ExponentialBackoff(**_BACKOFF), FAILOVER_RETRIES, (RedisConnectionError,))


def _async_failover_retry() -> AsyncRetry:
    return AsyncRetry(ExponentialBackoff(**_BACKOFF), FAILOVER_RETRIES, (RedisConnectionError,))


# --- clients made by the service ------------------------------------------------------------

_sentinels: dict[SentinelConfig, Sentinel] = {}
_sentinels_lock = threading.Lock()


def _sentinel(config: SentinelConfig) -> Sentinel:
    # One per process: its connections to the sentinels are shared by every pool (thread-safe).
    with _sentinels_lock:
        manager = _sentinels.get(config)
        if manager is None:
            manager = _sentinels[config] = Sentinel(
                list(config.hosts), sentinel_kwargs=config.sentinel_kwargs()
            )
        return manager


def connection_pool(url: str, **options: Any) -> redis.ConnectionPool:
    """A pool of connections to the primary: `url`'s server, or the one the sentinels name."""
    config = _configured()
    if config is None:
        return redis.ConnectionPool.from_url(url, **options)
    return SentinelConnectionPool(
        config.master,
        _sentinel(config),
        **{**primary_options(url), "retry": _failover_retry(), **options},
    )


def sync_client(url: str | None = None, **options: Any) -> redis.Redis:
    """A client of its own (closing it closes its pool). `url` defaults to REDIS_URL."""
    return redis.Redis.from_pool(connection_pool(url or settings.REDIS_URL, **options))


# redis.asyncio connections belong to the event loop that made them, the sentinels' too.
_async_sentinels: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[SentinelConfig, AsyncSentinel]
] = weakref.WeakKeyDictionary()


def _async_sentinel(config: SentinelConfig) -> AsyncSentinel:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # made before its loop runs (a worker's): it keeps its own
        return AsyncSentinel(list(config.hosts), sentinel_kwargs=config.sentinel_kwargs())
    per_loop = _async_sentinels.setdefault(loop, {})
    manager = per_loop.get(config)
    if manager is None:
        manager = per_loop[config] = AsyncSentinel(
            list(config.hosts), sentinel_kwargs=config.sentinel_kwargs()
        )
    return manager


def async_client(url: str | None = None, **options: Any) -> aioredis.Redis:
    """An asyncio client of its own (closing it closes its pool). `url` defaults to REDIS_URL."""
    url = url or settings.REDIS_URL
    config = _configured()
    if config is None:
        return aioredis.Redis.from_url(url, **options)
    pool = AsyncSentinelConnectionPool(
        config.master,
        _async_sentinel(config),
        **{**primary_options(url), "retry": _async_failover_retry(), **options},
    )
    return aioredis.Redis.from_pool(pool)


@cache
def _client(url: str) -> redis.Redis:
    return sync_client(url, socket_timeout=2, socket_connect_timeout=2)


def get_redis() -> redis.Redis:
    """One shared client per process for the project's own keys (rate counters, buffers)."""
    return _client(settings.REDIS_URL)


def key(*parts: object) -> str:
    """A Redis key under this deployment's prefix."""
    return ":".join([settings.REDIS_PREFIX, *(str(p) for p in parts)])


# --- configuration for the clients libraries make (settings call these) ----------------------


def channel_layer_host(url: str, sentinel: SentinelConfig | None, **options: Any) -> dict[str, Any]:
    """An entry of channels-redis's `hosts` (it makes a Sentinel pool from `master_name`)."""
    if sentinel is None:
        return {"address": url, **options}
    return {
        "master_name": sentinel.master,
        "sentinels": list(sentinel.hosts),
        "sentinel_kwargs": sentinel.sentinel_kwargs(),
        **primary_options(url),
        **options,
    }


def celery_url(url: str, sentinel: SentinelConfig | None) -> str:
    """Celery's broker and result URL: `url`, or kombu's `sentinel://` list with the primary's
    credentials and database (the master's name goes in the transport options)."""
    if sentinel is None:
        return url
    primary = primary_options(url)
    auth = ""
    if "password" in primary:
        user = quote(primary.get("username", ""), safe="")
        auth = f"{user}:{quote(primary['password'], safe='')}@"
    db = primary.get("db", 0)
    return ";".join(f"sentinel://{auth}{host}:{port}/{db}" for host, port in sentinel.hosts)


def celery_transport_options(sentinel: SentinelConfig | None, **options: Any) -> dict[str, Any]:
    """Celery's broker or result backend transport options, with the Sentinel's when set."""
    if sentinel is None:
        return options
    return {
        **options,
        "master_name": sentinel.master,
        "sentinel_kwargs": sentinel.sentinel_kwargs(),
    }
