"""The realtime socket against clients that misbehave or go stale: revoked keys, silent contexts,
endless marks, deep JSON, crashes. In-process (channels' communicator, so settings can be lowered
per test) with real Redis and real worker processes; the oversized-message close, which daphne
itself sends, is tested through daphne in tests/test_realtime.py."""

from __future__ import annotations

import json
import time

import pytest
import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings

from billing import leases
from billing.models import UsageRecord
from callwaiting_tts.parsers import MAX_JSON_DEPTH
from callwaiting_tts_client.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_IDLE_TIMEOUT,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_PROTOCOL_ERROR,
    MESSAGE_FIELDS,
    REQUIRED_FIELDS,
)
from synthesis import consumers
from synthesis.tests.sockets import (
    connect,
    disconnect_every_socket,  # noqa: F401  (autouse)
    eventually,
    forget,
    next_json,
    until,
)
from tenants.audit import Actor
from tenants.models import ApiKey
from tenants.services import api_key_revoke, tenant_suspend

pytestmark = pytest.mark.django_db(transaction=True)

LONG = " ".join(f"This is sentence number {n} of a long answer." for n in range(20))
DEEP = "[" * 1000 + "]" * 1000


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("hard")


async def first_audio(comm: WebsocketCommunicator, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not (await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))).get(
        "bytes"
    ):
        pass


async def read_to_the_end(comm: WebsocketCommunicator) -> None:
    while True:
        await comm.receive_output(timeout=20)


async def synthesis_leases(tenant) -> int:
    client = aioredis.Redis.from_url(django_settings.REDIS_URL)
    try:
        return await leases.LeaseSet(client, leases.synthesis_key(tenant.tenant.pk)).count()
    finally:
        await client.aclose()


async def usage_of(tenant) -> list[UsageRecord]:
    return await database_sync_to_async(
        lambda: list(UsageRecord.objects.filter(tenant_id=tenant.tenant.pk, source="websocket"))
    )()


async def settled(tenant, error_code: str) -> list[UsageRecord]:
    return [r for r in await usage_of(tenant) if r.error_code == error_code]


# --- the key, re-checked while the socket is open -------------------------------------------------


def _revoke(raw: str) -> None:
    api_key = ApiKey.objects.get(prefix=raw.split("_")[1])
    api_key_revoke(api_key=api_key, by=Actor.system())


async def test_text_after_the_key_is_revoked_closes_the_socket_4401(tenant, tts_worker, settings):
    settings.WS_KEY_RECHECK_SECONDS = 0
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "r"})
    assert (await next_json(comm))["type"] == "started"
    await database_sync_to_async(_revoke)(tenant.api_key)
    await comm.send_json_to({"type": "text", "text": "Still talking? ", "context_id": "r"})
    assert (await next_json(comm))["error"]["code"] == "api_key_revoked"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_NOT_AUTHENTICATED}
    assert await eventually(lambda: _no_leases(tenant))


async def _no_leases(tenant) -> bool:
    return await synthesis_leases(tenant) == 0


async def test_text_after_the_tenant_is_suspended_closes_the_socket_4403(
    tenant, tts_worker, settings
):
    settings.WS_KEY_RECHECK_SECONDS = 0
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "s"})
    assert (await next_json(comm))["type"] == "started"
    await database_sync_to_async(tenant_suspend)(tenant=tenant.tenant, by=Actor.system())
    await comm.send_json_to({"type": "text", "text": "Hello "})
    assert (await next_json(comm))["error"]["code"] == "tenant_suspended"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_FORBIDDEN}


async def test_the_key_is_read_at_most_once_per_interval_on_text(
    tenant, tts_worker, settings, monkeypatch
):
    settings.WS_KEY_RECHECK_SECONDS = 3600
    reads: list[str] = []
    real = consumers.key_problem

    def counting(prefix: str):
        reads.append(prefix)
        return real(prefix)

    monkeypatch.setattr(consumers, "key_problem", counting)
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "k"})
    assert (await next_json(comm))["type"] == "started"
    for _ in range(20):
        await comm.send_json_to({"type": "text", "text": "word "})
    await comm.send_json_to({"type": "ping", "id": 1})
    assert (await until(comm, "pong"))["id"] == 1
    assert len(reads) == 1  # the start's; 20 texts within the interval read nothing
    await comm.send_json_to({"type": "cancel"})
    await until(comm, "cancelled")


# --- contexts that go quiet, finish, or pile up marks ---------------------------------------------


async def test_a_silent_context_is_ended_after_its_idle_time_and_the_socket_then_idles_out(
    tenant, settings
):
    settings.WS_CONTEXT_IDLE_TIMEOUT_SECONDS = 0.5
    settings.WS_IDLE_TIMEOUT_SECONDS = 1.0
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "quiet"})
    assert (await next_json(comm))["type"] == "started"
    assert await synthesis_leases(tenant) == 1
    error = await next_json(comm, timeout=10)
    assert (error["type"], error["context_id"]) == ("error", "quiet")
    assert error["error"]["code"] == "context_idle_timeout"
    assert await eventually(lambda: _no_leases(tenant))  # its concurrency slot is free
    # Nothing open any more: the socket's own idle timeout applies.
    assert (await next_json(comm, timeout=10))["error"]["code"] == "idle_timeout"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_IDLE_TIMEOUT}


async def test_a_context_is_not_idle_while_it_speaks(tenant, tts_worker, settings):
    settings.WS_CONTEXT_IDLE_TIMEOUT_SECONDS = 0.5
    settings.WS_SEND_AHEAD_MS = 300  # speaking lasts about as long as the audio: seconds
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "talk", "text": LONG[:120]})
    await comm.send_json_to({"type": "flush"})
    audio_ms = 0.0
    deadline = time.monotonic() + 30
    while True:  # all its audio, then (text still open, nothing more said) the idle error
        message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
        if message.get("bytes"):
            audio_ms += len(message["bytes"]) / 48
            continue
        body = json.loads(message["text"])
        if body["type"] == "error":
            break
    assert body["error"]["code"] == "context_idle_timeout"
    assert audio_ms > 2000  # spoke for longer than the idle time before it
    [record] = await eventually(lambda: settled(tenant, "context_idle_timeout"))
    assert 0 < record.characters_billed <= 120
    assert record.audio_seconds_delivered * 1000 == pytest.approx(audio_ms, abs=25)


async def test_finished_contexts_are_dropped_and_their_ids_free(
    tenant, tts_worker, settings, monkeypatch
):
    sessions = []
    real = consumers.Session

    def recording(*args, **kwargs):
        sessions.append(real(*args, **kwargs))
        return sessions[-1]

    monkeypatch.setattr(consumers, "Session", recording)
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    for n in range(settings.WS_MAX_CONTEXTS + 4):
        await comm.send_json_to({"type": "start", "context_id": f"c{n}", "text": "Hi."})
        await comm.send_json_to({"type": "end"})
        assert (await until(comm, "done"))["context_id"] == f"c{n}"
    [session] = sessions

    async def dropped() -> bool:
        return len(session.contexts) <= 1

    assert await eventually(dropped)
    await comm.send_json_to({"type": "cancel", "context_id": "c0"})
    assert (await until(comm, "error"))["error"]["code"] == "context_finished"
    await comm.send_json_to({"type": "cancel", "context_id": "never"})
    assert (await until(comm, "error"))["error"]["code"] == "unknown_context"
    await comm.send_json_to({"type": "start", "context_id": "c0", "text": "Again."})
    await comm.send_json_to({"type": "end"})
    assert (await until(comm, "done"))["context_id"] == "c0"


async def test_pending_marks_are_bounded(tenant, tts_worker, settings):
    settings.WS_MAX_PENDING_MARKS = 5
    settings.WS_SEND_AHEAD_MS = 300  # the marks wait behind seconds of audio
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "m", "text": LONG})
    for n in range(6):
        await comm.send_json_to({"type": "mark", "name": f"m{n}", "context_id": "m"})
    error = await until(comm, "error")
    assert (error["error"]["code"], error["context_id"]) == ("too_many_marks", "m")
    await comm.send_json_to({"type": "cancel"})
    await until(comm, "cancelled")


# --- bad messages: the malformed counted, refusals only answered ---------------------------------


async def test_a_ping_does_not_reset_the_bad_message_count(tenant, settings):
    settings.WS_MAX_CONSECUTIVE_ERRORS = 3
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    for _ in range(2):
        await comm.send_to(text_data="{broken")
        assert (await next_json(comm))["error"]["code"] == "invalid_json"
    await comm.send_json_to({"type": "ping"})
    assert (await next_json(comm))["type"] == "pong"
    await comm.send_json_to({"type": "nonsense"})
    assert (await next_json(comm))["error"]["code"] == "unknown_message_type"
    assert (await next_json(comm))["error"]["code"] == "protocol_error"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_PROTOCOL_ERROR}


async def test_a_client_retrying_a_refused_start_is_answered_each_time_and_kept_open(
    tenant, settings
):
    """Well-formed `start`s refused for a reason (an unknown voice, a rate the format lacks, a
    speed out of range, the concurrency limit) are answered, never counted as bad messages."""
    settings.WS_MAX_CONSECUTIVE_ERRORS = 3
    settings.TTS_MAX_CONCURRENT_PER_TENANT = 1
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    for _ in range(5):
        await comm.send_json_to({"type": "start", "context_id": "v", "voice": "nobody"})
        error = await next_json(comm)
        assert (error["error"]["code"], error["context_id"]) == ("unknown_voice", "v")
    for _ in range(4):
        await comm.send_json_to({"type": "start", "sample_rate": 12345})
        error = (await next_json(comm))["error"]
        assert (error["code"], error["param"]) == ("invalid_request", "sample_rate")
        assert error["message"].count("sample_rate") == 1, error["message"]
        await comm.send_json_to({"type": "start", "speed": 9})
        assert (await next_json(comm))["error"]["param"] == "speed"
    await comm.send_json_to({"type": "start", "context_id": "holds-the-slot"})
    assert (await next_json(comm))["type"] == "started"
    for n in range(4):  # refused by admission
        await comm.send_json_to({"type": "start", "context_id": f"x{n}"})
        assert (await next_json(comm))["error"]["code"] == "concurrency_limit"
    await comm.send_json_to({"type": "ping", "id": 1})
    assert await next_json(comm) == {"type": "pong", "id": 1}


async def test_malformed_messages_are_counted_and_refusals_between_them_do_not_reset_it(
    tenant, settings
):
    settings.WS_MAX_CONSECUTIVE_ERRORS = 3
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "fromat": "wav"})
    error = (await next_json(comm))["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "fromat")
    await comm.send_json_to({"type": "start", "voice": "nobody"})  # refused: not counted
    assert (await next_json(comm))["error"]["code"] == "unknown_voice"
    await comm.send_json_to({"type": "text", "text": 123})
    assert (await next_json(comm))["error"]["message"] == "text must be a string, not an integer."
    await comm.send_json_to({"type": "mark"})
    assert (await next_json(comm))["error"]["param"] == "name"
    assert (await next_json(comm))["error"]["code"] == "protocol_error"
    assert await next_json(comm) == {"type": "close", "code": CLOSE_PROTOCOL_ERROR}


async def test_every_message_type_answers_an_unknown_field_and_a_wrong_type_naming_it(
    tenant, settings
):
    settings.WS_MAX_CONSECUTIVE_ERRORS = 1000
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    for kind, fields in MESSAGE_FIELDS.items():
        if kind == "auth":  # a first message only: test_an_auth_message_with_an_unknown_field...
            continue
        key = "event" if kind == "clear" else "type"
        needed = dict.fromkeys(REQUIRED_FIELDS.get(kind, ()), "x")
        await comm.send_json_to({key: kind, **needed, "colour": "blue"})
        error = (await next_json(comm))["error"]
        assert (error["code"], error["param"]) == ("invalid_request", "colour"), kind
        typed = [(name, t) for name, t in fields.items() if t != "any"]
        for name, json_type in typed:
            wrong = {"string": 5, "boolean": "yes", "integer": 1.5, "number": False, "array": "x"}[
                json_type
            ]
            await comm.send_json_to({key: kind, **needed, name: wrong})
            error = (await next_json(comm))["error"]
            assert (error["code"], error["param"]) == ("invalid_request", name), (kind, name)
            assert error["message"].startswith(f"{name} must be "), error
    await comm.send_json_to({"type": "ping", "id": "still"})
    assert await next_json(comm) == {"type": "pong", "id": "still"}


async def test_an_auth_message_with_an_unknown_field_is_refused_naming_it(tenant):
    comm = await connect(None)
    await comm.send_json_to({"type": "auth", "api_key": tenant.api_key, "remember": True})
    error = (await next_json(comm))["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "remember")
    assert await next_json(comm) == {"type": "close", "code": CLOSE_NOT_AUTHENTICATED}


@pytest.mark.parametrize("authenticated", [False, True])
async def test_deeply_nested_json_is_an_error_and_the_socket_lives(tenant, authenticated):
    comm = await connect(tenant.api_key if authenticated else None)
    if authenticated:
        await until(comm, "ready")
    await comm.send_to(text_data=DEEP)
    error = await next_json(comm)
    assert error["error"]["code"] == "invalid_json"
    assert str(MAX_JSON_DEPTH) in error["error"]["message"]
    if not authenticated:
        await comm.send_json_to({"type": "auth", "api_key": tenant.api_key})
        assert (await next_json(comm))["type"] == "ready"
    await comm.send_json_to({"type": "ping", "id": 3})
    assert await next_json(comm) == {"type": "pong", "id": 3}


# --- a crash still settles what was sent ----------------------------------------------------------


async def test_a_crash_mid_speech_records_the_usage_and_frees_the_slot(
    tenant, tts_worker, settings, monkeypatch
):
    settings.WS_SEND_AHEAD_MS = 300  # still speaking when the crash comes

    async def crash(self, message):
        raise RuntimeError("a bug in a handler")

    monkeypatch.setattr("synthesis.realtime.session.Session.flush", crash)
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "boom", "text": LONG})
    await first_audio(comm)
    await comm.send_json_to({"type": "flush"})
    with pytest.raises(RuntimeError, match="a bug in a handler"):
        await read_to_the_end(comm)  # the application ends with the crash: daphne closes 1011
    forget(comm)
    [record] = await usage_of(tenant)
    assert record.status == UsageRecord.Status.CANCELLED
    assert record.characters_billed > 0
    assert record.audio_seconds_delivered > 0
    assert await synthesis_leases(tenant) == 0
