"""The synthesis metrics end to end (README, "Metrics"): daphne's `/metrics` and a worker's own
port, with real syntheses through a real worker process. The service is shared by the session,
so each test reads its counters before and after and checks the difference."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from billing.limits import forget_limits
from billing.models import TenantPlanOverride, UsageRecord
from conftest import WorkerPool, start_worker, stop_worker
from tests.conftest import free_port
from tests.synth import barge_in, post, wait_for
from tests.test_realtime import _server_done_with_its_sockets  # noqa: F401  (autouse)

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Your appointment is confirmed for Tuesday at ten."
LONG = " ".join(f"This is sentence number {n} of a long answer." for n in range(12))

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("metrics")


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str, token: str | None = None) -> Samples:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return parse(answer.read().decode())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def finished_after(service, before: Samples, endpoint: str, status: str) -> Samples:
    """The service's metrics once a synthesis of `endpoint` ended `status` (its usage record
    is closed after the last byte left, so the counters follow the response by a moment)."""
    labels = {"engine": "piper", "endpoint": endpoint, "status": status}

    def counted() -> Samples | None:
        now = scrape(f"{service.url}/metrics")
        return now if grew(before, now, "cwtts_syntheses_total", **labels) >= 1 else None

    return wait_for(counted)


def test_an_http_synthesis_counts_first_audio_audio_and_the_characters_of_its_plan(
    service, tenant, tts_worker
):
    before = scrape(f"{service.url}/metrics")
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "format": "wav"})
    assert answer.status == 200, answer.body
    after = finished_after(service, before, "http", "completed")
    record = UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
    http_wav = {"engine": "piper", "endpoint": "http", "format": "wav", "delivery": "stream"}
    assert grew(before, after, "cwtts_first_audio_seconds_count", **http_wav) == 1
    assert grew(before, after, "cwtts_first_audio_seconds_sum", **http_wav) > 0
    delivered = grew(before, after, "cwtts_audio_seconds_total", engine="piper", endpoint="http")
    assert delivered == pytest.approx(record.audio_seconds_delivered, abs=1e-6)
    assert delivered > 1
    plan = tenant.tenant.plan.slug
    billed = grew(before, after, "cwtts_characters_billed_total", plan=plan)
    assert billed == record.characters_billed == len(TEXT)
    # Read at scrape: nothing left streaming here, the worker alive with its slots.
    assert value(after, "cwtts_active_streams", endpoint="http") == 0
    assert value(after, "cwtts_workers_live", engine="piper") >= 1
    assert value(after, "cwtts_worker_slots", engine="piper", state="total") >= 1
    assert value(after, "cwtts_queue_depth", engine="piper") == 0
    assert value(after, "cwtts_dependency_up", dependency="redis") == 1
    assert value(after, "cwtts_dependency_up", dependency="postgres") == 1


def test_the_openai_endpoint_has_its_own_label(service, tenant, tts_worker):
    before = scrape(f"{service.url}/metrics")
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "mp3"}
    answer = post(service.url, "/v1/audio/speech", tenant.api_key, body)
    assert answer.status == 200, answer.body
    after = finished_after(service, before, "openai", "completed")
    labels = {"engine": "piper", "endpoint": "openai", "format": "mp3", "delivery": "stream"}
    assert grew(before, after, "cwtts_first_audio_seconds_count", **labels) == 1
    assert (
        grew(before, after, "cwtts_first_audio_seconds_count", **{**labels, "format": "wav"}) == 0
    )


def test_a_whole_file_answer_is_its_own_delivery(service, tenant, tts_worker):
    """Its first byte is the whole synthesis: counted apart, so it does not read as a slow
    stream (the first-audio alerts watch `delivery="stream"` only)."""
    before = scrape(f"{service.url}/metrics")
    body = {"text": TEXT, "format": "wav", "stream": False}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert answer.status == 200, answer.body
    after = finished_after(service, before, "http", "completed")
    labels = {"engine": "piper", "endpoint": "http", "format": "wav"}
    assert grew(before, after, "cwtts_first_audio_seconds_count", **labels, delivery="file") == 1
    assert grew(before, after, "cwtts_first_audio_seconds_count", **labels, delivery="stream") == 0


def test_a_refusal_is_counted_by_reason_and_its_error_by_code(service, tenant, tts_worker):
    TenantPlanOverride.objects.create(
        tenant=tenant.tenant, monthly_character_quota=10, overage_allowed=False
    )
    forget_limits(tenant.tenant.pk)
    before = scrape(f"{service.url}/metrics")
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT})
    assert answer.status == 429, answer.body
    assert answer.error()["code"] == "quota_exceeded"
    after = scrape(f"{service.url}/metrics")
    assert grew(before, after, "cwtts_refused_total", reason="quota_exceeded") == 1
    errors = grew(before, after, "cwtts_errors_total", code="quota_exceeded", endpoint="http")
    assert errors == 1
    assert grew(before, after, "cwtts_syntheses_total", engine="piper", endpoint="http",
                status="completed") == 0  # fmt: skip


def test_a_tenant_near_its_quota_is_named_with_its_share(service, tenant, tts_worker):
    TenantPlanOverride.objects.create(tenant=tenant.tenant, monthly_character_quota=len(TEXT) * 2)
    forget_limits(tenant.tenant.pk)
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT})
    assert answer.status == 200, answer.body
    slug = tenant.tenant.slug

    def named() -> float | None:
        share = value(
            scrape(f"{service.url}/metrics"), "cwtts_tenant_quota_used_ratio", tenant=slug
        )
        return share or None

    assert wait_for(named) == pytest.approx(0.5)


async def test_a_socket_cancel_counts_the_cancel_and_the_time_to_its_last_frame(
    service, tenant, tts_worker
):
    before = await asyncio.to_thread(scrape, f"{service.url}/metrics")
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    async with connect(f"{service.ws_url}/v1/stream", additional_headers=headers) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
        # Half a second of audio, then the caller barges in.
        _received, cancelled = await barge_in(ws, "talk", LONG, after=24000)
    assert cancelled["type"] == "cancelled"
    after = await asyncio.to_thread(finished_after, service, before, "ws", "cancelled")
    assert grew(before, after, "cwtts_cancels_total", endpoint="ws") == 1
    assert grew(before, after, "cwtts_cancel_to_last_frame_seconds_count", endpoint="ws") == 1
    assert grew(before, after, "cwtts_cancel_to_last_frame_seconds_sum", endpoint="ws") >= 0
    first = {"engine": "piper", "endpoint": "ws", "format": "pcm", "delivery": "stream"}
    assert grew(before, after, "cwtts_first_audio_seconds_count", **first) == 1


# --- a worker's own port --------------------------------------------------------------------

TOKEN = "scraper-secret"


@pytest.fixture
def metered_worker(worker_pool: WorkerPool) -> Iterator[str]:
    """The only live worker: one serving its metrics on a port, behind a token (the loopback
    address is not let in without it). The pool's workers are stopped; the next test that
    needs one starts them again."""
    worker_pool.stop_all()
    port = free_port()
    worker = start_worker(
        METRICS_PORT=str(port), METRICS_TOKEN=TOKEN, METRICS_ALLOWED_NETWORKS="192.0.2.0/24"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_worker(worker)


def refused(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    return raised.value.code, json.loads(raised.value.read())


def test_a_worker_serves_its_own_metrics_to_the_scraper_only(metered_worker, service, tenant):
    status, body = refused(f"{metered_worker}/metrics")
    assert status == 401
    assert body["error"]["code"] == "metrics_unauthorized"
    assert refused(f"{metered_worker}/metrics", token="wrong")[0] == 401
    assert refused(f"{metered_worker}/other", token=TOKEN)[0] == 404

    before = scrape(f"{metered_worker}/metrics", TOKEN)
    assert value(before, "cwtts_worker_capacity", engine="piper") == settings.TTS_WORKER_MAX_JOBS
    assert value(before, "cwtts_worker_heartbeats_total", engine="piper") >= 1
    assert value(before, "cwtts_engine_load_seconds", engine="piper") > 0
    assert value(before, "process_resident_memory_bytes") > 0

    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT})
    assert answer.status == 200, answer.body

    def served() -> Samples | None:
        now = scrape(f"{metered_worker}/metrics", TOKEN)
        done = grew(before, now, "cwtts_worker_jobs_total", engine="piper", outcome="done")
        return now if done == 1 else None

    after = wait_for(served)
    assert grew(before, after, "cwtts_queue_wait_seconds_count", engine="piper") == 1
    chunks = grew(before, after, "cwtts_real_time_factor_count", engine="piper")
    assert chunks >= 1
    assert grew(before, after, "cwtts_real_time_factor_sum", engine="piper") > 0
    assert value(after, "cwtts_worker_active_jobs", engine="piper") == 0

    def beating() -> bool:  # a live worker's heartbeats keep coming (one per 0.3 s)
        now = scrape(f"{metered_worker}/metrics", TOKEN)
        return grew(after, now, "cwtts_worker_heartbeats_total", engine="piper") >= 1

    assert wait_for(beating)


def test_a_stream_in_progress_is_an_active_stream_until_it_ends(service, tenant, tts_worker):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", int(service.url.rsplit(":", 1)[1]))
    body = json.dumps({"text": LONG, "format": "pcm"})
    headers = {"Authorization": f"Bearer {tenant.api_key}", "Content-Type": "application/json"}
    connection.request("POST", "/v1/synthesize", body=body, headers=headers)
    response = connection.getresponse()
    assert response.status == 200
    assert response.read(4800)  # audio is flowing: the synthesis is under way
    during = scrape(f"{service.url}/metrics")
    assert value(during, "cwtts_active_streams", endpoint="http") == 1
    response.read()
    connection.close()

    def ended() -> bool:
        return value(scrape(f"{service.url}/metrics"), "cwtts_active_streams", endpoint="http") == 0

    assert wait_for(ended)


async def test_a_socket_error_is_counted_under_the_socket(service, tenant):
    before = await asyncio.to_thread(scrape, f"{service.url}/metrics")
    headers = {"Authorization": f"Bearer {tenant.api_key}"}
    async with connect(f"{service.ws_url}/v1/stream", additional_headers=headers) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "ready"
        await ws.send(json.dumps({"type": "text", "context_id": "never-started", "text": "Hi."}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert error["type"] == "error"
    after = await asyncio.to_thread(scrape, f"{service.url}/metrics")
    code = error["error"]["code"]
    assert grew(before, after, "cwtts_errors_total", code=code, endpoint="ws") == 1
    assert grew(before, after, "cwtts_errors_total", code=code, endpoint="http") == 0
