"""Synthesis end to end: daphne, a real worker process over real Redis, real Piper audio.

Workers run with Piper's noise off (see conftest), so audio is repeatable and can be compared
byte for byte with the raw engine's output for the same segments."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest

from billing.models import UsageRecord
from synthesis.contract.plan import engine_segments
from synthesis.engines.loader import load_engine
from synthesis.text.frontend import prepare
from tenants.db import tenant_schema
from tests.synth import delete, open_stream, pcm, post, wait_for
from voices.models import Voice

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "Thank you for calling. How can I help you today?"
PARAGRAPH = (
    "Your appointment with Doctor Okafor is confirmed for Tuesday at three in the afternoon. "
    "Please arrive ten minutes early and bring your insurance card. If you need to reschedule, "
    "call us back at any time, and one of our agents will be glad to help you."
)
LONG = " ".join(
    f"This is sentence number {n} of a long answer that keeps going." for n in range(60)
)
RAW_PCM = {"format": "pcm", "sample_rate": 22050}  # the engine's own rate: no resampling


@pytest.fixture(scope="module")
def engine():
    return load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)


def reference(engine, text: str) -> bytes:
    """What the raw engine makes of the segments the front-end plans for `text`."""
    segments = engine_segments(prepare(text=text, locale="en-US"), language="en-US")
    return b"".join(chunk.pcm for chunk in engine.stream(segments, voice="joe"))


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("synth")


def usage(synthesis_id: str) -> UsageRecord:
    return UsageRecord.objects.get(synthesis_id=synthesis_id)


def test_streamed_audio_is_the_engines_audio_in_order_and_complete(
    service, tenant, tts_worker, engine
):
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": PARAGRAPH, **RAW_PCM})
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "audio/pcm"
    assert answer.headers["transfer-encoding"] == "chunked"
    assert answer.body == reference(engine, PARAGRAPH)


def test_whole_file_equals_streamed_and_has_length_and_duration(service, tenant, tts_worker):
    streamed = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    whole = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": SENTENCE, **RAW_PCM, "stream": False},
    )
    assert whole.status == 200
    assert whole.body == streamed.body
    assert int(whole.headers["content-length"]) == len(whole.body)
    duration = float(whole.headers["x-audio-duration"])
    assert duration == pytest.approx(len(whole.body) / 2 / 22050, abs=0.002)


def test_each_synthesis_ends_in_one_usage_record(service, tenant, tts_worker):
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": SENTENCE, "format": "mp3"},
        headers={"X-Request-ID": "client-77"},
    )
    assert answer.status == 200
    synthesis_id = answer.headers["x-synthesis-id"]
    assert answer.headers["x-characters-billed"] == str(len(SENTENCE))
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=synthesis_id).closed().first()
    )
    assert record.status == UsageRecord.Status.COMPLETED
    assert record.characters_billed == len(SENTENCE)
    assert record.tenant_id == tenant.tenant.pk
    assert record.request_id == "client-77"
    assert (record.voice, record.engine, record.output_format) == ("joe", "piper", "mp3")
    assert record.audio_seconds_delivered == pytest.approx(record.audio_seconds_synthesized)
    assert record.audio_seconds_synthesized > 1.0
    assert record.ended_at >= record.started_at
    with tenant_schema(tenant.tenant.schema_name):
        from synthesis.models import SynthesisRecord

        log = SynthesisRecord.objects.get(pk=synthesis_id)
    assert (log.status, log.characters) == ("done", len(SENTENCE))


def test_ssml_bills_its_text_content_not_its_tags(service, tenant, tts_worker):
    ssml = '<speak>Hello <break time="300ms"/> world.</speak>'
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"ssml": ssml, **RAW_PCM})
    assert answer.status == 200, answer.body
    assert answer.headers["x-characters-billed"] == str(len("Hello world."))
    record = wait_for(
        lambda: (
            UsageRecord.objects.filter(synthesis_id=answer.headers["x-synthesis-id"])
            .closed()
            .first()
        )
    )
    assert record.characters_billed == len("Hello world.")


def test_two_concurrent_requests_each_get_their_own_audio(service, tenant, tts_worker, engine):
    texts = [PARAGRAPH, "Press one for billing, two for support, or stay on the line."]
    results: dict[int, bytes] = {}

    def fetch(index: int) -> None:
        answer = post(
            service.url, "/v1/synthesize", tenant.api_key, {"text": texts[index], **RAW_PCM}
        )
        assert answer.status == 200
        results[index] = answer.body

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results[0] == reference(engine, texts[0])
    assert results[1] == reference(engine, texts[1])


def test_a_client_that_goes_away_cancels_and_is_billed_for_what_it_got(service, tenant, tts_worker):
    conn, response = open_stream(
        service.url, "/v1/synthesize", tenant.api_key, {"text": LONG, **RAW_PCM}
    )
    assert response.status == 200, response.read()
    synthesis_id = response.getheader("X-Synthesis-ID")
    assert response.read(4096)
    conn.sock.close()  # the caller hangs up
    conn.close()
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=synthesis_id).closed().first()
    )
    assert record.status == UsageRecord.Status.CANCELLED
    assert 0 < record.characters_billed < len(LONG)
    assert record.audio_seconds_delivered <= record.audio_seconds_synthesized
    # The worker dropped the job: it serves the next request at once.
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    assert answer.status == 200


def test_a_worker_killed_mid_job_fails_the_request_clearly_and_the_next_succeeds(
    service, tenant, tts_workers
):
    result: dict[str, object] = {}

    def whole_long() -> None:
        result["answer"] = post(
            service.url,
            "/v1/synthesize",
            tenant.api_key,
            {"text": LONG, **RAW_PCM, "stream": False},
        )

    thread = threading.Thread(target=whole_long)
    thread.start()
    busy = wait_for(lambda: busy_worker_pid(), timeout=20)
    os.kill(busy, signal.SIGKILL)
    thread.join(30)
    answer = result["answer"]
    assert answer.status == 503
    assert answer.error()["code"] == "worker_lost"
    record = (
        UsageRecord.objects.get(synthesis_id=answer.headers["x-synthesis-id"])
        if ("x-synthesis-id" in answer.headers)
        else None
    )
    assert record is None or record.status == UsageRecord.Status.FAILED
    again = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    assert again.status == 200


def busy_worker_pid() -> int | None:
    from django.conf import settings

    from callwaiting_tts.redis import get_redis
    from synthesis.contract.jobs import WorkerStatus

    client = get_redis()
    for key in client.scan_iter(match=f"{settings.REDIS_PREFIX}:tts:worker:*"):
        raw = client.get(key)
        if raw and WorkerStatus.loads(raw).active_jobs:
            return WorkerStatus.loads(raw).pid
    return None


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"text": "hi", "voice": "nobody"}, "voice", "unknown_voice"),
        ({"text": "hi", "format": "wma"}, "format", "invalid_choice"),
        ({"text": "hi", "format": "pcm", "sample_rate": 11025}, "sample_rate", "invalid_request"),
        ({"text": "hi", "format": "mulaw", "sample_rate": 16000}, "sample_rate", "invalid_request"),
        ({"text": "hi", "language": "xx"}, "language", "invalid_choice"),
        ({"text": "hi", "language": "fr"}, "language", "unsupported_language"),
        ({"text": "   \n "}, "text", "empty_input"),
        ({"text": "x" * 5001}, "text", "input_too_long"),
        ({"ssml": "<speak>unclosed"}, "ssml", "invalid_ssml"),
        (
            {"ssml": '<!DOCTYPE x [<!ENTITY a "b">]><speak>&a;</speak>'},
            "ssml",
            "ssml_dtd_forbidden",
        ),
        ({"ssml": '<speak><break time="999999s"/></speak>'}, "ssml", "ssml_break_too_long"),
        ({"ssml": "<speak>Hi <whisper>there</whisper></speak>"}, "ssml", "invalid_ssml"),
        ({"ssml": "<speak><break time='1s'/></speak>"}, "ssml", "empty_input"),
        ({"ssml": "<speak>" + "y" * 5001 + "</speak>"}, "ssml", "input_too_long"),
        ({"text": "a", "ssml": "<speak>b</speak>"}, "text", "invalid_request"),
        ({}, "text", "invalid_request"),
        ({"text": "hi", "speed": 5}, "speed", "max_value"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_bills_nothing(
    service, tenant, tts_worker, body, param, code
):
    before = UsageRecord.objects.count()
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert answer.status == 400, answer.body
    error = answer.error()
    assert (error["param"], error["code"]) == (param, code)
    assert UsageRecord.objects.count() == before


def test_the_input_limit_is_named_in_the_error(service, tenant, tts_worker):
    error = post(service.url, "/v1/synthesize", tenant.api_key, {"text": "y" * 5001}).error()
    assert "5000" in error["message"]


def test_a_tenants_preset_voice_is_used_and_an_outsider_cannot_use_it(
    service, make_tenant, tts_worker, engine
):
    owner, outsider = make_tenant("voice-own"), make_tenant("voice-out")
    with tenant_schema(owner.tenant.schema_name):
        preset = Voice.objects.create(name="Slow desk", base_voice="joe", speed=0.5)
    mine = post(
        service.url,
        "/v1/synthesize",
        owner.api_key,
        {"text": SENTENCE, "voice": "Slow desk", **RAW_PCM},
    )
    normal = post(service.url, "/v1/synthesize", owner.api_key, {"text": SENTENCE, **RAW_PCM})
    assert mine.status == 200
    assert len(mine.body) > 1.6 * len(normal.body)  # half speed: about twice as long
    by_id = post(
        service.url,
        "/v1/synthesize",
        owner.api_key,
        {"text": SENTENCE, "voice": str(preset.pk), **RAW_PCM},
    )
    assert by_id.body == mine.body
    for ref in (str(preset.pk), "Slow desk"):
        answer = post(
            service.url,
            "/v1/synthesize",
            outsider.api_key,
            {"text": SENTENCE, "voice": ref, **RAW_PCM},
        )
        assert answer.status == 400
        assert answer.error()["code"] == "unknown_voice"


def test_synthesis_needs_the_synthesize_scope_and_a_key(service, tenant, tts_worker):
    reader = tenant.key_with("voices:read")
    assert post(service.url, "/v1/synthesize", reader, {"text": "hi"}).error()["code"] == (
        "insufficient_scope"
    )
    assert post(service.url, "/v1/synthesize", None, {"text": "hi"}).status == 401


def test_without_workers_the_answer_is_a_clear_503(service, tenant, worker_pool):
    worker_pool.stop_all()
    wait_for(lambda: busy_worker_pid() is None and not live_heartbeats())
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"text": "hi"})
    assert answer.status == 503
    assert answer.error()["code"] == "no_workers"
    assert pcm(b"").size == 0


def live_heartbeats() -> list[bytes]:
    from django.conf import settings

    from callwaiting_tts.redis import get_redis

    return list(get_redis().scan_iter(match=f"{settings.REDIS_PREFIX}:tts:worker:*"))


def test_the_tenants_default_preset_is_used_when_no_voice_is_named(service, tenant, tts_worker):
    stock = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    created = post(
        service.url,
        "/v1/voices",
        tenant.api_key,
        {"name": "Slow", "base_voice": "joe", "speed": 0.5, "is_default": True},
    )
    assert created.status == 201
    slow = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    assert len(slow.body) > 1.6 * len(stock.body)
    record = wait_for(
        lambda: (
            UsageRecord.objects.filter(synthesis_id=slow.headers["x-synthesis-id"]).closed().first()
        )
    )
    assert record.voice == created.json()["id"]
    # A new default replaces the old; deleting it brings back the stock default.
    second = post(
        service.url,
        "/v1/voices",
        tenant.api_key,
        {"name": "Plain", "base_voice": "joe", "is_default": True},
    ).json()
    with tenant_schema(tenant.tenant.schema_name):
        defaults = list(Voice.objects.filter(is_default=True).values_list("name", flat=True))
    assert defaults == ["Plain"]
    assert delete(service.url, f"/v1/voices/{second['id']}", tenant.api_key) == 204
    again = post(service.url, "/v1/synthesize", tenant.api_key, {"text": SENTENCE, **RAW_PCM})
    assert again.body == stock.body


# --- the text front-end on the synthesis path ---------------------------------------------------


def quiet_ms_runs(pcm_bytes: bytes, rate: int = 22050) -> list[float]:
    """Quiet runs inside the audio (below -46 dBFS, not touching either end), in ms."""
    audio = np.frombuffer(pcm_bytes, dtype=np.int16).astype(np.int32)
    quiet = (np.abs(audio) < 0.005 * 32767).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet, [0]])))
    runs = zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
    return [(b - a) * 1000 / rate for a, b in runs if a > 0 and b < len(audio)]


def test_text_is_normalized_for_its_locale_before_the_engine_reads_it(
    service, tenant, tts_worker, engine
):
    text = "Your balance is ₦2,500.50, due 3/4/2025."
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": text, "language": "en-NG", **RAW_PCM},
    )
    assert answer.status == 200, answer.body
    plan = prepare(text=text, locale="en-NG")
    assert "naira" in " ".join(s.text for s in plan.segments)
    expected = engine_segments(plan, language="en-NG")
    assert answer.body == b"".join(c.pcm for c in engine.stream(expected, voice="joe"))
    assert answer.headers["x-characters-billed"] == str(len(text))


def test_an_ssml_break_is_that_much_silence_in_the_delivered_audio(service, tenant, tts_worker):
    ssml = '<speak>Mary had a little lamb <break time="1200ms"/>Whose fleece was white.</speak>'
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"ssml": ssml, **RAW_PCM})
    assert answer.status == 200, answer.body
    assert max(quiet_ms_runs(answer.body)) == pytest.approx(1200, abs=20)


def test_prosody_rate_and_volume_reach_the_engine(service, tenant, tts_worker):
    def fetch(ssml: str) -> np.ndarray:
        answer = post(service.url, "/v1/synthesize", tenant.api_key, {"ssml": ssml, **RAW_PCM})
        assert answer.status == 200, answer.body
        return np.frombuffer(answer.body, dtype=np.int16)

    words = "The quick brown fox jumps over the lazy dog."
    plain = fetch(f"<speak>{words}</speak>")
    slow = fetch(f'<speak><prosody rate="50%">{words}</prosody></speak>')
    quiet = fetch(f'<speak><prosody volume="-6dB">{words}</prosody></speak>')
    assert len(slow) / len(plain) == pytest.approx(2.0, rel=0.2)
    assert np.abs(quiet).max() == pytest.approx(np.abs(plain).max() / 2, rel=0.02)


def test_server_sent_events_carry_marks_at_their_place_in_the_audio(service, tenant, tts_worker):
    import base64
    import json

    ssml = (
        '<speak><mark name="greeting"/>Hello there. <break time="500ms"/>'
        '<mark name="question"/>How can I help?<mark name="end"/></speak>'
    )
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"ssml": ssml, "stream_format": "sse", **RAW_PCM},
    )
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "text/event-stream"
    events = [
        json.loads(line[len("data: ") :])
        for line in answer.body.decode().splitlines()
        if line.startswith("data: ")
    ]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "mark"
    assert kinds[-1] == "done"
    marks = {e["name"]: e["time_ms"] for e in events if e["type"] == "mark"}
    audio = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "audio")
    total_ms = len(audio) / 2 / 22050 * 1000
    assert marks["greeting"] == 0
    # The question starts after "Hello there." and its 500 ms break.
    first_segment_ms = marks["question"]
    assert 500 < first_segment_ms < total_ms - 500
    assert marks["end"] == pytest.approx(total_ms, abs=2)
    # Each mark comes after all the audio before it.
    sent_ms = 0.0
    for event in events:
        if event["type"] == "audio":
            sent_ms += len(base64.b64decode(event["audio"])) / 2 / 22050 * 1000
        elif event["type"] == "mark":
            assert event["time_ms"] == pytest.approx(sent_ms, abs=2)
    done = events[-1]
    assert done["characters"] == len("Hello there. How can I help?")
    assert done["audio_ms"] == pytest.approx(total_ms, abs=2)


def test_the_openai_input_is_ssml_when_it_starts_with_speak(service, tenant, tts_worker):
    body = {"model": "tts-1", "voice": "alloy", "response_format": "pcm"}
    ssml = post(
        service.url,
        "/v1/audio/speech",
        tenant.api_key,
        {**body, "input": '<speak>Yes <break time="1500ms"/> indeed.</speak>'},
    )
    assert ssml.status == 200, ssml.body
    assert max(quiet_ms_runs(ssml.body, rate=24000)) == pytest.approx(1500, abs=25)
    plain = post(service.url, "/v1/audio/speech", tenant.api_key, {**body, "input": "a < b & c"})
    assert plain.status == 200, plain.body


def test_an_ssml_alias_is_billed_as_spoken(service, tenant, tts_worker):
    alias = "World Wide Web Consortium"
    ssml = f'<speak>The <sub alias="{alias}">W3C</sub>.</speak>'
    answer = post(service.url, "/v1/synthesize", tenant.api_key, {"ssml": ssml, **RAW_PCM})
    assert answer.status == 200, answer.body
    billed = len(f"The {alias}.")
    assert answer.headers["x-characters-billed"] == str(billed)
    record = wait_for(
        lambda: UsageRecord.objects.filter(synthesis_id=answer.headers["x-synthesis-id"]).first()
    )
    assert record.characters_billed == billed
