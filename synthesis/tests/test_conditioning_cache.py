"""The worker's cache of loaded cloned voices stays within its byte budget."""

from __future__ import annotations

import pytest

from synthesis.conditioning import ConditioningCache
from synthesis.engines.base import LoadedConditioning


def entry(nbytes: int) -> LoadedConditioning:
    return LoadedConditioning(value=object(), nbytes=nbytes)


def test_it_evicts_the_least_recently_used_to_stay_within_its_bytes():
    cache = ConditioningCache(max_bytes=300)
    a, b, c = entry(100), entry(100), entry(100)
    cache.put("a", a)
    cache.put("b", b)
    cache.put("c", c)
    assert cache.get("a") is a  # a is now the most recently used
    cache.put("d", entry(100))
    assert "b" not in cache
    assert {"a", "c", "d"} == {k for k in ("a", "b", "c", "d") if k in cache}
    assert cache.bytes == 300


def test_it_never_holds_more_than_its_budget_however_many_voices_pass():
    cache = ConditioningCache(max_bytes=1_000)
    for n in range(10_000):
        cache.put(f"tenant:{n}:1", entry(130 + n % 50))
        assert cache.bytes <= 1_000
    assert 0 < len(cache) <= 1_000 // 130


def test_an_entry_larger_than_the_budget_is_not_kept():
    cache = ConditioningCache(max_bytes=100)
    cache.put("small", entry(60))
    cache.put("huge", entry(101))
    assert "huge" not in cache
    assert "small" in cache
    assert cache.bytes == 60


def test_replacing_a_key_counts_its_bytes_once():
    cache = ConditioningCache(max_bytes=100)
    cache.put("v", entry(40))
    cache.put("v", entry(70))
    assert cache.bytes == 70
    assert len(cache) == 1


def test_hits_and_misses_are_counted():
    cache = ConditioningCache(max_bytes=100)
    assert cache.get("x") is None
    cache.put("x", entry(1))
    assert cache.get("x") is not None
    assert (cache.hits, cache.misses) == (1, 1)


def test_a_negative_budget_is_refused():
    with pytest.raises(ValueError, match="max_bytes"):
        ConditioningCache(max_bytes=-1)
