"""The realtime socket end to end: daphne, real Redis, real worker processes, real Piper audio."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from billing.models import UsageRecord
from callwaiting_tts_client.protocol import AUDIO_FORMATS
from synthesis.audio.g711 import ulaw_to_pcm
from synthesis.contract.plan import engine_segments
from synthesis.engines.loader import load_engine
from synthesis.text.frontend import prepare
from tests.conftest import wait_until_sockets_are_done
from tests.synth import barge_in
from tests.test_files_read_back import Case, read_pyav, read_soundfile

pytestmark = pytest.mark.django_db(transaction=True)

SENTENCE = "Thanks for calling Riverside Dental, how can I help you today?"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("rt")


@pytest.fixture(autouse=True)
def _server_done_with_its_sockets(make_tenant):
    """After each test, waits until daphne has finished with every socket: the leases are
    released last, after the usage records are written (else the test's teardown would truncate
    tables under those writes). It asks for `make_tenant` so that it ends first: the tenants'
    schemas are dropped after it."""
    yield
    wait_until_sockets_are_done()


@pytest.fixture(scope="module")
def engine():
    return load_engine("piper", noise_scale=0.0, noise_w_scale=0.0)


def open_socket(service, key: str) -> Any:
    return connect(f"{service.ws_url}/v1/stream", additional_headers={"X-API-Key": key})


async def ready(ws: ClientConnection) -> dict[str, Any]:
    message = json.loads(await ws.recv())
    assert message["type"] == "ready", message
    return message


async def collect(ws: ClientConnection, context_id: str, timeout: float = 30):
    """Audio bytes and JSON messages of one context until its done/cancelled/error."""
    audio = bytearray()
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
        if isinstance(raw, bytes):
            audio += raw
            continue
        message = json.loads(raw)
        messages.append(message)
        if message.get("type") == "audio":
            audio += base64.b64decode(message["audio"])
        if message.get("event") == "media":
            audio += base64.b64decode(message["media"]["payload"])
        if message.get("type") in ("done", "cancelled", "error") and (
            message.get("context_id") == context_id
        ):
            return bytes(audio), messages


def reference_pcm(engine, text: str, rate: int = 24000) -> np.ndarray:
    from synthesis.audio.encode import encode_whole

    segments = engine_segments(prepare(text=text), language="en-US")
    pcm = b"".join(c.pcm for c in engine.stream(segments, voice="joe"))
    return np.frombuffer(encode_whole(pcm, engine.sample_rate, "pcm", rate), dtype=np.int16)


async def test_a_sentence_in_one_piece_comes_back_as_its_audio(service, tenant, tts_worker):
    async with open_socket(service, tenant.api_key) as ws:
        hello = await ready(ws)
        assert hello["protocol"] == 1
        await ws.send(json.dumps({"type": "start", "context_id": "c1", "text": SENTENCE}))
        await ws.send(json.dumps({"type": "end"}))
        audio, messages = await collect(ws, "c1")
    assert messages[0] == {
        "type": "started",
        "context_id": "c1",
        "format": "pcm",
        "sample_rate": 24000,
    }
    done = messages[-1]
    assert done["type"] == "done"
    assert done["characters"] == len(SENTENCE)
    assert len(audio) > 24000  # > 0.5 s of 24 kHz s16le
    assert done["audio_ms"] == pytest.approx(len(audio) / 48, abs=2)


async def test_llm_style_streaming_gets_audio_before_the_text_ends(service, tenant, tts_worker):
    words = (SENTENCE + " We are open until five in the evening, every day.").split(" ")
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "llm", "format": "mulaw"}))
        first_audio_at: list[float] = []
        sent_all_at: list[float] = []

        async def feed() -> None:
            for word in words:
                await ws.send(json.dumps({"type": "text", "text": word + " "}))
                await asyncio.sleep(0.03)
            sent_all_at.append(time.monotonic())
            await ws.send(json.dumps({"type": "end"}))

        feeder = asyncio.ensure_future(feed())
        audio = bytearray()
        while True:
            raw = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(raw, bytes):
                if not first_audio_at:
                    first_audio_at.append(time.monotonic())
                assert len(raw) == 160  # 20 ms of 8 kHz mu-law
                audio += raw
                continue
            message = json.loads(raw)
            if message["type"] == "done":
                break
            assert message["type"] in ("started",), message
        await feeder
    assert first_audio_at[0] < sent_all_at[0]  # spoke while the "LLM" was still writing
    assert message["audio_ms"] == len(audio) // 8
    pcm = np.frombuffer(ulaw_to_pcm(bytes(audio)), dtype=np.int16)
    assert np.abs(pcm.astype(np.int32)).max() > 3000  # speech, not silence


def units_reference(engine, text: str, rate: int) -> bytes:
    """The audio the socket sends for `text` given in one piece: the buffer's units, each
    planned on its own, as PCM at `rate` (the engine's own rate: no resampling)."""
    from synthesis.realtime.buffer import TextBuffer

    buffer = TextBuffer()
    units = buffer.add(text) + buffer.flush()
    pcm = b""
    for unit in units:
        segments = engine_segments(prepare(text=unit), language="en-US")
        pcm += b"".join(c.pcm for c in engine.stream(segments, voice="joe"))
    assert rate == engine.sample_rate
    return pcm


async def test_a_cancel_stops_the_audio_at_once_and_bills_what_was_sent(
    service, tenant, tts_worker
):
    long_text = " ".join(f"This is sentence number {n} of a long answer." for n in range(12))
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        # A second of audio, then the caller barges in.
        received, cancelled = await barge_in(ws, "talk", long_text, after=24000 * 2)
        assert cancelled["type"] == "cancelled"
        assert cancelled["audio_ms_sent"] == received // 48
        # Nothing more for that context; the socket still works.
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        after = await asyncio.wait_for(ws.recv(), 5)
        assert json.loads(after) == {"type": "pong", "id": 1}
        await ws.send(json.dumps({"type": "start", "context_id": "next", "text": "Okay."}))
        await ws.send(json.dumps({"type": "end"}))
        _audio, messages = await collect(ws, "next")
        assert messages[-1]["type"] == "done"
    record = await _usage_for(tenant, status=UsageRecord.Status.CANCELLED)
    assert 0 < record.characters_billed < len(long_text)
    assert record.audio_seconds_delivered == pytest.approx(received / 48000, abs=0.05)
    assert record.audio_seconds_synthesized < 12  # the worker did not make the whole answer


async def _usage_for(tenant, *, status: str, timeout: float = 10.0) -> UsageRecord:
    from channels.db import database_sync_to_async

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = await database_sync_to_async(
            lambda: UsageRecord.objects.filter(
                tenant_id=tenant.tenant.pk, status=status, source="websocket"
            ).first()
        )()
        if record is not None:
            return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {status} usage record")


async def test_marks_come_back_after_the_audio_before_them(service, tenant, tts_worker):
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "m", "format": "pcm"}))
        await ws.send(json.dumps({"type": "text", "text": "First part. "}))
        await ws.send(json.dumps({"type": "mark", "name": "half"}))
        await ws.send(json.dumps({"type": "text", "text": "Second part."}))
        await ws.send(json.dumps({"type": "end"}))
        audio = 0
        marks = []
        while True:
            raw = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(raw, bytes):
                audio += len(raw)
                continue
            message = json.loads(raw)
            if message["type"] == "mark":
                marks.append((message["name"], message["time_ms"], audio // 48))
            if message["type"] == "done":
                break
    [(name, time_ms, sent_ms)] = marks
    assert name == "half"
    assert time_ms == sent_ms  # after every byte of "First part."
    assert 300 < time_ms < message["audio_ms"] - 300


async def test_ssml_marks_and_breaks_in_a_start_document(service, tenant, tts_worker):
    ssml = '<speak>Hello <break time="700ms"/><mark name="there"/>there.</speak>'
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "s", "ssml": ssml}))
        _audio, messages = await collect(ws, "s")
    [mark] = [m for m in messages if m["type"] == "mark"]
    assert mark["name"] == "there"
    assert mark["time_ms"] > 700
    assert messages[-1]["characters"] == len("Hello there.")


async def test_contexts_speak_one_after_another_in_start_order(service, tenant, tts_workers):
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        for name, text in (("a", "The first context speaks first."), ("b", "Then this one.")):
            await ws.send(json.dumps({"type": "start", "context_id": name, "text": text}))
            await ws.send(json.dumps({"type": "end", "context_id": name}))
        order = []
        while len([m for m in order if m[0] == "done"]) < 2:
            raw = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(raw, bytes):
                order.append(("audio", None))
            else:
                message = json.loads(raw)
                order.append((message["type"], message.get("context_id")))
    dones = [i for i, (kind, _) in enumerate(order) if kind == "done"]
    assert [order[i][1] for i in dones] == ["a", "b"]
    # No audio of b before a is done; b has audio after it.
    assert any(kind == "audio" for kind, _ in order[dones[0] + 1 : dones[1]])


async def test_mulaw_frames_decode_to_the_right_duration(service, tenant, tts_worker, engine):
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(
            json.dumps({"type": "start", "context_id": "t", "format": "alaw", "text": SENTENCE})
        )
        await ws.send(json.dumps({"type": "end"}))
        audio, messages = await collect(ws, "t")
    reference_ms = len(units_reference(engine, SENTENCE, 22050)) / 2 / 22.05
    assert len(audio) % 160 == 0
    assert len(audio) / 8 == pytest.approx(reference_ms, abs=20)  # padded to a whole frame
    assert messages[-1]["audio_ms"] == len(audio) // 8


@pytest.mark.parametrize("fmt", AUDIO_FORMATS)
async def test_every_socket_format_opens_in_soundfile_and_pyav(service, tenant, tts_worker, fmt):
    """The socket's formats are raw (no header): each reader is told the encoding and rate the
    `started` message names, and both decode what `done` says was sent."""
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        start = {"type": "start", "context_id": "f", "format": fmt, "text": SENTENCE}
        await ws.send(json.dumps(start))
        await ws.send(json.dumps({"type": "end"}))
        audio, messages = await collect(ws, "f")
    case = Case("socket", fmt)
    assert messages[0]["sample_rate"] == case.rate
    sent = messages[-1]["audio_ms"] * case.rate // 1000
    by_soundfile, rate = read_soundfile(audio, case)
    assert rate == case.rate
    assert len(by_soundfile) == pytest.approx(sent, abs=case.rate // 1000)
    by_pyav, rate = read_pyav(audio, case)
    assert rate == case.rate
    assert np.array_equal(by_soundfile, by_pyav)


async def test_twilio_mode_emits_media_stream_messages_and_understands_clear(
    service, tenant, tts_worker
):
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(
            json.dumps(
                {
                    "type": "start",
                    "context_id": "tw",
                    "output": "twilio",
                    "stream_sid": "MZ123",
                    "service_events": True,  # `done`, `cancelled`: test_realtime_twilio
                    "ssml": '<speak>Hello <mark name="m1"/>caller.</speak>',
                }
            )
        )
        _audio, messages = await collect(ws, "tw")
        media = [m for m in messages if m.get("event") == "media"]
        assert media
        for message in media:
            assert set(message) == {"event", "streamSid", "media"}
            assert message["streamSid"] == "MZ123"
            assert len(base64.b64decode(message["media"]["payload"])) == 160
        assert {"event": "mark", "streamSid": "MZ123", "mark": {"name": "m1"}} in messages
        # Twilio's clear cancels what is speaking.
        long_text = "A long message that the caller will interrupt. " * 6
        await ws.send(
            json.dumps(
                {
                    "type": "start",
                    "context_id": "tw2",
                    "output": "twilio",
                    "stream_sid": "MZ123",
                    "service_events": True,
                    "text": long_text,
                }
            )
        )
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if message.get("event") == "media":
                break
        await ws.send(json.dumps({"event": "clear", "streamSid": "MZ123"}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if message.get("type") == "cancelled":
                break
        assert message["context_id"] == "tw2"
        # ... and Twilio is told to drop the audio it has not played yet.
        clear = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert clear == {"event": "clear", "streamSid": "MZ123"}
    await _usage_for(tenant, status=UsageRecord.Status.CANCELLED)


async def test_another_tenants_voice_is_unknown_and_the_socket_stays(
    service, make_tenant, tts_worker
):
    from channels.db import database_sync_to_async

    from tenants.db import tenant_schema
    from voices.models import Voice

    owner = await database_sync_to_async(make_tenant)("rt-own")
    outsider = await database_sync_to_async(make_tenant)("rt-out")

    def create() -> str:
        with tenant_schema(owner.tenant.schema_name):
            return str(Voice.objects.create(name="Private", base_voice="joe").pk)

    preset = await database_sync_to_async(create)()
    async with open_socket(service, outsider.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "x", "voice": preset}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert error["type"] == "error"
        assert error["error"]["code"] == "unknown_voice"
        assert error["context_id"] == "x"
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "pong"
    async with open_socket(service, owner.api_key) as ws:
        await ready(ws)
        await ws.send(
            json.dumps({"type": "start", "context_id": "y", "voice": preset, "text": "Mine."})
        )
        await ws.send(json.dumps({"type": "end"}))
        _audio, messages = await collect(ws, "y")
        assert messages[-1]["type"] == "done"


async def test_a_client_that_goes_away_cancels_its_context(service, tenant, tts_worker):
    long_text = " ".join(f"Sentence {n} of an answer nobody hears." for n in range(10))
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "gone", "text": long_text}))
        await ws.send(json.dumps({"type": "end"}))
        while not isinstance(await asyncio.wait_for(ws.recv(), 20), bytes):
            pass
    record = await _usage_for(tenant, status=UsageRecord.Status.CANCELLED)
    assert record.characters_billed < len(long_text)


async def test_an_oversized_message_closes_4413_and_the_open_context_is_billed(
    service, tenant, tts_worker
):
    """Closed with the documented code (an application's 1009 was refused by daphne: a 1011,
    a crashed socket and no usage record); the context open on the socket is cancelled and
    billed for the audio sent, and its slot freed."""
    import redis.asyncio as aioredis
    from django.conf import settings
    from websockets.exceptions import ConnectionClosed

    from billing import leases
    from callwaiting_tts_client.protocol import CLOSE_MESSAGE_TOO_LARGE

    long_text = " ".join(f"Sentence {n} of an answer cut short." for n in range(12))
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        await ws.send(json.dumps({"type": "start", "context_id": "big", "text": long_text}))
        await ws.send(json.dumps({"type": "end"}))
        while not isinstance(await asyncio.wait_for(ws.recv(), 20), bytes):
            pass
        await ws.send(json.dumps({"type": "text", "text": "x" * settings.WS_MAX_MESSAGE_BYTES}))
        with pytest.raises(ConnectionClosed) as closed:
            await _read_to_the_end(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == CLOSE_MESSAGE_TOO_LARGE
    record = await _usage_for(tenant, status=UsageRecord.Status.CANCELLED)
    assert 0 < record.characters_billed < len(long_text)
    assert record.audio_seconds_delivered > 0
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    try:
        # The slot is released just after the record is closed (the same finish, a step
        # later): polled, as a client reading its usage would.
        slots = leases.LeaseSet(client, leases.synthesis_key(tenant.tenant.pk))
        for _ in range(100):
            if await slots.count() == 0:
                break
            await asyncio.sleep(0.05)
        assert await slots.count() == 0
    finally:
        await client.aclose()


async def _read_to_the_end(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 20)


async def test_a_long_sentence_at_48_khz_in_json_comes_back_whole(service, tenant, tts_worker):
    """One engine chunk of a 200-character sentence is over a megabyte at 48 kHz (more in
    base64): daphne refuses to send a message over its limit, so audio leaves in pieces."""
    sentence = (
        "Hello. When you arrive at the clinic please bring your insurance card and a photo "
        "identity document and the list of every medicine you take and the letters from other "
        "doctors that mention your heart."
    )
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        start = {"type": "start", "context_id": "w", "sample_rate": 48000, "encoding": "json"}
        await ws.send(json.dumps({**start, "text": sentence}))
        await ws.send(json.dumps({"type": "end"}))
        audio, messages = await collect(ws, "w", timeout=60)
    assert messages[-1]["type"] == "done", messages[-1]
    assert messages[-1]["audio_ms"] == len(audio) // 96
    assert len(audio) * 4 / 3 > 1024 * 1024  # in base64: more than daphne sends in one message


async def test_bad_messages_get_errors_and_the_socket_stays_usable(service, tenant, tts_worker):
    async with open_socket(service, tenant.api_key) as ws:
        await ready(ws)
        for message, code in (
            ({"type": "text", "text": "hi"}, "no_context"),
            ({"type": "start", "format": "wma"}, "invalid_request"),
            ({"type": "start", "context_id": "bad id!"}, "invalid_request"),
            ({"type": "start", "output": "twilio", "service_events": True}, "invalid_request"),
            ({"type": "start", "ssml": "<speak><bogus/></speak>"}, "invalid_ssml"),
            ({"type": "start", "speed": 9}, "invalid_request"),
            ({"type": "cancel", "context_id": "nope"}, "unknown_context"),
            ({"type": "dance"}, "unknown_message_type"),
        ):
            await ws.send(json.dumps(message))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert reply["type"] == "error", (message, reply)
            assert reply["error"]["code"] == code, (message, reply)
        await ws.send("{not json")
        assert json.loads(await ws.recv())["error"]["code"] == "invalid_json"
        await ws.send(json.dumps({"type": "start", "context_id": "ok", "text": "Fine."}))
        await ws.send(json.dumps({"type": "end"}))
        await ws.send(json.dumps({"type": "text", "text": "more"}))
        _audio, messages = await collect(ws, "ok")
        assert any(m.get("error", {}).get("code") == "context_closed" for m in messages)
        assert messages[-1]["type"] == "done"


async def test_a_hundred_connections_each_hear_their_own_sentence(
    service, tenant, tts_workers, engine
):
    texts = [f"Caller {n}, your table for {n % 7 + 2} is ready." for n in range(100)]

    async def one(text: str) -> tuple[str, bytes, dict[str, Any]]:
        async with open_socket(service, tenant.api_key) as ws:
            await ready(ws)
            await ws.send(
                json.dumps({"type": "start", "context_id": "c", "sample_rate": 22050, "text": text})
            )
            await ws.send(json.dumps({"type": "end"}))
            audio, messages = await collect(ws, "c", timeout=240)
            return text, audio, messages[-1]

    results = await asyncio.gather(*(one(text) for text in texts))
    for text, audio, last in results:
        assert last["type"] == "done", last
        assert audio == units_reference(engine, text, 22050), text


# --- through the reference client ---------------------------------------------------------------


async def test_the_reference_client_streams_like_an_llm_and_paces_in_real_time(
    service, tenant, tts_worker
):
    from callwaiting_tts_client import StreamClient

    words = [w + " " for w in (SENTENCE + " We open at nine tomorrow.").split(" ")]
    # 100 ms a word, as a slow LLM writes: the first clause (4 words) is spoken while the rest is
    # still arriving, with room for this machine's 3x swings in speed (30 ms a word left the
    # first audio 10-15 % past the last word on a slow day).
    delay = 0.1
    async with StreamClient(f"{service.ws_url}/v1/stream", tenant.api_key) as client:
        streamed = await client.speak(words, piece_delay_s=delay, marks={4: "after-dental"})
        assert streamed.characters == sum(len(w) for w in words)
        assert streamed.first_audio_s is not None
        assert streamed.first_audio_s < delay * len(words)  # before the last word was sent
        [(name, time_ms)] = streamed.marks
        assert name == "after-dental"
        assert 0 < time_ms < streamed.audio_ms

        started = time.monotonic()
        paced = await client.speak("One moment please.", format="mulaw", pacing="realtime")
        took_ms = (time.monotonic() - started) * 1000
    # Real-time pacing never sends faster than playback (200 ms head start).
    assert took_ms >= paced.audio_ms - 200
    assert paced.audio_ms == len(paced.audio) // 8


def test_the_client_command_line_writes_a_playable_wav(service, tenant, tts_worker, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    import soundfile

    import callwaiting_tts_client

    out = tmp_path / "speech.wav"
    command = [
        sys.executable, "-m", "callwaiting_tts_client",
        "--url", f"{service.ws_url}/v1/stream", "--format", "mulaw",
        "--out", str(out), "Your order ships tomorrow.",
    ]  # fmt: skip
    # The client package as this test imported it (a checkout's copy, or the installed one).
    package_root = Path(callwaiting_tts_client.__file__).resolve().parent.parent
    env = {
        "CALLWAITING_API_KEY": tenant.api_key,
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(package_root),
    }
    done = subprocess.run(command, env=env, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    audio, rate = soundfile.read(out, dtype="int16")
    assert rate == 8000
    assert len(audio) > 8000 * 0.8  # over 0.8 s of speech
    assert b"characters=26" in done.stderr
    bad = subprocess.run(
        [*command[:-1], "hi"],
        env={**env, "CALLWAITING_API_KEY": "cw_bad"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1
    assert b"invalid_api_key" in bad.stderr
