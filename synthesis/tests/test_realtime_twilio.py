"""`output: twilio`: what the socket sends can be forwarded to Twilio unchanged. Twilio takes
`media`, `mark` and `clear` from the application and refuses anything else, so by default only
those go out; the service's own messages only with `service_events: true`; an error, which
Twilio would refuse, closes the socket instead (4000 + its HTTP status). In-process, with real
Redis and a real worker."""

from __future__ import annotations

import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from billing.models import UsageRecord
from synthesis.realtime.telephony import TWILIO_OUTBOUND_EVENTS
from synthesis.tests.sockets import (
    connect,
    disconnect_every_socket,  # noqa: F401  (autouse)
    eventually,
    next_json,
    until,
)

pytestmark = pytest.mark.django_db(transaction=True)

SID = "MZ0123456789abcdef"
SSML = '<speak>Hello <mark name="m1"/>caller, thanks for holding.</speak>'
# The keys of each message Twilio takes (Media Streams: messages to Twilio).
TWILIO_SHAPES = {
    "media": {"event", "streamSid", "media"},
    "mark": {"event", "streamSid", "mark"},
    "clear": {"event", "streamSid"},
}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("twilio")


async def everything_until_closed(comm: WebsocketCommunicator) -> tuple[list, int]:
    """Every frame the socket sends (JSON decoded, binary as bytes) and its close code."""
    frames: list = []
    deadline = time.monotonic() + 30
    while True:
        out = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
        if out["type"] == "websocket.close":
            return frames, out["code"]
        text = out.get("text")
        frames.append(json.loads(text) if text is not None else out.get("bytes"))


def twilio_start(**extra) -> dict:
    return {"type": "start", "output": "twilio", "stream_sid": SID, **extra}


async def test_twilio_output_sends_nothing_but_twilio_media_streams_messages(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(twilio_start(context_id="tw", ssml=SSML))
    frames = []
    while not frames or frames[-1] != {"event": "mark", "streamSid": SID, "mark": {"name": "m1"}}:
        out = await comm.receive_output(timeout=20)
        frames.append(json.loads(out["text"]) if out.get("text") is not None else out)
    await comm.send_json_to({"type": "cancel"})  # barge-in: Twilio is told to drop its audio
    await comm.send_json_to({"type": "ping", "id": 1})  # a pong is no Twilio message
    await comm.send_json_to({"type": "text", "text": "More.", "context_id": "tw"})  # refused
    rest, code = await everything_until_closed(comm)
    frames += rest
    for frame in frames:
        assert isinstance(frame, dict), frame  # no binary frame
        assert frame.get("event") in TWILIO_OUTBOUND_EVENTS, frame
        assert set(frame) == TWILIO_SHAPES[frame["event"]], frame
        assert frame["streamSid"] == SID
    assert frames[0]["event"] == "media"  # the words before the mark
    assert frames[-1] == {"event": "clear", "streamSid": SID}
    # The refused `text` (context_closed, a 409) cannot be an `error` message: it closes.
    assert code == 4409


async def test_with_service_events_the_services_own_messages_come_too(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(twilio_start(context_id="tw", ssml=SSML, service_events=True))
    messages = []
    while (message := await next_json(comm)).get("type") != "done":
        messages.append(message)
    assert messages[0] == {
        "type": "started",
        "context_id": "tw",
        "format": "mulaw",
        "sample_rate": 8000,
    }
    assert any(m.get("event") == "media" for m in messages)
    assert {"event": "mark", "streamSid": SID, "mark": {"name": "m1"}} in messages
    assert [m["name"] for m in messages if m.get("type") == "mark"] == ["m1"]
    await comm.send_json_to({"type": "text", "text": "More.", "context_id": "tw"})
    assert (await next_json(comm))["error"]["code"] == "context_closed"
    await comm.send_json_to({"type": "ping", "id": 2})
    assert await next_json(comm) == {"type": "pong", "id": 2}


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (twilio_start(voice="nobody"), 4400),  # unknown_voice: a 400
        (twilio_start(fromat="wav"), 4400),  # malformed
        ({"type": "start", "output": "twilio"}, 4400),  # no stream_sid
    ],
)
async def test_a_refused_twilio_start_closes_the_socket_without_an_error_message(
    tenant, start, code
):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(start)
    assert await everything_until_closed(comm) == ([], code)


async def test_a_start_with_other_output_takes_the_socket_out_of_twilio_only_mode(tenant):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(twilio_start(context_id="tw"))
    await comm.send_json_to({"type": "start", "context_id": "raw"})
    started = await next_json(comm)
    assert (started["type"], started["context_id"]) == ("started", "raw")
    await comm.send_json_to({"type": "nonsense"})
    assert (await next_json(comm))["error"]["code"] == "unknown_message_type"


async def test_a_twilio_only_context_that_fails_closes_the_socket_and_is_settled(tenant, settings):
    settings.WS_CONTEXT_IDLE_TIMEOUT_SECONDS = 0.5
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(twilio_start(context_id="quiet"))
    # context_idle_timeout, a 408, from the socket's once-a-second tick
    assert await everything_until_closed(comm) == ([], 4408)
    assert await eventually(lambda: failed_with(tenant, "context_idle_timeout"))


async def failed_with(tenant, error_code: str) -> bool:
    records = await database_sync_to_async(
        lambda: list(UsageRecord.objects.filter(tenant_id=tenant.tenant.pk, source="websocket"))
    )()
    return [(r.status, r.error_code) for r in records] == [(UsageRecord.Status.FAILED, error_code)]
