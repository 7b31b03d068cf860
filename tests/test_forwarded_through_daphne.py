"""daphne behind a proxy (issue #14, points 10 and 11), over real sockets: the client is the
address a trusted proxy forwards, for the failed-authentication brake and the audit log alike,
and a forwarded value that is no address is answered normally, never with a 500."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tenants.models import AuditLog
from tests.conftest import Service, running_daphne
from tests.test_service import call

pytestmark = pytest.mark.django_db(transaction=True)

BAD_KEY = "cw_aaaaaaaaaaaa_" + "b" * 43


@pytest.fixture(scope="module")
def behind_a_proxy(django_db_setup: None, django_db_blocker: Any) -> Iterator[Service]:
    """daphne that trusts its loopback peer (this test) as the proxy; two failures a minute."""
    with (
        django_db_blocker.unblock(),
        running_daphne(TRUSTED_PROXIES="127.0.0.1", AUTH_FAILURE_LIMIT_PER_MINUTE="2") as service,
    ):
        yield service


def a_whole_window_ahead() -> None:
    """daphne's brake counts per clock minute: a burst begun in a minute's last seconds could
    straddle two windows. Waits those seconds out."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.1)


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"6.6.6.6, {address}"}  # a client-written entry, then the proxy's


def test_the_brake_counts_the_forwarded_client_not_the_proxy(behind_a_proxy, make_tenant):
    tenant = make_tenant("fwd-brake")
    me = f"{behind_a_proxy.url}/v1/me"
    office, neighbour = forwarded("203.0.113.50"), forwarded("203.0.113.51")
    a_whole_window_ahead()
    statuses = [call("GET", me, BAD_KEY, headers=office)[0] for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert call("GET", me, BAD_KEY, headers=neighbour)[0] == 401
    # The office's valid key still passes: a key that verifies is never braked.
    assert call("GET", me, tenant.api_key, headers=office)[0] == 200


def test_the_audit_log_records_the_forwarded_client_and_survives_garbage(
    behind_a_proxy, make_tenant
):
    tenant = make_tenant("fwd-audit")
    keys = f"{behind_a_proxy.url}/v1/keys"
    for header, recorded in [
        (forwarded("203.0.113.60"), "203.0.113.60"),
        ({"X-Forwarded-For": "not-an-ip"}, "127.0.0.1"),
        ({"X-Forwarded-For": "203.0.113.61, <script>"}, "127.0.0.1"),
    ]:
        status, _, body = call("POST", keys, tenant.api_key, {"name": "fwd"}, headers=header)
        assert status == 201, body
        entry = AuditLog.objects.get(action="api_key.create", target=f"api_key:{body['prefix']}")
        assert entry.ip == recorded


async def test_a_socket_is_braked_by_its_forwarded_client(behind_a_proxy):
    async def first_error(address: str) -> str:
        headers = {"X-API-Key": BAD_KEY, **forwarded(address)}
        async with connect(f"{behind_a_proxy.ws_url}/v1/stream", additional_headers=headers) as ws:
            return str(json.loads(await ws.recv())["error"]["code"])

    a_whole_window_ahead()
    codes = [await first_error("203.0.113.70") for _ in range(3)]
    assert codes == ["invalid_api_key", "invalid_api_key", "too_many_failed_attempts"]
    assert await first_error("203.0.113.71") == "invalid_api_key"
