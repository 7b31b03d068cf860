"""The phrase cache end to end: daphne, a real worker process, real Piper audio, real Redis. A
second identical request is served without a job reaching a worker (no job id is claimed), with
the same bytes and the same usage; `cache: false`, a dictionary edit and another tenant all go
to the worker; the byte bound evicts the least recently used."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import override_settings
from websockets.asyncio.client import connect

from billing.models import UsageRecord
from callwaiting_tts.redis import get_redis
from synthesis import phrase_cache
from synthesis.contract.jobs import Job
from synthesis.contract.segments import Segment
from tests.synth import context_audio, post, wait_for
from tests.test_realtime import _server_done_with_its_sockets  # noqa: F401  (autouse)

pytestmark = pytest.mark.django_db(transaction=True)

GREETING = "Thanks for calling Acme. Your call matters to us."
RAW_PCM = {"format": "pcm", "sample_rate": 22050}
OPENAI = {"model": "tts-1", "voice": "alloy", "response_format": "pcm"}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("phrases")


def jobs_claimed() -> set[bytes]:
    """The jobs workers have taken (each claims its job id; a claim lasts 10 minutes)."""
    pattern = f"{settings.REDIS_PREFIX}:tts:claim:*"
    return set(get_redis().scan_iter(match=pattern, count=1000))


def jobs_since(claimed: set[bytes]) -> int:
    """How many jobs workers took since `claimed` was read."""
    return len(jobs_claimed() - claimed)


def speak(service, key: str, path: str = "/v1/synthesize", **body: Any) -> tuple[bytes, str]:
    full = {**RAW_PCM, **body} if path == "/v1/synthesize" else {**OPENAI, **body}
    answer = post(service.url, path, key, full)
    assert answer.status == 200, answer.body
    assert answer.body
    return answer.body, answer.headers["x-synthesis-id"]


def billed(synthesis_id: str) -> tuple[object, ...]:
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=synthesis_id).closed().first()
    )
    return (
        record.status,
        record.characters_billed,
        record.audio_seconds_synthesized,
        record.audio_seconds_delivered,
        record.settled,
    )


def lookups(service) -> dict[str, float]:
    """The service's phrase cache counters on /metrics: lookups by result, and `stored` (the
    PCM bytes written to the cache)."""
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("cwtts_phrase_cache_lookups_total{"):
            name, value = line.rsplit(" ", 1)
            found[name.split('"')[1]] = float(value)
        elif line.startswith("cwtts_phrase_cache_stored_bytes_total "):
            found["stored"] = float(line.rsplit(" ", 1)[1])
    return found


def test_a_second_identical_request_is_a_hit_with_the_same_audio_and_usage(
    service, tenant, tts_worker
):
    key = tenant.api_key
    before = lookups(service)
    first, first_id = speak(service, key, text=GREETING)
    claimed = jobs_claimed()
    second, second_id = speak(service, key, text=GREETING)
    assert jobs_since(claimed) == 0  # no worker got a job
    assert second == first
    assert billed(second_id) == billed(first_id)
    assert billed(first_id)[1] == len(GREETING)
    after = lookups(service)
    assert after["hit"] == before.get("hit", 0) + 1
    assert after["miss"] == before.get("miss", 0) + 1

    bypassed, _ = speak(service, key, text=GREETING, cache=False)
    assert jobs_since(claimed) == 1  # cache: false goes to the worker
    assert bypassed == first
    assert lookups(service)["bypass"] == after.get("bypass", 0) + 1


def test_hits_open_no_redis_connection_of_their_own(service, tenant, tts_worker):
    """A hit reads the cache, admits and reports progress on the web process's shared
    connections: it used to open two (its stream's client and `JobStream.close`'s), and
    before the cache's shared pool one more for the key's authentication."""
    key = tenant.api_key
    speak(service, key, text=GREETING)  # fills the cache
    speak(service, key, text=GREETING)  # a hit: every pool and client is warm
    redis = get_redis()
    before = int(redis.info("stats")["total_connections_received"])
    for _ in range(4):
        speak(service, key, text=GREETING)
    assert int(redis.info("stats")["total_connections_received"]) - before <= 1


def test_cached_first_segments_are_served_while_a_worker_speaks_the_rest(
    service, tenant, tts_worker
):
    key = tenant.api_key
    longer = f"{GREETING} Your order shipped today, and it arrives on Monday."
    greeting, _ = speak(service, key, text=GREETING)
    claimed, before = jobs_claimed(), lookups(service)
    partial, partial_id = speak(service, key, text=longer)
    assert jobs_since(claimed) == 1  # the third segment's job only
    after = lookups(service)
    assert after["partial"] == before.get("partial", 0) + 1
    # Only the third segment was spoken, so only it was stored (PCM at the engine's rate).
    assert after["stored"] - before["stored"] == len(partial) - len(greeting)
    assert partial.startswith(greeting)
    assert len(partial) > len(greeting)
    assert billed(partial_id)[:2] == (UsageRecord.Status.COMPLETED, len(longer))
    whole, whole_id = speak(service, key, text=longer)  # the third was stored: all cached now
    assert jobs_since(claimed) == 1
    assert whole == partial
    assert billed(whole_id) == billed(partial_id)
    assert speak(service, key, text=longer, cache=False)[0] == partial


def test_the_openai_endpoint_hits_too_and_refuses_a_bad_cache_value(service, tenant, tts_worker):
    key = tenant.api_key
    first, first_id = speak(service, key, "/v1/audio/speech", input=GREETING)
    claimed = jobs_claimed()
    second, second_id = speak(service, key, "/v1/audio/speech", input=GREETING)
    assert jobs_since(claimed) == 0
    assert second == first
    assert billed(second_id) == billed(first_id)
    for path, body in (
        ("/v1/synthesize", {"text": GREETING, "cache": "maybe"}),
        ("/v1/audio/speech", {**OPENAI, "input": GREETING, "cache": "maybe"}),
    ):
        answer = post(service.url, path, key, body)
        assert answer.status == 400, answer.body
        assert (answer.error()["code"], answer.error()["param"]) == ("invalid_type", "cache")


def test_another_tenant_never_hits_the_first_tenants_entry(service, make_tenant, tts_worker):
    owner, outsider = make_tenant("phrases-own"), make_tenant("phrases-out")
    theirs, _ = speak(service, owner.api_key, text=GREETING)
    claimed = jobs_claimed()
    ours, _ = speak(service, outsider.api_key, text=GREETING)
    assert jobs_since(claimed) == 1
    assert ours == theirs  # the same voice says it the same way, but from its own job


def test_a_dictionary_edit_that_changes_a_reading_is_a_miss(service, tenant, tts_worker):
    key = tenant.api_key
    made = post(
        service.url,
        "/v1/pronunciations",
        key,
        {"name": "Names", "entries": [{"word": "Acme", "alias": "Ack me"}], "is_default": True},
    )
    assert made.status == 201, made.body
    old, _ = speak(service, key, text=GREETING)
    speak(service, key, text=GREETING)
    claimed = jobs_claimed()
    entries = [{"word": "Acme", "alias": "Ak-mee"}]
    _patch(service, key, f"/v1/pronunciations/{made.json()['id']}", {"entries": entries})
    new, _ = speak(service, key, text=GREETING)
    assert jobs_since(claimed) == 1
    assert new != old


def _patch(service, key: str, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        f"{service.url}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="PATCH",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def test_a_preset_voice_changed_is_a_miss(service, tenant, tts_worker):
    key = tenant.api_key
    made = post(service.url, "/v1/voices", key, {"name": "Desk", "base_voice": "joe"})
    assert made.status == 201, made.body
    voice = made.json()["id"]
    old, _ = speak(service, key, text=GREETING, voice=voice)
    claimed = jobs_claimed()
    assert speak(service, key, text=GREETING, voice=voice)[0] == old
    assert jobs_since(claimed) == 0
    _patch(service, key, f"/v1/voices/{voice}", {"speed": 1.3})
    new, _ = speak(service, key, text=GREETING, voice=voice)
    assert jobs_since(claimed) == 1
    assert len(new) < len(old)  # faster


async def test_a_socket_context_said_again_is_a_hit(service, make_tenant, tts_worker):
    from channels.db import database_sync_to_async

    tenant = await database_sync_to_async(make_tenant)("phrases-ws")
    headers = {"X-API-Key": tenant.api_key}
    async with connect(f"{service.ws_url}/v1/stream", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        first, done = await context_audio(ws, "a", text=GREETING)
        assert done["type"] == "done"
        claimed = await asyncio.to_thread(jobs_claimed)
        again, done_again = await context_audio(ws, "b", text=GREETING)
        assert await asyncio.to_thread(jobs_since, claimed) == 0
        assert again == first
        assert done_again["characters"] == done["characters"]
        bypassed, _ = await context_audio(ws, "c", text=GREETING, cache=False)
        assert await asyncio.to_thread(jobs_since, claimed) >= 1  # a job per unit it spoke
        assert bypassed == first
        await ws.send(json.dumps({"type": "start", "context_id": "d", "cache": "no"}))
        refused = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert (refused["type"], refused["error"]["param"]) == ("error", "cache")


def _job(schema: str, text: str) -> Job:
    return Job(
        job_id="j",
        reply="",
        engine="piper",
        voice="joe",
        segments=[Segment(text=text)],
        window=8,
        deadline=0,
        schema_name=schema,
    )


@override_settings(TTS_PHRASE_CACHE_BYTES=2500)
def test_the_byte_bound_evicts_the_least_recently_used():
    client = get_redis()
    tenant = phrase_cache.TenantCache("bound")
    stale = list(client.scan_iter(match=f"{tenant.base}*"))
    if stale:
        client.delete(*stale)

    async def run() -> list[bool]:
        store = phrase_cache._client()
        try:
            for word in ("one", "two"):
                await phrase_cache.store(store, _job("bound", word), 0, b"\x01" * 1000)
            assert await phrase_cache.lookup(_job("bound", "one"))  # now the most recent
            await phrase_cache.store(store, _job("bound", "three"), 0, b"\x02" * 1000)
            await phrase_cache.store(store, _job("bound", "huge"), 0, b"\x03" * 3000)  # > bound
        finally:
            await store.aclose()
        found = [await phrase_cache.lookup(_job("bound", w)) for w in ("one", "two", "three")]
        return [bool(f) for f in found]

    assert async_to_sync(run)() == [True, False, True]
    assert int(client.get(tenant.total) or 0) == 2000
    assert client.zcard(tenant.lru) == 2
    assert client.hlen(tenant.sizes) == 2
