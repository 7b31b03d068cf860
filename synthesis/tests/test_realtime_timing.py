"""Word timings on the socket (`timestamps: "word"`) and the text spoken at a barge-in
(`cancelled.text_spoken`, to the client's `played_ms`), raw and on Twilio's `clear`. In-process,
with real Redis and a real worker."""

from __future__ import annotations

import itertools
import json

import pytest

from synthesis.tests.sockets import (
    connect,
    disconnect_every_socket,  # noqa: F401  (autouse)
    next_json,
    until,
)

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "Thanks for calling Riverside Dental, your balance is $42.50. Please hold for an agent."
# Long enough that a paced context is still playing when the barge-in comes.
LONG = " ".join(f"Sentence number {n} keeps the caller listening a while." for n in range(12))


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("wstiming")


async def words_until(comm, kind: str) -> tuple[list[dict], int, dict]:
    """The `words` messages' words, the audio bytes received, and the first `kind` message."""
    words: list[dict] = []
    audio = 0
    while True:
        out = await comm.receive_output(timeout=30)
        if out.get("bytes") is not None:
            audio += len(out["bytes"])
            continue
        message = json.loads(out["text"])
        if message["type"] == "words":
            words += message["words"]
        if message["type"] == kind:
            return words, audio, message


async def test_words_come_after_each_segments_audio_as_written(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(
        {"type": "start", "context_id": "w", "timestamps": "word", "sample_rate": 22050}
    )
    await comm.send_json_to({"type": "text", "text": TEXT})
    await comm.send_json_to({"type": "end"})
    words, audio, done = await words_until(comm, "done")
    assert [w["word"] for w in words] == TEXT.split()
    for before, after in itertools.pairwise(words):
        assert before["start_ms"] < before["end_ms"] <= after["start_ms"]
    assert words[-1]["end_ms"] < done["audio_ms"] <= audio / 2 * 1000 / 22050 + 1


async def test_a_barge_in_reports_the_text_heard_to_the_played_point(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    start = {"type": "start", "context_id": "b", "timestamps": "word", "pacing": "realtime"}
    await comm.send_json_to({**start, "text": LONG + " "})
    words: list[dict] = []
    while len(words) < 12:  # the first two sentences were sent
        message = await until(comm, "words")
        words += message["words"]
    played_ms = words[8]["end_ms"]  # the client played up to the end of the ninth word
    await comm.send_json_to({"type": "cancel", "played_ms": played_ms})
    cancelled = await until(comm, "cancelled")
    assert cancelled["text_spoken"] == " ".join(LONG.split()[:9])
    assert cancelled["audio_ms_sent"] > played_ms


async def test_a_cancel_without_a_playback_point_counts_the_audio_sent(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    start = {"type": "start", "context_id": "c", "timestamps": "word", "pacing": "realtime"}
    await comm.send_json_to({**start, "text": LONG + " "})
    first = (await until(comm, "words"))["words"]
    await comm.send_json_to({"type": "cancel", "context_id": "c"})
    cancelled = await until(comm, "cancelled")
    spoken = cancelled["text_spoken"].split()
    assert spoken[: len(first)] == [w["word"] for w in first]  # its audio was all sent
    assert spoken == LONG.split()[: len(spoken)]
    assert len(spoken) < len(LONG.split())


async def test_a_playback_point_that_is_no_count_of_milliseconds_is_refused(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to({"type": "start", "context_id": "n", "pacing": "realtime"})
    await comm.send_json_to({"type": "cancel", "context_id": "n", "played_ms": -5})
    error = await until(comm, "error")
    assert error["error"]["param"] == "played_ms"
    await comm.send_json_to({"type": "cancel", "context_id": "n", "played_ms": 1.5})
    error = await until(comm, "error")
    assert error["error"]["param"] == "played_ms"  # an integer, not a float
    await comm.send_json_to({"type": "start", "timestamps": "phoneme"})
    error = await until(comm, "error")
    assert error["error"]["param"] == "timestamps"


async def test_twilios_clear_reports_the_text_spoken_with_the_cancelled(tenant, tts_worker):
    comm = await connect(tenant.api_key)
    await until(comm, "ready")
    await comm.send_json_to(
        {
            "type": "start",
            "context_id": "tw",
            "output": "twilio",
            "stream_sid": "MZ1",
            "service_events": True,
            "pacing": "realtime",
            "timestamps": "word",
            "text": LONG + " ",
        }
    )
    words = (await service_message(comm, "words"))["words"]
    await comm.send_json_to({"event": "clear", "streamSid": "MZ1"})
    cancelled = await service_message(comm, "cancelled")
    spoken = cancelled["text_spoken"].split()
    assert spoken[: len(words)] == [w["word"] for w in words]  # the first sentence was sent
    assert spoken == LONG.split()[: len(spoken)]
    assert (await next_json(comm))["event"] == "clear"


async def service_message(comm, kind: str) -> dict:
    """The next of the service's own messages of type `kind`, past Twilio's `media`."""
    while True:
        message = await next_json(comm, 30)
        if message.get("type") == kind:
            return message
