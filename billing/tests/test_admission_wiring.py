"""Admission wired into the service: HTTP answers 429 with Retry-After and X-RateLimit-* (and
carries the headers on success), the realtime socket refuses a `start` over a limit, stops
text past the quota and refuses a suspended tenant's next `start`; HTTP streams and socket
contexts share one concurrency count."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from billing.admission import admit
from billing.limits import Limits, forget_limits
from billing.models import Plan, UsageRecord
from callwaiting_tts.redis import get_redis, key
from synthesis.tests.sockets import connect as open_socket
from synthesis.tests.sockets import (
    disconnect_every_socket,  # noqa: F401  (autouse)
    next_json,
)
from tenants.audit import Actor
from tenants.services import tenant_suspend
from tests.conftest import _daphne, service  # noqa: F401  (the real service, daphne)
from tests.synth import post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_admission_counters() -> None:
    """Tenant ids restart with each test database; Redis outlives it: no window or counter of
    an earlier run may count against this one's tenants."""
    client = get_redis()
    stale = [
        *client.scan_iter(match=key("rate", "*"), count=500),
        *client.scan_iter(match=key("quota", "*"), count=500),
        *client.scan_iter(match=key("lease", "*"), count=500),
    ]
    if stale:
        client.delete(*stale)


SENTENCE = "Thank you for calling."


def on_plan(fixture, **limits: int | None):
    """Moves the fixture's tenant to a new plan with these limits."""
    plan = Plan.objects.create(slug=f"p-{uuid.uuid4().hex[:8]}", name="Test", **limits)
    fixture.tenant.plan = plan
    fixture.tenant.save(update_fields=["plan"])
    forget_limits(fixture.tenant.pk)
    return fixture


# --- HTTP, through daphne -----------------------------------------------------------------------


def test_http_carries_the_rate_limit_and_answers_429_past_it(service, make_tenant, tts_worker):  # noqa: F811
    tenant = on_plan(make_tenant("rate"), requests_per_minute=2)
    body = {"text": SENTENCE, "stream": False}
    first = post(service.url, "/v1/synthesize", tenant.api_key, body)
    second = post(
        service.url,
        "/v1/audio/speech",
        tenant.api_key,
        {"model": "tts-1", "voice": "alloy", "input": SENTENCE},
    )
    assert (first.status, second.status) == (200, 200)
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(second.headers["x-ratelimit-reset"]) <= 60
    refused = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert refused.status == 429
    assert refused.error()["code"] == "rate_limit_exceeded"
    assert refused.error()["type"] == "rate_limit_error"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-limit"] == "2"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert "x-ratelimit-reset" in refused.headers
    assert UsageRecord.objects.filter(tenant=tenant.tenant).count() == 2  # refusals bill nothing


def test_http_stops_at_the_monthly_quota_exactly(service, make_tenant, tts_worker):  # noqa: F811
    tenant = on_plan(make_tenant("quota"), monthly_character_quota=2 * len(SENTENCE))
    body = {"text": SENTENCE, "stream": False}
    for _ in range(2):  # exactly the quota
        answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
        assert answer.status == 200, answer.body
    refused = post(service.url, "/v1/synthesize", tenant.api_key, {"text": "A", "stream": False})
    assert refused.status == 429
    assert refused.error()["code"] == "quota_exceeded"
    assert "monthly character quota" in refused.error()["message"]
    assert int(refused.headers["retry-after"]) >= 1
    assert "x-ratelimit-limit" in refused.headers


def test_invalid_requests_count_toward_the_rate_limit(service, make_tenant, tts_worker):  # noqa: F811
    """They were free: a client could probe or flood with bad requests at no cost."""
    tenant = on_plan(make_tenant("invalid"), requests_per_minute=2)
    unknown_voice = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, "voice": "nobody"}
    )
    assert unknown_voice.status in (400, 404), unknown_voice.body
    bad_field = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, "speed": 9})
    assert bad_field.status == 400, bad_field.body
    refused = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE})
    assert refused.status == 429
    assert refused.error()["code"] == "rate_limit_exceeded"


def test_refusals_for_limits_do_not_count_toward_the_rate_limit(service, make_tenant, tts_worker):  # noqa: F811
    tenant = on_plan(
        make_tenant("limits"), requests_per_minute=2, monthly_character_quota=len(SENTENCE) * 2
    )
    for _ in range(3):  # over the quota: 429s, and none of them takes a rate slot
        over = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE * 3})
        assert (over.status, over.error()["code"]) == (429, "quota_exceeded")
    for _ in range(2):
        answer = post(
            service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, "stream": False}
        )
        assert answer.status == 200, answer.body


def test_the_text_preview_is_rate_limited_and_bills_nothing(service, make_tenant):  # noqa: F811
    tenant = on_plan(make_tenant("preview"), requests_per_minute=1)
    first = post(service.url, "/v1/text/preview", tenant.api_key, {"text": SENTENCE})
    assert first.status == 200, first.body
    second = post(service.url, "/v1/text/preview", tenant.api_key, {"text": SENTENCE})
    assert second.status == 429
    assert second.error()["code"] == "rate_limit_exceeded"
    assert int(second.headers["retry-after"]) >= 1
    assert not UsageRecord.objects.filter(tenant=tenant.tenant).exists()


def test_an_ssml_alias_is_reserved_against_the_quota_as_spoken(api, make_tenant):
    # One character of text inside, 30 spoken: a quota of 20 is passed before any work.
    tenant = on_plan(make_tenant("alias"), monthly_character_quota=20)
    ssml = '<speak><sub alias="thirty characters of an alias">x</sub></speak>'
    refused = api(tenant.api_key).post(
        "/v1/synthesize", {"ssml": ssml, "stream": False}, content_type="application/json"
    )
    assert refused.status_code == 429, refused.content
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert not UsageRecord.objects.filter(tenant=tenant.tenant).exists()


# --- the realtime socket, in-process --------------------------------------------------------------


async def connect(key: str) -> WebsocketCommunicator:
    """A socket past its `ready` (closed by `disconnect_every_socket` if the test does not)."""
    comm = await open_socket(key)
    assert (await next_json(comm))["type"] == "ready"
    return comm


async def test_http_streams_and_socket_contexts_share_the_concurrency_limit(make_tenant, settings):
    settings.TTS_MAX_CONCURRENT_PER_TENANT = 1
    tenant = await database_sync_to_async(make_tenant)("share")
    from tenants.auth import authenticate_api_key

    principal = await database_sync_to_async(authenticate_api_key)(tenant.api_key)
    limits = Limits(None, None, 1, None, False, 5000, 0, frozenset(), frozenset())
    http_stream = await admit(principal, characters=10, lease_id=uuid.uuid4().hex, limits=limits)
    assert http_stream.allowed
    comm = await connect(tenant.api_key)
    try:
        await comm.send_json_to({"type": "start", "context_id": "a"})
        error = await next_json(comm)
        assert (error["type"], error["context_id"], error["error"]["code"]) == (
            "error",
            "a",
            "concurrency_limit",
        )
        await comm.send_json_to({"type": "ping", "id": 1})
        assert (await next_json(comm))["type"] == "pong"  # the socket stays open
    finally:
        await comm.disconnect(timeout=10)


async def test_a_socket_start_counts_against_the_rate_limit(make_tenant):
    tenant = await database_sync_to_async(make_tenant)("wsrate")
    await database_sync_to_async(on_plan)(tenant, requests_per_minute=1)
    comm = await connect(tenant.api_key)
    try:
        await comm.send_json_to({"type": "start", "context_id": "a"})
        assert (await next_json(comm))["type"] == "started"
        await comm.send_json_to({"type": "start", "context_id": "b"})
        error = await next_json(comm)
        assert (error["context_id"], error["error"]["code"]) == ("b", "rate_limit_exceeded")
    finally:
        await comm.disconnect(timeout=10)


async def test_text_past_the_quota_cancels_the_context(make_tenant, tts_worker):
    tenant = await database_sync_to_async(make_tenant)("wsquota")
    await database_sync_to_async(on_plan)(tenant, monthly_character_quota=30)
    comm = await connect(tenant.api_key)
    try:
        await comm.send_json_to({"type": "start", "context_id": "a", "text": "Hello there. "})
        assert (await next_json(comm))["type"] == "started"
        await comm.send_json_to({"type": "text", "text": "x" * 17})  # 13 + 17: exactly 30
        await comm.send_json_to({"type": "text", "text": "y"})
        seen = [await next_json(comm) for _ in range(2)]
        assert seen[0]["type"] == "cancelled"
        assert (seen[1]["type"], seen[1]["error"]["code"]) == ("error", "quota_exceeded")
    finally:
        await comm.disconnect(timeout=10)


async def test_a_suspended_tenants_open_socket_is_refused_at_its_next_start(make_tenant):
    tenant = await database_sync_to_async(make_tenant)("susp")
    comm = await connect(tenant.api_key)
    try:
        await comm.send_json_to({"type": "start", "context_id": "a"})
        assert (await next_json(comm))["type"] == "started"
        await database_sync_to_async(tenant_suspend)(tenant=tenant.tenant, by=Actor.system())
        await comm.send_json_to({"type": "start", "context_id": "b"})
        error = await next_json(comm)
        assert (error["context_id"], error["error"]["code"]) == ("b", "tenant_suspended")
        assert error["error"]["type"] == "permission_error"
        closed = await comm.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4403}
    finally:
        await comm.disconnect(timeout=10)


async def test_a_context_that_billed_nothing_still_leaves_its_usage_record(make_tenant):
    """A socket context billed 0 wrote no usage record at all (its admission left no trace)."""
    tenant = await database_sync_to_async(make_tenant)("zero")
    comm = await connect(tenant.api_key)
    try:
        await comm.send_json_to({"type": "start", "context_id": "a"})
        assert (await next_json(comm))["type"] == "started"
        await comm.send_json_to({"type": "cancel", "context_id": "a"})
        assert (await next_json(comm))["type"] == "cancelled"
    finally:
        await comm.disconnect(timeout=10)

    def closed_records() -> list[tuple[str, int]]:
        records = UsageRecord.objects.filter(tenant=tenant.tenant).closed()
        return [(r.status, r.characters_billed) for r in records]

    deadline = time.monotonic() + 10
    while not await database_sync_to_async(closed_records)() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await database_sync_to_async(closed_records)() == [("cancelled", 0)]
