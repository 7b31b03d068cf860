"""What a plan does not include is refused before any work: another format or engine (403), an
input over the plan's length (400); on HTTP and at a socket's `start`. Nothing is billed."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from billing.limits import forget_limits
from billing.models import TenantPlanOverride, UsageRecord
from callwaiting_tts.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def narrow(make_tenant):
    tenant = make_tenant("narrow")
    TenantPlanOverride.objects.create(
        tenant=tenant.tenant, allowed_formats=["pcm", "mulaw"], max_input_characters=20
    )
    forget_limits(tenant.tenant.pk)
    yield tenant
    forget_limits(tenant.tenant.pk)


def test_http_refuses_a_format_or_a_length_the_plan_lacks(api, narrow):
    client = api(narrow.api_key)
    answer = client.post(
        "/v1/synthesize", {"text": "Hello.", "format": "mp3"}, content_type="application/json"
    )
    assert answer.status_code == 403, answer.content
    assert (answer.json()["error"]["code"], answer.json()["error"]["param"]) == (
        "format_not_in_plan",
        "format",
    )
    answer = client.post(
        "/v1/synthesize",
        {"text": "This sentence is longer than twenty characters.", "format": "pcm"},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "input_too_long"
    assert "20" in answer.json()["error"]["message"]
    assert not UsageRecord.objects.filter(tenant=narrow.tenant).exists()


def test_an_ssml_alias_counts_toward_the_plans_length(api, narrow):
    # 1 character of text inside, 30 spoken: the plan's 20 are passed.
    ssml = '<speak><sub alias="thirty characters of an alias">x</sub></speak>'
    answer = api(narrow.api_key).post(
        "/v1/synthesize", {"ssml": ssml, "format": "pcm"}, content_type="application/json"
    )
    assert answer.status_code == 400, answer.content
    assert (answer.json()["error"]["code"], answer.json()["error"]["param"]) == (
        "input_too_long",
        "ssml",
    )
    assert not UsageRecord.objects.filter(tenant=narrow.tenant).exists()


async def test_a_socket_start_with_a_format_the_plan_lacks_is_refused(narrow):
    comm = WebsocketCommunicator(
        application, "/v1/stream", headers=[(b"x-api-key", narrow.api_key.encode())]
    )
    try:
        connected, _ = await comm.connect()
        assert connected
        assert (await comm.receive_json_from(timeout=5))["type"] == "ready"
        await comm.send_json_to({"type": "start", "context_id": "a", "format": "alaw"})
        error = await comm.receive_json_from(timeout=5)
        assert (error["context_id"], error["error"]["code"]) == ("a", "format_not_in_plan")
        # The same type as on HTTP: the error body is built by one function for both.
        assert error["error"]["type"] == "permission_error"
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from(timeout=5))["type"] == "pong"
    finally:
        await comm.disconnect(timeout=5)
    assert not await database_sync_to_async(
        UsageRecord.objects.filter(tenant=narrow.tenant).exists
    )()
