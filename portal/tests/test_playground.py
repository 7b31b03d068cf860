"""The playground: every role hears a voice through the same synthesis service (a real Piper
worker); bad input and CSRF are refused."""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient, Client

from billing.models import UsageRecord
from conftest import TenantFixture, WorkerProcess
from portal.access import SESSION_TENANT
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


# --- streaming: a one-time id for the session's member and tenant -----------------------------


def _prepare(client: Client, text: str = "Hello from the stream.") -> dict[str, Any]:
    response = client.post("/portal/playground/", {"text": text, "voice": "joe", "speed": "1.0"})
    assert response.status_code == 200, response.content[:300]
    body: dict[str, Any] = response.json()
    return body


async def _get(client: AsyncClient, url: str) -> tuple[int, dict[str, str], bytes]:
    response = await client.get(url)
    if response.streaming:
        body = b"".join([chunk async for chunk in response.streaming_content])  # type: ignore[attr-defined]
    else:
        body = response.content
    return response.status_code, dict(response.headers), body


def _streamer(client: Client) -> AsyncClient:
    streaming = AsyncClient()
    streaming.cookies = client.cookies
    return streaming


def test_the_stream_plays_once_for_its_member_and_is_billed_once(
    make_tenant: Callable[[str], TenantFixture],
    make_member: MakeMember,
    tts_worker: WorkerProcess,
) -> None:
    tenant = make_tenant("stream")
    member = make_member(tenant.tenant, role="member")
    client = signed_in(member)
    prepared = _prepare(client)
    url = prepared["stream_url"]
    assert url.startswith("/portal/playground/stream/")
    assert [s["text"] for s in prepared["preview"]["segments"]] == ["Hello from the stream."]

    colleague = signed_in(make_member(tenant.tenant, role="member"))  # same tenant, not theirs
    assert async_to_sync(_get)(_streamer(colleague), url)[0] == 404

    status, headers, audio = async_to_sync(_get)(_streamer(client), url)
    assert status == 200, audio[:300]
    assert headers["Content-Type"] == "audio/mpeg"
    assert len(audio) > 1000
    assert audio[:3] == b"ID3" or audio[0] == 0xFF
    synthesis_id = headers["X-Synthesis-ID"]

    assert async_to_sync(_get)(_streamer(client), url)[0] == 404  # used
    records = UsageRecord.objects.filter(synthesis_id=synthesis_id)
    assert records.count() == 1
    assert records.get().status == UsageRecord.Status.COMPLETED


def test_another_tenants_member_gets_a_404(
    tenant_a: TenantFixture, tenant_b: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant, role="member"))
    url = _prepare(client)["stream_url"]
    outsider = signed_in(make_member(tenant_b.tenant, role="owner"))
    assert outsider.get(url).status_code == 404
    # the same person working in another tenant of theirs
    both = make_member(tenant_a.tenant, tenant_b.tenant, role="owner")
    mine = signed_in(both)
    session = mine.session
    session[SESSION_TENANT] = tenant_a.tenant.pk
    session.save()
    url = _prepare(mine)["stream_url"]
    session[SESSION_TENANT] = tenant_b.tenant.pk
    session.save()
    assert mine.get(url).status_code == 404
    assert client.get("/portal/playground/stream/made-up/").status_code == 404


def test_an_expired_id_is_a_404(tenant_a: TenantFixture, make_member: MakeMember) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    url = _prepare(client)["stream_url"]
    cache.delete("portal:playground:stream:" + url.rstrip("/").rsplit("/", 1)[1])
    assert client.get(url).status_code == 404


def test_preparing_needs_the_csrf_token_and_valid_input(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    user = make_member(tenant_a.tenant)
    strict = signed_in(user, enforce_csrf_checks=True)
    data = {"text": "Hello.", "voice": "joe", "speed": "1.0"}
    assert strict.post("/portal/playground/", data).status_code == 403
    client = signed_in(user)
    response = client.post("/portal/playground/", {**data, "voice": "nobody"})
    assert response.status_code == 400
    response = client.post("/portal/playground/", {**data, "text": "<speak>Hi <oops/></speak>"})
    assert response.status_code == 400, response.content


TRICKY = 'She said "hi" \\ and left.\nNew line, it\'s $HOME and `date`.'


def test_the_snippets_send_the_same_request(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    response = client.post(
        "/portal/playground/",
        {"text": TRICKY, "voice": "joe", "speed": "1.25", "language": "en-GB"},
    )
    assert response.status_code == 200, response.content
    snippets = response.json()["snippets"]
    expected = {"text": TRICKY, "voice": "joe", "language": "en-GB", "format": "mp3", "speed": 1.25}

    words = shlex.split(snippets["curl"].replace("\\\n", " "))
    assert words[:3] == ["curl", "-N", "http://testserver/v1/synthesize"]
    assert json.loads(words[words.index("-d") + 1]) == expected
    assert "Authorization: Bearer $CALLWAITING_API_KEY" in words
    assert "cw_" not in json.dumps(snippets)

    python = snippets["python"]
    ast.parse(python)
    assert ast.literal_eval(python.split("body = ", 1)[1].split("\nheaders", 1)[0]) == expected
    assert "httpx.stream(" in python
    assert "iter_bytes" in python

    openai = snippets["openai"]
    tree = ast.parse(openai)
    call = next(
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and node.keywords
        and any(k.arg == "input" for k in node.keywords)
    )
    given = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    assert given["input"] == TRICKY
    assert given["voice"] == "joe"
    assert given["speed"] == 1.25
    assert "base_url='http://testserver/v1'" in openai


def test_the_chosen_format_reaches_the_request_and_every_snippet(
    tenant_a: TenantFixture, make_member: MakeMember
) -> None:
    client = signed_in(make_member(tenant_a.tenant))
    response = client.post(
        "/portal/playground/", {"text": "Hi.", "voice": "joe", "speed": "1.0", "format": "opus"}
    )
    assert response.status_code == 200, response.content
    snippets = response.json()["snippets"]
    words = shlex.split(snippets["curl"].replace("\\\n", " "))
    assert json.loads(words[words.index("-d") + 1])["format"] == "opus"
    assert words[-1] == "speech.opus"
    assert "open('speech.opus'" in snippets["python"]
    assert "response_format='opus'" in snippets["openai"]
    refused = client.post(
        "/portal/playground/", {"text": "Hi.", "voice": "joe", "speed": "1.0", "format": "mulaw"}
    )
    assert refused.status_code == 400  # not playable in a browser
    assert refused.json()["error"]["message"].startswith("format")
