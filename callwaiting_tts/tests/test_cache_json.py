"""The cache stores JSON (callwaiting_tts/cache.py): what the project caches comes back as itself,
and a pickle planted in Redis is never unpickled."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache

from billing.limits import limits_for
from callwaiting_tts.redis import get_redis

pytestmark = pytest.mark.django_db


class Planted:
    """Unpickling this runs os.mkdir: what an attacker's payload would do with a shell."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (str(self.path),))


def raw_key(name: str) -> str:
    return cache.make_and_validate_key(name)


def test_decimals_datetimes_and_friends_come_back_as_themselves():
    value = {
        "price": Decimal("0.000015"),
        "at": dt.datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=dt.UTC),
        "naive": dt.datetime(2025, 3, 1, 12, 30),
        "day": dt.date(2025, 2, 28),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "pair": (1, "a"),
        "formats": frozenset({"wav", "mulaw"}),
        "by_id": {7: "seven"},
        "nested": [{"limit": None, "ok": True, "rate": 1.5}],
    }
    cache.set("json-roundtrip", value, 30)
    assert cache.get("json-roundtrip") == value
    stored = get_redis().get(raw_key("json-roundtrip"))
    assert stored.startswith(b"{")  # JSON in Redis, not a pickle
    assert b"0.000015" in stored


def test_counters_stay_redis_integers():
    cache.set("json-counter", 5, 30)
    assert cache.incr("json-counter", 2) == 7
    assert get_redis().get(raw_key("json-counter")) == b"7"


def test_a_planted_pickle_is_a_miss_and_runs_nothing(tmp_path):
    marker = tmp_path / "owned"
    get_redis().set(raw_key("apikey:cw_planted"), pickle.dumps(Planted(marker)), ex=30)
    assert cache.get("apikey:cw_planted") is None
    assert not marker.exists()


def test_a_value_json_cannot_hold_is_refused_when_set():
    with pytest.raises(TypeError, match="cannot be cached"):
        cache.set("json-object", object(), 30)


def test_a_tenants_limits_come_back_whole_from_the_cache(tenant_a):
    first = limits_for(tenant_a.tenant.pk)  # computed, then cached
    again = limits_for(tenant_a.tenant.pk)  # from the cache
    assert again == first
    assert isinstance(again.allowed_formats, frozenset)
