"""A brake on guessing passwords at a sign-in form: failed sign-ins are counted per client
address and user name (and per address alone, ten times higher), in Redis, for a quarter of an
hour. Each door has its own counters and limit: the portal's members, Django admin's staff. The
API's keys have their own brake (tenants.auth)."""

from __future__ import annotations

import hashlib

from callwaiting_tts.redis import get_redis, key

WINDOW_SECONDS = 15 * 60
PER_ADDRESS_FACTOR = 10  # a shared address (an office, a NAT) tries many names


def _keys(door: str, client: str, username: str, limit: int) -> list[tuple[str, int]]:
    who = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:16]
    return [
        (key("authfail", door, client, who), limit),
        (key("authfail", door, client), limit * PER_ADDRESS_FACTOR),
    ]


def sign_in_blocked(door: str, client: str, username: str, *, limit: int) -> bool:
    names = _keys(door, client, username, limit)
    counts = get_redis().mget([name for name, _ in names])
    return any(int(count or 0) >= most for count, (_, most) in zip(counts, names, strict=True))


def note_sign_in_failure(door: str, client: str, username: str) -> None:
    pipe = get_redis().pipeline()
    for name, _ in _keys(door, client, username, 0):
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS, nx=True)
    pipe.execute()
