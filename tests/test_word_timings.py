"""Word timings over HTTP server-sent events, and what an ended synthesis was heard saying
(`GET /v1/syntheses/{id}`): through daphne, with the real worker and real Piper audio."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
from urllib.parse import urlsplit

import pytest

from tests.synth import open_stream, post, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

RAW_PCM = {"format": "pcm", "sample_rate": 22050}
TEXT = "Thanks for calling Riverside Dental, your balance is $42.50. Goodbye!"
LONG = " ".join(f"This is sentence {n} of a long answer that keeps going." for n in range(60))


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("timing")


def events_of(body: bytes) -> list[dict]:
    return [
        json.loads(line[len("data: ") :])
        for line in body.decode().splitlines()
        if line.startswith("data: ")
    ]


def get(service, path: str, key: str) -> tuple[int, dict]:
    parts = urlsplit(service.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    body = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, body


def test_sse_word_timings_are_the_input_words_in_order_inside_the_audio(
    service, tenant, tts_worker
):
    ssml = f'<speak>{TEXT[:36]} <mark name="balance"/>{TEXT[37:]}</speak>'
    body = {"ssml": ssml, "stream_format": "sse", "timestamps": "word", **RAW_PCM}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert answer.status == 200, answer.body
    events = events_of(answer.body)
    audio_ms = sum(len(base64.b64decode(e["audio"])) for e in events if e["type"] == "audio")
    audio_ms = audio_ms / 2 / 22050 * 1000
    words = [w for e in events if e["type"] == "words" for w in e["words"]]
    assert [w["word"] for w in words] == TEXT.split()  # as written: "$42.50", not "forty-two"
    for before, after in itertools.pairwise(words):
        assert before["start_ms"] < before["end_ms"] <= after["start_ms"]
    assert words[0]["start_ms"] > 0
    assert words[-1]["end_ms"] < audio_ms
    # One clock: the mark before "your" is where that segment's audio starts.
    [mark] = [e for e in events if e["type"] == "mark"]
    your = words[5]
    assert your["word"] == "your"
    assert words[4]["end_ms"] < mark["time_ms"] <= your["start_ms"] < mark["time_ms"] + 300
    # Each segment's words come after its audio.
    seen_ms = 0.0
    for event in events:
        if event["type"] == "audio":
            seen_ms += len(base64.b64decode(event["audio"])) / 2 / 22050 * 1000
        elif event["type"] == "words":
            assert event["words"][-1]["end_ms"] <= seen_ms


def test_no_words_are_sent_unless_asked(service, tenant, tts_worker):
    body = {"text": TEXT, "stream_format": "sse", **RAW_PCM}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    assert answer.status == 200
    assert "words" not in {e["type"] for e in events_of(answer.body)}


def test_word_timings_need_server_sent_events(service, tenant):
    answer = post(
        service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "timestamps": "word"}
    )
    assert answer.status == 400
    assert answer.error()["param"] == "timestamps"
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": TEXT, "stream_format": "sse", "timestamps": "phoneme"},
    )
    assert answer.status == 400
    assert answer.error()["param"] == "timestamps"


def test_a_completed_synthesis_reports_all_its_text_delivered_and_billed(
    service, tenant, tts_worker
):
    body = {"text": TEXT, "stream_format": "sse", **RAW_PCM}
    answer = post(service.url, "/v1/synthesize", tenant.api_key, body)
    done = events_of(answer.body)[-1]
    status, record = get(service, f"/v1/syntheses/{done['synthesis_id']}", tenant.api_key)
    assert status == 200, record
    assert record["status"] == "done"
    assert record["text_spoken"] == TEXT
    assert record["characters_billed"] == done["characters"] == len(TEXT)
    assert record["audio_ms_delivered"] == pytest.approx(done["audio_ms"], abs=1)
    # It is read with the scope that synthesizes.
    status, error = get(
        service, f"/v1/syntheses/{done['synthesis_id']}", tenant.key_with("usage:read")
    )
    assert status == 403
    assert error["error"]["type"] == "permission_error"


def test_an_sse_stream_cut_short_reports_the_text_delivered_before_the_disconnect(
    service, tenant, tts_worker, make_tenant
):
    body = {"text": LONG, "stream_format": "sse", "timestamps": "word", **RAW_PCM}
    conn, response = open_stream(service.url, "/v1/synthesize", tenant.api_key, body)
    assert response.status == 200
    synthesis_id = response.getheader("X-Synthesis-ID")
    while b'"type": "words"' not in response.readline():
        pass
    conn.sock.close()  # the caller barged in: the agent hangs up the stream
    conn.close()
    path = f"/v1/syntheses/{synthesis_id}"
    status, record = wait_for(lambda: (got := get(service, path, tenant.api_key))[0] == 200 and got)
    assert record["status"] == "cancelled"
    spoken = record["text_spoken"].split()
    assert 0 < len(spoken) < len(LONG.split())
    assert spoken == LONG.split()[: len(spoken)]  # the input's words, from its start
    assert 0 < record["audio_ms_delivered"] < len(LONG) * 80
    assert 0 < record["characters_billed"] < len(LONG)
    # Another tenant's key finds nothing there, as it finds no id that is not one.
    outsider = make_tenant("outsider")
    status, error = get(service, path, outsider.api_key)
    assert status == 404
    assert error["error"]["code"] == "not_found"
    assert get(service, "/v1/syntheses/not-a-uuid", tenant.api_key)[0] == 404
