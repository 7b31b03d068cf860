"""The playground: every role hears a voice through the same synthesis service (a real Piper
worker); bad input and CSRF are refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import TenantFixture, WorkerProcess
from portal.tests.conftest import MakeMember, assert_strict_page, signed_in

pytestmark = pytest.mark.django_db


def test_it_shows_the_playground_to_every_role(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    html = assert_strict_page(client.get("/portal/playground/"))
    assert 'for="id_text"' in html
    assert 'value="joe"' in html


def test_a_member_hears_a_stock_voice(
    make_tenant: Callable[[str], TenantFixture],
    make_member: MakeMember,
    tts_worker: WorkerProcess,
) -> None:
    # Committed data: the synthesis service reads through database threads, as under daphne.
    tenant = make_tenant("play")
    client = signed_in(make_member(tenant.tenant, role="member"))
    data = {"text": "Hello from the playground.", "voice": "joe", "speed": "1.0"}
    response = client.post("/portal/playground/speak/", data)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "audio/mpeg"
    assert len(response.content) > 1000


def test_it_refuses_an_unknown_voice(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    data = {"text": "Hello.", "voice": "nobody", "speed": "1.0"}
    response = client.post("/portal/playground/speak/", data)
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("voice:")


def test_speaking_needs_the_csrf_token(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant), enforce_csrf_checks=True)
    data = {"text": "Hello.", "voice": "joe", "speed": "1.0"}
    assert client.post("/portal/playground/speak/", data).status_code == 403
