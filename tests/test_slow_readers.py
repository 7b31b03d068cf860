"""Slow readers (issue #13, point 8): daphne applies no backpressure, so a client that reads
nothing once made the web process hold the whole synthesis. Now a streamed response waits while
its connection holds more than TTS_RESPONSE_BUFFER_BYTES unsent (the job pauses at its worker),
and ends with `slow_reader` once the reader takes nothing for TTS_SLOW_READER_SECONDS, with a
usage record of what was delivered. A whole-file answer holds a bounded amount of audio."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.sync.client import connect as ws_connect

from billing.models import UsageRecord
from tests.conftest import Service, running_daphne
from tests.synth import post

pytestmark = pytest.mark.django_db(transaction=True)

# About 160 s of speech: 15 MB of 48 kHz PCM, far more than the kernel's socket buffers hold.
TEXT = " ".join(
    f"Item {n}: your parcel left our depot this morning and reaches you before noon."
    for n in range(30)
)


@pytest.fixture(scope="module")
def slow_service(django_db_setup: None, django_db_blocker: Any) -> Iterator[Service]:
    with (
        django_db_blocker.unblock(),
        running_daphne(
            TTS_SLOW_READER_SECONDS="2",
            TTS_RESPONSE_BUFFER_BYTES="65536",
            TTS_MAX_WHOLE_AUDIO_SECONDS="20",
            WS_SEND_AHEAD_MS="600000",  # the socket sends as fast as audio is made
        ) as service,
    ):
        yield service


def wait_for_record(tenant_id: int, timeout: float = 90.0) -> UsageRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = UsageRecord.objects.filter(tenant_id=tenant_id).exclude(status="open").first()
        if record is not None:
            return record
        time.sleep(0.25)
    raise AssertionError("the synthesis was never recorded")


def small_window(url: str) -> socket.socket:
    """A connection with a small receive window: what the kernel absorbs stays small next to
    the synthesis."""
    parts = urlsplit(url)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect((parts.hostname, parts.port))
    return client


def assert_ended_early(record: UsageRecord) -> None:
    """Ended for its slow reader, the job paused rather than run to its end into the web
    process's memory: far less than the text's ~160 s of audio was made (what the socket
    buffers took, the response bound, the credit window), billed for what was delivered."""
    assert (record.status, record.error_code) == ("failed", "slow_reader")
    assert 0 < record.audio_seconds_synthesized < 60, record.audio_seconds_synthesized
    assert 0 < record.characters_billed < len(TEXT)


def test_a_client_that_reads_nothing_pauses_the_job_and_is_ended(
    slow_service, make_tenant, tts_worker
):
    tenant = make_tenant("slow")
    client = small_window(slow_service.url)
    body = json.dumps({"text": TEXT, "format": "pcm", "sample_rate": 48000}).encode()
    client.sendall(
        b"POST /v1/synthesize HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {tenant.api_key}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    try:
        record = wait_for_record(tenant.tenant.pk)  # and read nothing meanwhile
    finally:
        client.close()
    assert_ended_early(record)


def test_a_socket_that_reads_nothing_pauses_its_context_and_ends_it(
    slow_service, make_tenant, tts_worker
):
    tenant = make_tenant("slowws")
    with ws_connect(
        f"{slow_service.ws_url}/v1/stream",
        sock=small_window(slow_service.ws_url),
        additional_headers={"X-API-Key": tenant.api_key},
        max_queue=1,  # the client library stops reading once one message waits
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
        start = {"type": "start", "context_id": "a", "format": "pcm", "sample_rate": 48000}
        ws.send(json.dumps({**start, "text": TEXT}))
        ws.send(json.dumps({"type": "end", "context_id": "a"}))
        record = wait_for_record(tenant.tenant.pk)  # reading nothing meanwhile
    assert_ended_early(record)


def test_a_whole_file_answer_past_its_audio_bound_is_refused_before_any_byte(
    slow_service, make_tenant, tts_worker
):
    tenant = make_tenant("whole")
    answer = post(
        slow_service.url, "/v1/synthesize", tenant.api_key, {"text": TEXT, "stream": False}
    )
    assert answer.status == 413
    assert answer.error()["code"] == "response_too_large"
    record = UsageRecord.objects.get(tenant_id=tenant.tenant.pk)
    assert (record.status, record.characters_billed) == ("failed", 0)
