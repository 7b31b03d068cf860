"""`Idempotency-Key` on `POST /v1/synthesize` and `POST /v1/audio/speech`, end to end: daphne, a
real Piper worker, real PostgreSQL and Redis. A retry with the same key and body is synthesized
again and not billed again; a duplicate while the first runs, or the key with another body, is a
409 that consumes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml
from asgiref.sync import async_to_sync
from django.test import Client

from billing.admission import month_figures, rate_key, settled_key
from billing.models import UsageRecord
from callwaiting_tts.redis import get_redis
from tests.synth import Answer, open_stream, post, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "Thank you for calling. How can I help you today?"
OTHER = "Your order has shipped and will arrive on Friday."
LONG = " ".join(
    f"This is sentence number {n} of a long answer that keeps going." for n in range(60)
)
RAW_PCM = {"format": "pcm", "sample_rate": 22050}
SPEECH = {"model": "tts-1", "voice": "alloy", "response_format": "pcm"}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("idem")


def new_key() -> str:
    return f"order-{uuid.uuid4()}"


def synthesize(service, tenant, body: dict[str, Any], key: str | None, path="/v1/synthesize"):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return post(service.url, path, tenant.api_key, body, headers=headers)


def billed(answer: Answer) -> int:
    """The characters billed for an answered synthesis, once it is settled (the usage record
    written and the month's counter updated)."""
    synthesis_id = answer.headers["x-synthesis-id"]
    wait_for(lambda: get_redis().exists(settled_key(synthesis_id)))
    return UsageRecord.objects.get(synthesis_id=synthesis_id).characters_billed


def month_used(tenant) -> int:
    """The month's billed characters as admission counts them (rebuilt from PostgreSQL when the
    counter is missing, then moved by each settle)."""
    return async_to_sync(month_figures)(tenant.tenant.pk).used


def admissions(tenant) -> int:
    """Requests in the tenant's rate window: one per admission."""
    return get_redis().zcard(rate_key("tenant", tenant.tenant.pk))


def records(tenant) -> int:
    return UsageRecord.objects.filter(tenant_id=tenant.tenant.pk).count()


@pytest.mark.parametrize("stream", [True, False])
def test_a_retry_with_the_same_key_and_body_is_synthesized_again_and_not_billed_again(
    service, tenant, tts_worker, stream
):
    body = {"text": SENTENCE, **RAW_PCM, "stream": stream}
    key = new_key()
    first = synthesize(service, tenant, body, key)
    assert first.status == 200, first.body
    assert "idempotent-replayed" not in first.headers
    assert billed(first) == len(SENTENCE)
    assert month_used(tenant) == len(SENTENCE)

    for _ in range(2):
        retry = synthesize(service, tenant, body, key)
        assert retry.status == 200, retry.body
        assert retry.body == first.body  # synthesized again: the same audio
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.headers["x-characters-billed"] == "0"
        assert retry.headers["x-synthesis-id"] != first.headers["x-synthesis-id"]
        assert billed(retry) == 0  # a usage record all the same, billed nothing
    assert month_used(tenant) == len(SENTENCE)
    assert records(tenant) == 3


def test_the_openai_endpoint_takes_the_key_too(service, tenant, tts_worker):
    body = {**SPEECH, "input": SENTENCE}
    key = new_key()
    first = synthesize(service, tenant, body, key, path="/v1/audio/speech")
    spelled_out = {**body, "speed": 1.0}  # the default, given: the same request
    retry = synthesize(service, tenant, spelled_out, key, path="/v1/audio/speech")
    assert (first.status, retry.status) == (200, 200)
    assert retry.body == first.body
    assert retry.headers["idempotent-replayed"] == "true"
    assert (billed(first), billed(retry)) == (len(SENTENCE), 0)
    assert month_used(tenant) == len(SENTENCE)


def test_the_same_key_with_another_body_is_a_409_that_consumes_nothing(service, tenant, tts_worker):
    key = new_key()
    first = synthesize(service, tenant, {"text": SENTENCE, **RAW_PCM}, key)
    assert first.status == 200
    assert billed(first) == len(SENTENCE)
    before = (admissions(tenant), records(tenant), month_used(tenant))

    for body, path in [
        ({"text": OTHER, **RAW_PCM}, "/v1/synthesize"),
        ({"text": SENTENCE, "format": "mp3"}, "/v1/synthesize"),
        ({**SPEECH, "input": SENTENCE}, "/v1/audio/speech"),  # another endpoint, same key
    ]:
        reused = synthesize(service, tenant, body, key, path=path)
        assert reused.status == 409, reused.body
        error = reused.error()
        assert (error["code"], error["param"]) == ("idempotency_key_reused", "Idempotency-Key")
        assert error["type"] == "invalid_request_error"
    assert (admissions(tenant), records(tenant), month_used(tenant)) == before


def test_a_duplicate_while_the_first_still_runs_is_a_409_in_progress(service, tenant, tts_worker):
    body = {"text": LONG, **RAW_PCM}
    key = new_key()
    conn, first = open_stream(
        service.url, "/v1/synthesize", tenant.api_key, body, headers={"Idempotency-Key": key}
    )
    try:
        assert first.status == 200
        duplicate = synthesize(service, tenant, body, key)  # the first's body is not read yet
        audio = first.read()
    finally:
        conn.close()
    assert duplicate.status == 409, duplicate.body
    assert duplicate.error()["code"] == "idempotency_in_progress"
    assert duplicate.headers["retry-after"] == "1"
    assert "x-synthesis-id" not in duplicate.headers
    assert len(audio) > 22050 * 2 * 60  # the first went on, whole: a minute of audio and more
    synthesis_id = first.headers["x-synthesis-id"]
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=synthesis_id).closed().first()
    )
    assert record.status == UsageRecord.Status.COMPLETED
    assert records(tenant) == 1
    assert admissions(tenant) == 1


def test_a_request_refused_before_synthesis_leaves_the_key_free(service, tenant, tts_worker):
    key = new_key()
    refused = synthesize(service, tenant, {"text": SENTENCE, "voice": "nobody-here"}, key)
    assert refused.status == 400, refused.body
    assert refused.error()["code"] == "unknown_voice"
    assert records(tenant) == 0

    body = {"text": OTHER, **RAW_PCM}  # another body: the refused request did not keep the key
    first = synthesize(service, tenant, body, key)
    assert first.status == 200, first.body
    assert "idempotent-replayed" not in first.headers
    assert billed(first) == len(OTHER)
    retry = synthesize(service, tenant, body, key)
    assert retry.headers["idempotent-replayed"] == "true"
    assert billed(retry) == 0


def test_each_tenant_has_its_own_keys(service, make_tenant, tts_worker):
    alpha, beta = make_tenant("idem-a"), make_tenant("idem-b")
    body = {"text": SENTENCE, **RAW_PCM}
    key = new_key()
    first = synthesize(service, alpha, body, key)
    others = synthesize(service, beta, body, key)
    assert (first.status, others.status) == (200, 200)
    assert "idempotent-replayed" not in others.headers
    assert (billed(first), billed(others)) == (len(SENTENCE), len(SENTENCE))
    retry = synthesize(service, alpha, body, key)
    assert retry.headers["idempotent-replayed"] == "true"
    assert billed(retry) == 0
    assert (month_used(alpha), month_used(beta)) == (len(SENTENCE), len(SENTENCE))


@pytest.mark.parametrize("value", ["x" * 256, "clé-1"])
def test_an_invalid_key_is_a_400_that_consumes_nothing(service, tenant, tts_worker, value):
    answer = synthesize(service, tenant, {"text": SENTENCE, **RAW_PCM}, value)
    assert answer.status == 400, answer.body
    error = answer.error()
    assert (error["code"], error["param"]) == ("invalid_idempotency_key", "Idempotency-Key")
    assert (admissions(tenant), records(tenant)) == (0, 0)


def test_the_longest_valid_key_is_taken(service, tenant, tts_worker):
    key = "k" * 255
    body = {"text": SENTENCE, **RAW_PCM}
    first = synthesize(service, tenant, body, key)
    retry = synthesize(service, tenant, body, key)
    assert (first.status, retry.status) == (200, 200)
    assert (billed(first), billed(retry)) == (len(SENTENCE), 0)


def test_a_retry_after_a_half_delivered_attempt_bills_only_the_rest(service, tenant, tts_worker):
    body = {"text": LONG, **RAW_PCM}
    key = new_key()
    conn, first = open_stream(
        service.url, "/v1/synthesize", tenant.api_key, body, headers={"Idempotency-Key": key}
    )
    assert first.status == 200
    whole = int(first.getheader("X-Characters-Billed"))
    synthesis_id = first.getheader("X-Synthesis-ID")
    assert first.read(4096)
    conn.sock.close()  # the caller hangs up, then retries
    conn.close()
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=synthesis_id).closed().first()
    )
    assert record.status == UsageRecord.Status.CANCELLED
    partial = record.characters_billed
    assert 0 < partial < whole

    def accepted():
        # The attempt's end reaches the key (Redis) just after its usage record (PostgreSQL):
        # a retry in between is a 409 `idempotency_in_progress` with Retry-After, which
        # consumes nothing, and a client retries it as this does.
        answer = synthesize(service, tenant, body, key)
        in_progress = answer.status == 409 and b"idempotency_in_progress" in answer.body
        return None if in_progress else answer

    retry = wait_for(accepted)
    assert retry.status == 200, retry.body
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["x-characters-billed"] == str(whole - partial)
    assert billed(retry) == whole - partial
    assert month_used(tenant) == whole  # one full bill for the key, no more


def test_the_schema_declares_the_header_and_the_409():
    schema = yaml.safe_load(Client().get("/v1/schema/").content)
    for path in ("/v1/synthesize", "/v1/audio/speech"):
        operation = schema["paths"][path]["post"]
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [(p["name"], p.get("required", False)) for p in headers] == [
            ("Idempotency-Key", False)
        ]
        assert "idempotency_in_progress" in operation["responses"]["409"]["description"]
