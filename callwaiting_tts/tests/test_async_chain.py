"""Under daphne (an async chain) the middleware costs no thread round trip per hook, browser-only
middleware is skipped on the API's paths, and the audio endpoints run on the event loop
(`callwaiting_tts.async_middleware`, `callwaiting_tts.async_views`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from asgiref import sync
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from conftest import TenantFixture
from tests.conftest import ROOT, service_env


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What each request sends to a thread (`sync_to_async`), by name."""
    seen: list[str] = []
    original = sync.SyncToAsync.__call__

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return seen


@pytest.fixture
def tenant(make_tenant: Callable[[str], TenantFixture]) -> TenantFixture:
    return make_tenant("chain")


async def test_an_api_request_crosses_to_a_thread_only_for_its_view(
    tenant: TenantFixture, hops: list[str]
) -> None:
    client = AsyncClient()
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    assert (await client.get("/v1/me", headers=auth)).status_code == 200  # imports, pools
    hops.clear()
    response = await client.get("/v1/me", headers=auth)
    assert response.status_code == 200
    # Django's own (the request_started signal's receivers, the JSON's render, the response's
    # close with request_finished's) and the view (a synchronous DRF view): with Django's
    # MiddlewareMixin each hook of the chain's middleware was one more, 20 for this request.
    assert len(hops) <= 4, hops
    assert response["X-Request-ID"].startswith("req_")
    assert response["X-Content-Type-Options"] == "nosniff"  # Security, inline
    assert "Set-Cookie" not in response  # no session, no CSRF cookie on the API


async def test_the_audio_endpoint_refuses_on_the_event_loop(
    tenant: TenantFixture, hops: list[str]
) -> None:
    client = AsyncClient()
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    body = {"text": "Hello.", "cache": "yes please"}
    first = await client.post("/v1/synthesize", body, content_type="application/json", headers=auth)
    assert first.status_code == 400
    hops.clear()
    response = await client.post(
        "/v1/synthesize", body, content_type="application/json", headers=auth
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "cache"
    # Authentication (one thread), the refusal's answer (one), Django's signals: not the
    # whole view in a thread with the service called back on the loop.
    assert any("initial" in name for name in hops), hops
    assert not any("as_view" in name for name in hops), hops  # the view is not in a thread


async def test_portal_pages_keep_sessions_csrf_and_their_headers_under_asgi(
    tenant: TenantFixture,
) -> None:
    response = await AsyncClient().get("/portal/sign-in/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies  # CSRF runs off the API
    assert response["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response["Content-Security-Policy"]


async def test_the_same_api_request_in_a_sync_chain_answers_alike(tenant: TenantFixture) -> None:
    """The test client (a synchronous chain) runs the same middleware."""

    def get() -> Any:
        return Client().get("/v1/me", headers={"Authorization": f"Bearer {tenant.api_key}"})

    response = await sync_to_async(get)()
    assert response.status_code == 200
    assert response["X-Request-ID"].startswith("req_")
    assert "Set-Cookie" not in response


def test_daphnes_application_starts_a_request_without_a_thread() -> None:
    """`callwaiting_tts.asgi` (what daphne serves) leaves the request_started signal without
    Django's connection receivers, whose run in a thread cost every request a round trip (a new
    request thread has no connection to close). In a process of its own: Django's test client
    connects them again around each of its requests."""
    code = (
        "import callwaiting_tts.asgi\n"
        "from django.core.signals import request_started\n"
        "from django.db import close_old_connections, reset_queries\n"
        "print(request_started.disconnect(close_old_connections),"
        " request_started.disconnect(reset_queries))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=service_env(), capture_output=True, text=True,
        timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "False"]  # neither was still connected
