"""Every output format over HTTP, and the official OpenAI SDK pointed at us."""

from __future__ import annotations

import base64
import json

import openai
import pytest

from synthesis.audio.formats import FORMATS
from tests.synth import decode_duration, post

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Thanks for holding. Your call is important to us, and an agent will be with you shortly."


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("formats")


@pytest.fixture
def reference_seconds(service, tenant, tts_worker) -> float:
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": TEXT, "format": "pcm", "sample_rate": 22050},
    )
    assert answer.status == 200
    return len(answer.body) / 2 / 22050


CASES = [("pcm", rate) for rate in FORMATS["pcm"].rates] + [
    ("wav", 24000), ("wav", 8000), ("mp3", 24000), ("mp3", 44100), ("opus", 48000),
    ("flac", 24000), ("aac", 24000), ("mulaw", 8000), ("alaw", 8000),
]  # fmt: skip


@pytest.mark.parametrize(("fmt", "rate"), CASES)
def test_every_format_decodes_to_the_expected_duration(
    service, tenant, reference_seconds, fmt, rate
):
    answer = post(
        service.url,
        "/v1/synthesize",
        tenant.api_key,
        {"text": TEXT, "format": fmt, "sample_rate": rate},
    )
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == FORMATS[fmt].media_type
    seconds = decode_duration(answer.body, fmt, rate)
    # MP3 and ADTS AAC cannot tell a player about encoder delay and padding (+~0.1 s).
    slack = 0.12 if fmt in {"mp3", "aac"} else 0.0
    assert reference_seconds * 0.98 <= seconds <= reference_seconds * 1.02 + slack


def test_whole_file_formats_have_exact_lengths(service, tenant, reference_seconds):
    for fmt, rate in [("wav", 16000), ("flac", 24000), ("mp3", 24000)]:
        answer = post(
            service.url,
            "/v1/synthesize",
            tenant.api_key,
            {"text": TEXT, "format": fmt, "sample_rate": rate, "stream": False},
        )
        assert answer.status == 200
        assert int(answer.headers["content-length"]) == len(answer.body)
        assert float(answer.headers["x-audio-duration"]) == pytest.approx(
            reference_seconds, rel=0.001
        )


@pytest.fixture
def client(service, tenant, tts_worker):
    return openai.OpenAI(base_url=f"{service.url}/v1", api_key=tenant.api_key, max_retries=0)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_the_openai_sdk_creates_speech_in_every_format(client, reference_seconds, fmt):
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=fmt
    )
    rate = 24000 if fmt == "pcm" else FORMATS[fmt].default_rate
    seconds = decode_duration(speech.content, fmt, rate)
    slack = 0.12 if fmt in {"mp3", "aac"} else 0.0
    assert reference_seconds * 0.98 <= seconds <= reference_seconds * 1.02 + slack


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_the_openai_sdk_streams_speech(client, reference_seconds, fmt):
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts",
        voice="nova",
        input=TEXT,
        response_format=fmt,
        speed=1.0,
        instructions="Speak in a cheerful tone.",
    ) as response:
        assert response.headers["content-type"] == FORMATS[fmt].media_type
        data = b"".join(response.iter_bytes(chunk_size=4096))
    seconds = decode_duration(data, fmt, 24000 if fmt == "pcm" else FORMATS[fmt].default_rate)
    slack = 0.12 if fmt in {"mp3", "aac"} else 0.0
    assert reference_seconds * 0.98 <= seconds <= reference_seconds * 1.02 + slack


def test_the_openai_sdk_server_sent_events(service, tenant, tts_worker, reference_seconds):
    answer = post(
        service.url,
        "/v1/audio/speech",
        tenant.api_key,
        {
            "model": "tts-1",
            "voice": "alloy",
            "input": TEXT,
            "response_format": "pcm",
            "stream_format": "sse",
        },
    )
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[6:])
        for line in answer.body.decode().splitlines()
        if line.startswith("data: ")
    ]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == len(TEXT)
    audio = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(audio) / 2 / 24000 == pytest.approx(reference_seconds, rel=0.02)


def test_openai_errors_keep_the_one_shape_the_sdk_reads(client):
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.speech.create(model="tts-1", voice="nobody", input="hi")
    assert bad.value.code == "unknown_voice"
    assert bad.value.param == "voice"
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.speech.create(model="tts-9", voice="alloy", input="hi")
    assert bad.value.param == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.speech.create(model="tts-1", voice="alloy", input="hi", speed=9)
    assert bad.value.param == "speed"


def test_the_openai_sdk_with_a_wrong_key_gets_401(service, tts_worker):
    stranger = openai.OpenAI(base_url=f"{service.url}/v1", api_key="cw_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as failed:
        stranger.audio.speech.create(model="tts-1", voice="alloy", input="hi")
    assert failed.value.code == "invalid_api_key"
