"""Every synthesis ends with one structured log line (#17, point 3): what a support question
("why was call X slow") needs, in one grep for the request id."""

from __future__ import annotations

import logging

import pytest

from synthesis.api import responses
from synthesis.services import synthesis_start
from synthesis.tests.test_usage_durability import SENTENCES, http_input
from tenants.auth import authenticate_api_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def who(make_tenant):
    return authenticate_api_key(make_tenant("finish-log").api_key)


def _finished_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "synthesis finished"]


async def test_a_synthesis_ends_with_one_line_saying_how_long_its_first_audio_took(
    who, tts_worker, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="synthesis.services")
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="req_log")
    assert await responses.whole_audio(synthesis)
    (line,) = _finished_lines(caplog)
    fields = line.__dict__
    assert fields["synthesis_id"] == str(synthesis.id)
    assert (fields["source"], fields["engine"], fields["voice"]) == ("http", "piper", "joe")
    assert (fields["format"], fields["status"], fields["error_code"]) == ("pcm", "completed", "")
    assert fields["characters"] == len(SENTENCES)
    assert fields["audio_seconds"] > 0.5
    # From admission to the whole file's going out: a real worker's synthesis takes time.
    assert isinstance(fields["first_audio_ms"], int)
    assert fields["first_audio_ms"] > 0


async def test_a_synthesis_that_sent_no_audio_says_so(who, tts_worker, caplog) -> None:
    from channels.db import database_sync_to_async

    from synthesis.services import synthesis_finish

    caplog.set_level(logging.INFO, logger="synthesis.services")
    synthesis = await synthesis_start(principal=who, data=http_input(), request_id="req_none")
    assert synthesis.stream is not None
    await synthesis.stream.close()  # the client went away before any audio
    await database_sync_to_async(synthesis_finish)(synthesis, status="cancelled")
    (line,) = _finished_lines(caplog)
    assert line.__dict__["first_audio_ms"] is None
    assert line.__dict__["status"] == "cancelled"
