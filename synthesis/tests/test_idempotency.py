"""The idempotency entry's life in Redis (real Redis): what a dead, refused or overtaken attempt
leaves behind. End-to-end behaviour is in tests/test_idempotency.py."""

from __future__ import annotations

import hashlib
import json
import random
import uuid

import pytest
from django.conf import settings

from callwaiting_tts.errors import ApplicationError
from callwaiting_tts.redis import get_redis
from synthesis.idempotency import (
    IdempotencyClaim,
    entry_key,
    idempotency_abort,
    idempotency_begin,
    idempotency_finish,
)

VALUES = {"text": "Hello there.", "format": "pcm", "stream": True}


@pytest.fixture
def tenant_id():
    """A tenant id no other test uses; its entries are removed afterwards."""
    ident = random.randint(10**9, 2 * 10**9)
    yield ident
    client = get_redis()
    for found in client.scan_iter(match=f"{settings.REDIS_PREFIX}:idem:{ident}:*"):
        client.delete(found)


def begin(tenant_id: int, key: str, values=VALUES) -> IdempotencyClaim:
    return idempotency_begin(
        tenant_id=tenant_id, idempotency_key=key, path="/v1/synthesize", values=values
    )


def entry(tenant_id: int, key: str) -> dict | None:
    raw = get_redis().get(entry_key(tenant_id, key))
    return None if raw is None else json.loads(raw)


def test_it_keeps_the_entry_per_tenant_under_a_hash_of_the_key(settings, tenant_id):
    claim = begin(tenant_id, "order 1")
    digest = hashlib.sha256(b"order 1").hexdigest()
    assert claim.redis_key == f"{settings.REDIS_PREFIX}:idem:{tenant_id}:{digest}"
    assert entry(tenant_id, "order 1")["state"] == "running"
    assert entry(tenant_id + 1, "order 1") is None


def test_a_refused_first_attempt_frees_the_key(tenant_id):
    idempotency_abort(begin(tenant_id, "k"))
    assert entry(tenant_id, "k") is None
    again = begin(tenant_id, "k", {**VALUES, "text": "Something else."})
    assert (again.replayed, again.prior_billed) == (False, 0)


def test_a_refused_retry_keeps_what_the_key_billed(tenant_id):
    first = begin(tenant_id, "k")
    idempotency_finish(first, billed=12, synthesis_id=str(uuid.uuid4()))
    retry = begin(tenant_id, "k")
    assert (retry.replayed, retry.prior_billed) == (True, 12)
    idempotency_abort(retry)  # e.g. a 429: the retry never started
    assert entry(tenant_id, "k")["state"] == "done"
    again = begin(tenant_id, "k")
    assert (again.replayed, again.prior_billed) == (True, 12)


def test_a_running_attempt_blocks_duplicates_until_it_counts_as_dead(settings, tenant_id):
    begin(tenant_id, "k")  # its web process dies: no finish, no abort
    with pytest.raises(ApplicationError) as refused:
        begin(tenant_id, "k")
    assert (refused.value.status, refused.value.code) == (409, "idempotency_in_progress")
    assert refused.value.headers == {"Retry-After": "1"}

    settings.IDEMPOTENCY_RUNNING_SECONDS = 0
    stale = begin(tenant_id, "another")
    later = begin(tenant_id, "another")  # the first counts as dead at once
    assert (later.replayed, later.prior_billed) == (True, 0)
    assert stale.token != later.token


def test_an_attempt_taken_for_dead_adds_its_bill_without_ending_the_live_one(settings, tenant_id):
    settings.IDEMPOTENCY_RUNNING_SECONDS = 0
    slow = begin(tenant_id, "k")
    settings.IDEMPOTENCY_RUNNING_SECONDS = 390
    live = begin(tenant_id, "k")
    idempotency_finish(slow, billed=5, synthesis_id=str(uuid.uuid4()))
    state = entry(tenant_id, "k")
    assert (state["state"], state["attempt"], state["billed"]) == ("running", live.token, 5)
    idempotency_finish(live, billed=3, synthesis_id="s2")
    state = entry(tenant_id, "k")
    assert (state["state"], state["billed"], state["attempts"], state["synthesis_id"]) == (
        "done",
        8,
        2,
        "s2",
    )


def test_the_key_with_other_parameters_or_endpoint_is_reused(tenant_id):
    begin(tenant_id, "k")
    for path, values in [
        ("/v1/synthesize", {**VALUES, "stream": False}),
        ("/v1/audio/speech", VALUES),
    ]:
        with pytest.raises(ApplicationError) as refused:
            idempotency_begin(tenant_id=tenant_id, idempotency_key="k", path=path, values=values)
        assert (refused.value.status, refused.value.code) == (409, "idempotency_key_reused")


def test_the_entry_lives_a_day_from_the_first_use(settings, tenant_id):
    settings.IDEMPOTENCY_TTL_SECONDS = 100
    first = begin(tenant_id, "k")
    client = get_redis()
    assert 0 < client.pttl(first.redis_key) <= 100_000
    client.pexpire(first.redis_key, 50_000)  # as if 50 s had passed
    idempotency_finish(first, billed=4, synthesis_id="s1")
    begin(tenant_id, "k")
    assert 0 < client.pttl(first.redis_key) <= 50_000  # updates keep the first use's clock
