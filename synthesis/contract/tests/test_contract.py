"""The web↔worker contract on its own: what crosses Redis comes back as it went."""

from __future__ import annotations

import pytest

from synthesis.contract import messages
from synthesis.contract.jobs import Job, WorkerStatus
from synthesis.contract.keys import Keys
from synthesis.contract.plan import engine_segments
from synthesis.contract.segments import (
    AUDIO_BASE_SECONDS,
    AUDIO_SECONDS_PER_CHARACTER,
    MIN_SPEED,
    Chunk,
    ConditioningRef,
    Segment,
)
from synthesis.text.frontend import prepare


def test_a_job_survives_the_trip_through_msgpack() -> None:
    job = Job(
        job_id="j1",
        reply="r",
        engine="piper",
        voice="joe",
        segments=[Segment("Hello.", language="en-US", parts=(("ipa", "həˈloʊ"),))],
        window=4,
        deadline=123.5,
        schema_name="t_acme",
        conditioning=ConditioningRef("v1", 2, "tenants/acme/voices/v1/2/conditioning.pt"),
        meta={"tenant": "acme"},
    )
    back = Job.from_message(messages.unpack(messages.pack(job.to_message())))
    assert back == job
    assert back.schema_name == "t_acme"  # the worker's way to the tenant


def test_a_job_from_an_older_web_process_has_no_schema() -> None:
    message = Job("j", "r", "piper", "joe", [Segment("Hi.")], 4, 1.0).to_message()
    del message["schema_name"]
    assert Job.from_message(message).schema_name == ""


def test_names_carry_the_prefix_they_are_given() -> None:
    keys = Keys("cwtts:x")
    assert keys.reply("j") == "cwtts:x:tts:reply:j"
    assert keys.heartbeat("w") == "cwtts:x:tts:worker:w"
    assert keys.workers("piper") == "cwtts:x:tts:workers:piper"
    assert keys.claim("j") == "cwtts:x:tts:claim:j"
    assert keys.control("w") == "cwtts:x:tts:control:w"
    assert keys.queue("w") == "cwtts:x:tts:queue:w"
    assert keys.slots("w") == "cwtts:x:tts:slots:w"
    assert keys.waiting("piper") == "cwtts:x:tts:waiting:piper"


def test_worker_status_round_trip() -> None:
    status = WorkerStatus("w", "piper", 1, "h", 2, 22050, capacity=6)
    assert WorkerStatus.loads(status.dumps()) == status


def test_an_engine_never_receives_an_empty_segment() -> None:
    with pytest.raises(ValueError, match="empty"):
        Segment("  ")
    assert Chunk(b"\x00\x00" * 3, segment=0).samples == 3


def test_the_plan_becomes_segments_with_prosody_as_engine_controls() -> None:
    plan = prepare(
        ssml='<speak><break time="300ms"/><prosody rate="150%" volume="-6dB">Hello there.'
        "</prosody></speak>",
        locale="en-US",
        max_chars=200,
    )
    [segment] = engine_segments(plan, language="en-GB", speed=2.0)
    assert segment.language == "en-GB"
    assert segment.speed == pytest.approx(3.0)
    assert segment.volume == pytest.approx(10 ** (-6 / 20))
    assert segment.pause_before_ms == 300


@pytest.mark.parametrize(("given", "kept"), [(0.01, 0.25), (0.25, 0.25), (1.3, 1.3), (64.0, 4.0)])
def test_a_segment_keeps_its_speed_inside_the_range(given, kept) -> None:
    assert Segment("Hi.", speed=given).speed == kept


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_a_segment_refuses_what_is_no_speed(speed) -> None:
    with pytest.raises(ValueError, match="speed"):
        Segment("Hi.", speed=speed)


def test_a_job_from_the_wire_cannot_carry_a_slower_speed() -> None:
    # No path around the clamp: a job message built without engine_segments (an older web
    # process, a hand-made message) comes back with its speed inside the range.
    message = Job("j", "r", "piper", "joe", [Segment("Hi.")], 4, 1.0).to_message()
    message["segments"][0]["speed"] = 0.05
    assert Job.from_message(message).segments[0].speed == MIN_SPEED


def test_a_segments_audio_budget_grows_with_its_text_its_slowness_and_its_pauses() -> None:
    hello = Segment("Hello there.")  # 12 characters
    assert hello.max_audio_seconds == pytest.approx(
        AUDIO_BASE_SECONDS + 12 * AUDIO_SECONDS_PER_CHARACTER
    )
    # Slower speech gets proportionally more; faster speech keeps the normal-speed budget
    # (Piper cannot go much faster than 2x, whatever it is asked).
    assert Segment("Hello there.", speed=0.25).max_audio_seconds == pytest.approx(
        4 * hello.max_audio_seconds
    )
    assert Segment("Hello there.", speed=3.0).max_audio_seconds == hello.max_audio_seconds
    # Pauses are exact: added as they are.
    paused = Segment("Hello there.", pause_before_ms=500, pause_after_ms=2000)
    assert paused.max_audio_seconds == pytest.approx(hello.max_audio_seconds + 2.5)
    # Phonemes are spoken instead of the written fallback: the longer of the two counts.
    spoken = Segment("x", parts=(("ipa", "ˈwʌn " * 20),))
    assert spoken.max_audio_seconds == pytest.approx(
        AUDIO_BASE_SECONDS + 100 * AUDIO_SECONDS_PER_CHARACTER
    )
