"""A synthesis's admission reads the tenant's default voice, default dictionary and limits from
the cache in one round trip (an MGET on the event loop), not one GET each."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from synthesis.services import synthesis_admit, synthesis_finish
from synthesis.tests.test_usage_durability import http_input
from tenants.auth import authenticate_api_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def who(make_tenant):
    return authenticate_api_key(make_tenant("reads").api_key)


@pytest.fixture
def reads(monkeypatch) -> list[tuple[str, Any]]:
    """The cache reads made, as ("get", key) and ("get_many", keys)."""
    seen: list[tuple[str, Any]] = []
    get, get_many = cache.get, cache.get_many

    def counted_get(key, *args, **kwargs):
        seen.append(("get", key))
        return get(key, *args, **kwargs)

    def counted_get_many(keys, *args, **kwargs):
        seen.append(("get_many", tuple(keys)))
        return get_many(keys, *args, **kwargs)

    monkeypatch.setattr(cache, "get", counted_get)
    monkeypatch.setattr(cache, "get_many", counted_get_many)
    return seen


async def _admit(who):
    synthesis = await synthesis_admit(principal=who, data=http_input(), request_id="reads")
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")


async def test_the_defaults_and_limits_are_one_round_trip(who, reads) -> None:
    await _admit(who)  # fills the cache entries
    reads.clear()
    await _admit(who)
    during = [r for r in reads if r[0] == "get_many" or "apikey" not in str(r[1])]
    names = ("default_voice", "pronunciation_default", "limits")
    assert [kind for kind, _ in during].count("get_many") == 1
    (keys,) = [keys for kind, keys in during if kind == "get_many"]
    assert all(any(name in key for key in keys) for name in names)
    singles = [key for kind, key in during if kind == "get"]
    assert not any(name in str(key) for key in singles for name in names), singles
