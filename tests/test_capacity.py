"""A full service over HTTP and the socket (#15 point 2), on the real service and a real worker:
with every worker slot taken and no room to wait (`TTS_QUEUE_DEPTH=0`), a request is answered at
once with 503 `queue_full` and a `Retry-After`: the header over HTTP, `retry_after` in the
socket's `error`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from billing.models import UsageRecord
from conftest import start_worker, stop_worker
from synthesis.stream import JobStream
from synthesis.tests.test_worker import LONG, job
from tests.conftest import Service, running_daphne
from tests.synth import post

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def no_room_to_wait(django_db_setup: None, django_db_blocker: Any) -> Iterator[Service]:
    with django_db_blocker.unblock(), running_daphne(TTS_QUEUE_DEPTH="0") as service:
        yield service


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("full")


@pytest.fixture
async def every_slot_taken(worker_pool) -> AsyncIterator[None]:
    """The only Piper worker, with one slot, held by a job nobody reads."""
    worker_pool.stop_all()
    worker = start_worker(TTS_WORKER_MAX_JOBS="1")
    held = await JobStream.open(job(LONG, window=1))
    try:
        yield
    finally:
        await held.close()
        stop_worker(worker)


async def test_a_full_service_answers_http_with_503_and_retry_after(
    no_room_to_wait, tenant, every_slot_taken
):
    body = {"text": "Hello there."}
    answer = await asyncio.to_thread(
        post, no_room_to_wait.url, "/v1/synthesize", tenant.api_key, body
    )
    assert answer.status == 503
    assert answer.error()["code"] == "queue_full"
    assert answer.headers["retry-after"] == "2"
    # Refused after admission: its usage record exists (failed, billed 0), and the answer names it.
    record = await UsageRecord.objects.aget(synthesis_id=answer.headers["x-synthesis-id"])
    assert (record.status, record.error_code, record.characters_billed) == (
        UsageRecord.Status.FAILED,
        "queue_full",
        0,
    )


async def test_a_full_service_answers_the_socket_with_an_error_and_retry_after(
    no_room_to_wait, tenant, every_slot_taken
):
    url = f"{no_room_to_wait.ws_url}/v1/stream"
    async with connect(url, additional_headers={"X-API-Key": tenant.api_key}) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        start = {"type": "start", "context_id": "c1", "text": "Hello there."}
        await ws.send(json.dumps(start))
        await ws.send(json.dumps({"type": "end"}))
        while (message := json.loads(await asyncio.wait_for(ws.recv(), 30)))["type"] != "error":
            pass
    assert message.get("context_id") == "c1", message
    assert (message["error"]["type"], message["error"]["code"]) == ("api_error", "queue_full")
    assert message["error"]["retry_after"] == 2
