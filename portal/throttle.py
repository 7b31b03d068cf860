"""A brake on guessing passwords: failed sign-ins are counted per client address and e-mail
(and per address alone, higher), in Redis, for a quarter of an hour. The API's keys have their
own brake (tenants.auth); this one only guards the portal's sign-in form."""

from __future__ import annotations

import hashlib

from django.conf import settings

from callwaiting_tts.redis import get_redis, key

WINDOW_SECONDS = 15 * 60


def _keys(client: str, email: str) -> list[tuple[str, int]]:
    who = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:16]
    limit = settings.PORTAL_SIGNIN_FAILURE_LIMIT
    return [
        (key("authfail", "portal", client, who), limit),
        (key("authfail", "portal", client), limit * 10),
    ]


def sign_in_blocked(client: str, email: str) -> bool:
    names = _keys(client, email)
    counts = get_redis().mget([name for name, _ in names])
    return any(int(count or 0) >= limit for count, (_, limit) in zip(counts, names, strict=True))


def note_sign_in_failure(client: str, email: str) -> None:
    pipe = get_redis().pipeline()
    for name, _ in _keys(client, email):
        pipe.incr(name)
        pipe.expire(name, WINDOW_SECONDS, nx=True)
    pipe.execute()
