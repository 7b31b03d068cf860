"""The real service: daphne over real sockets, HTTP and WebSocket, on the test database."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

pytestmark = pytest.mark.django_db(transaction=True)


def call(method, url, key=None, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_http_through_daphne(service, make_tenant, tts_worker):
    owner, outsider = make_tenant("e2e-own"), make_tenant("e2e-out")
    status, headers, body = call("GET", f"{service.url}/v1/health")
    assert (status, body["status"]) == (200, "ok")
    assert headers["X-Request-ID"].startswith("req_")

    status, _, voice = call(
        "POST", f"{service.url}/v1/voices/", owner.api_key, {"name": "Desk", "base_voice": "joe"}
    )
    assert status == 201
    status, _, listed = call("GET", f"{service.url}/v1/voices", owner.api_key)
    assert [v["id"] for v in listed["voices"] if v["type"] == "preset"] == [voice["id"]]

    status, _, body = call("GET", f"{service.url}/v1/voices/{voice['id']}", outsider.api_key)
    assert (status, body["error"]["code"]) == (404, "not_found")
    status, _, body = call("GET", f"{service.url}/v1/voices", "cw_nope")
    assert (status, body["error"]["type"]) == (401, "authentication_error")
    status, _, body = call("GET", f"{service.url}/v1/nowhere")
    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("e2e-ws")


async def test_websocket_through_daphne(service, tenant):
    async with connect(
        f"{service.ws_url}/v1/stream", additional_headers={"X-API-Key": tenant.api_key}
    ) as ws:
        ready = json.loads(await ws.recv())
        assert (ready["type"], ready["tenant"]) == ("ready", tenant.tenant.slug)
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert json.loads(await ws.recv()) == {"type": "pong", "id": 1}

    async with connect(
        f"{service.ws_url}/v1/stream",
        subprotocols=[Subprotocol("callwaiting-tts"), Subprotocol(f"cw-key.{tenant.api_key}")],
    ) as ws:
        assert ws.subprotocol == "callwaiting-tts"
        assert json.loads(await ws.recv())["type"] == "ready"


async def test_a_rejected_websocket_reaches_the_client_as_a_close_code(service, tenant):
    async with connect(
        f"{service.ws_url}/v1/stream", additional_headers={"X-API-Key": "cw_bad"}
    ) as ws:
        error = json.loads(await ws.recv())
        assert error["error"]["code"] == "invalid_api_key"
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
