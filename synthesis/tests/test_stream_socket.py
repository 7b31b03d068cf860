from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from callwaiting_tts.asgi import application
from callwaiting_tts_client.protocol import (
    CLOSE_AUTH_TIMEOUT,
    CLOSE_FORBIDDEN,
    CLOSE_NOT_AUTHENTICATED,
)
from tenants.audit import Actor
from tenants.db import tenant_schema
from tenants.services import tenant_suspend
from voices.models import Voice

pytestmark = pytest.mark.django_db(transaction=True)


_open: list[WebsocketCommunicator] = []


def communicator(headers=None, subprotocols=None, path="/v1/stream"):
    encoded = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    comm = WebsocketCommunicator(application, path, headers=encoded, subprotocols=subprotocols)
    _open.append(comm)
    return comm


@pytest.fixture(autouse=True)
async def _disconnect_every_socket():
    """Ends every socket's application task inside the test, whatever the test did: a consumer
    task still pending when the event loop is torn down gets cancelled there instead, and a test
    that fails mid-way should not leave the next one to clean up after it."""
    yield
    while _open:
        comm = _open.pop()
        await comm.disconnect(timeout=5)


async def expect_close(comm, code):
    message = await comm.receive_output(timeout=5)
    assert message == {"type": "websocket.close", "code": code}


async def expect_error(comm, code):
    message = await comm.receive_json_from(timeout=5)
    assert message["type"] == "error"
    assert set(message["error"]) == {"type", "code", "message", "param", "request_id"}
    assert message["error"]["code"] == code
    return message["error"]


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("sock")


async def test_it_authenticates_from_a_header(tenant):
    for name, value in (
        ("Authorization", f"Bearer {tenant.api_key}"),
        ("X-API-Key", tenant.api_key),
        ("xi-api-key", tenant.api_key),
    ):
        comm = communicator({name: value})
        connected, _ = await comm.connect()
        assert connected
        ready = await comm.receive_json_from(timeout=5)
        assert ready["type"] == "ready"
        assert ready["tenant"] == tenant.tenant.slug
        assert ready["api_key"] == tenant.api_key.split("_")[1]
        await comm.disconnect()


async def test_it_authenticates_from_a_browser_subprotocol(tenant):
    comm = communicator(subprotocols=["callwaiting-tts", f"cw-key.{tenant.api_key}"])
    connected, subprotocol = await comm.connect()
    assert connected
    assert subprotocol == "callwaiting-tts"
    assert (await comm.receive_json_from(timeout=5))["type"] == "ready"
    await comm.disconnect()


async def test_it_authenticates_from_the_first_message(tenant):
    comm = communicator(path="/v1/stream/")
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "auth", "api_key": tenant.api_key})
    ready = await comm.receive_json_from(timeout=5)
    assert ready["type"] == "ready"
    await comm.send_json_to({"type": "ping", "id": 7})
    assert await comm.receive_json_from(timeout=5) == {"type": "pong", "id": 7}
    await comm.disconnect()


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer cw_aaaaaaaaaaaa_" + "b" * 43},
        {"Authorization": "Basic abc"},
        {"X-API-Key": "junk"},
    ],
)
async def test_a_bad_header_key_is_accepted_then_closed_4401(tenant, headers):
    comm = communicator(headers)
    connected, _ = await comm.connect()
    assert connected  # accepted first, so the client sees the close code, not a bare 403
    basic = headers.get("Authorization", "").startswith("Basic")
    error = await expect_error(comm, "invalid_authorization_header" if basic else "invalid_api_key")
    assert error["type"] == "authentication_error"
    await expect_close(comm, CLOSE_NOT_AUTHENTICATED)


async def test_a_first_message_that_is_not_auth_closes_4401(tenant):
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "speak", "text": "hello"})
    await expect_error(comm, "missing_api_key")
    await expect_close(comm, CLOSE_NOT_AUTHENTICATED)


async def test_a_wrong_first_message_key_closes_4401(tenant):
    comm = communicator()
    await comm.connect()
    await comm.send_json_to({"type": "auth", "api_key": tenant.api_key[:-2] + "xx"})
    await expect_error(comm, "invalid_api_key")
    await expect_close(comm, CLOSE_NOT_AUTHENTICATED)


async def test_no_key_within_the_timeout_closes_4408(tenant, settings):
    settings.WS_AUTH_TIMEOUT_SECONDS = 0.2
    comm = communicator()
    await comm.connect()
    await expect_error(comm, "auth_timeout")
    await expect_close(comm, CLOSE_AUTH_TIMEOUT)


async def test_a_suspended_tenant_is_closed_4403(tenant):
    await database_sync_to_async(tenant_suspend)(tenant=tenant.tenant, by=Actor.system())
    comm = communicator({"X-API-Key": tenant.api_key})
    await comm.connect()
    await expect_error(comm, "tenant_suspended")
    await expect_close(comm, CLOSE_FORBIDDEN)


async def test_a_key_without_the_synthesize_scope_is_closed_4403(tenant):
    raw = await database_sync_to_async(tenant.key_with)("voices:read")
    comm = communicator({"X-API-Key": raw})
    await comm.connect()
    await expect_error(comm, "insufficient_scope")
    await expect_close(comm, CLOSE_FORBIDDEN)


async def test_bad_messages_get_errors_and_keep_the_socket(tenant):
    comm = communicator({"X-API-Key": tenant.api_key})
    await comm.connect()
    await comm.receive_json_from(timeout=5)
    await comm.send_to(text_data="{not json")
    await expect_error(comm, "invalid_json")
    await comm.send_to(text_data="[1, 2]")
    await expect_error(comm, "invalid_message")
    await comm.send_to(bytes_data=b"\x00\x01")
    await expect_error(comm, "invalid_message")
    await comm.send_json_to({"type": "nonsense"})
    assert (await expect_error(comm, "unknown_message_type"))["param"] == "type"
    await comm.send_json_to({"type": "ping"})
    assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
    await comm.disconnect()


@pytest.fixture
def owner_and_outsider(make_tenant):
    owner, outsider = make_tenant("own"), make_tenant("out")
    with tenant_schema(owner.tenant.schema_name):
        Voice.objects.create(name="Mine", base_voice="joe")
    return owner, outsider


async def test_outsider_socket_sees_only_its_own_tenant(owner_and_outsider):
    owner, outsider = owner_and_outsider
    comm = communicator({"X-API-Key": outsider.api_key})
    await comm.connect()
    ready = await comm.receive_json_from(timeout=5)
    assert ready["tenant"] == outsider.tenant.slug
    assert ready["voices"] == 0
    await comm.disconnect()
    comm = communicator({"X-API-Key": owner.api_key})
    await comm.connect()
    assert (await comm.receive_json_from(timeout=5))["voices"] == 1
    await comm.disconnect()
