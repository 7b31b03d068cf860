"""The cache's serializer (JSON, never pickle) and its connection pool (one per process).

Django's Redis cache pickles values by default, so anyone who can write a key to Redis (a shared
or exposed Redis, a leaked password) can run code in every web process that reads it. Values
here go through JSON instead; the few Python types the project caches that JSON lacks (Decimal,
datetime, date, time, timedelta, UUID, tuple, set, frozenset, bytes, dicts with non-string
keys) are written as tagged objects and come back as themselves. Anything else is refused when it
is set, not silently turned into something else. A value that is not our JSON (a pickle left by
an older release, or planted) reads as a miss.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import redis

from callwaiting_tts.redis import connection_pool

logger = logging.getLogger(__name__)

TAG = "__cw"  # the key of a tagged object; a plain dict that has it is written as pairs

_ENCODERS: list[tuple[type, str, Callable[[Any], Any]]] = [
    # datetime before date: a datetime is a date.
    (dt.datetime, "datetime", lambda v: v.isoformat()),
    (dt.date, "date", lambda v: v.isoformat()),
    (dt.time, "time", lambda v: v.isoformat()),
    (dt.timedelta, "timedelta", lambda v: [v.days, v.seconds, v.microseconds]),
    (Decimal, "decimal", str),
    (uuid.UUID, "uuid", str),
    (bytes, "bytes", lambda v: base64.b64encode(v).decode("ascii")),
]
_DECODERS: dict[str, Callable[[Any], Any]] = {
    "datetime": dt.datetime.fromisoformat,
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "timedelta": lambda v: dt.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "decimal": Decimal,
    "uuid": uuid.UUID,
    "bytes": base64.b64decode,
    "tuple": tuple,
    "set": set,
    "frozenset": frozenset,
    "dict": dict,  # from its [key, value] pairs
}


def encode(value: Any) -> Any:
    """`value` as plain JSON types, tagging what JSON would lose. TypeError for anything else."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode(v) for k, v in value.items()}
        return {TAG: "dict", "v": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple | set | frozenset):
        return {TAG: type(value).__name__, "v": [encode(item) for item in value]}
    for kind, tag, to_json in _ENCODERS:
        if isinstance(value, kind):
            return {TAG: tag, "v": to_json(value)}
    raise TypeError(f"{type(value).__name__} cannot be cached: the cache stores JSON")


def _decode(obj: dict[str, Any]) -> Any:
    # json's object_hook sees inner objects first: a tagged container's items are decoded already.
    tag = obj.get(TAG)
    if tag is None:
        return obj
    return _DECODERS[tag](obj["v"])


class JsonSerializer:
    """Django's RedisCache serializer interface (`dumps`, `loads`). Integers stay raw Redis
    integers, as Django's own serializer keeps them, so `incr` and `decr` work."""

    def dumps(self, obj: Any) -> bytes | int:
        if type(obj) is int:  # not bool
            return obj
        return json.dumps(encode(obj), separators=(",", ":"), ensure_ascii=False).encode()

    def loads(self, data: bytes) -> Any:
        try:
            return int(data)
        except ValueError:
            pass
        try:
            return json.loads(data, object_hook=_decode)
        except (ValueError, ArithmeticError, KeyError, TypeError):
            logger.warning("cache value is not JSON written by this serializer; read as a miss")
            return None


class SharedConnectionPool(redis.ConnectionPool):
    """The cache's connection pool, one per process and URL.

    Django's Redis cache makes a pool per cache object, and its cache objects are per context:
    under ASGI every request (daphne gives each its own context, and each thread it runs in) got
    a fresh object, so a fresh pool, so a new TCP connection to Redis for its first cache read:
    about a millisecond on every API request (the key lookup reads the cache), measured by Redis's
    `total_connections_received`. Django asks the `pool_class` option for a pool with `from_url`;
    this one hands back the process's pool for those arguments, from the factory that knows
    Redis Sentinel (`callwaiting_tts.redis.connection_pool`). redis-py's pools are thread-safe
    and start afresh in a forked child (they check the pid)."""

    _process_pools: ClassVar[dict[str, redis.ConnectionPool]] = {}
    _process_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> redis.ConnectionPool:  # type: ignore[override]
        key = repr((url, sorted(kwargs.items(), key=lambda item: item[0])))
        with cls._process_lock:
            pool = cls._process_pools.get(key)
            if pool is None:
                pool = cls._process_pools[key] = connection_pool(url, **kwargs)
            return pool
