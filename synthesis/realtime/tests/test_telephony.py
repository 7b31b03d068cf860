"""Telephony: 20 ms frames, real-time pacing (fake clock), Twilio Media Streams messages."""

from __future__ import annotations

import base64
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthesis.audio.g711 import ALAW_SILENCE, ULAW_SILENCE
from synthesis.audio.telephony import FRAME_MS, Framer
from synthesis.realtime.telephony import (
    Pacer,
    twilio_event,
    twilio_mark,
    twilio_media,
)

AUDIO = bytes(i % 251 for i in range(1000))


def test_a_frame_is_20_ms_of_8_khz_audio():
    assert FRAME_MS == 20
    assert {"mulaw": ULAW_SILENCE, "alaw": ALAW_SILENCE} == {"mulaw": 0xFF, "alaw": 0xD5}
    framer = Framer.for_format("mulaw", 8000)
    frames = framer.push(AUDIO)
    assert [len(f) for f in frames] == [160] * 6
    assert b"".join(frames) == AUDIO[:960]
    assert framer.pending == 40


def test_feeding_in_odd_sizes_gives_the_same_frames():
    whole = Framer.for_format("mulaw", 8000)
    expected = whole.push(AUDIO) + whole.finish()
    pieces = Framer.for_format("mulaw", 8000)
    got: list[bytes] = []
    position = 0
    for size in [1, 7, 159, 161, 0, 3, 320, 13]:
        got += pieces.push(AUDIO[position : position + size])
        position += size
    got += pieces.push(AUDIO[position:])
    got += pieces.finish()
    assert got == expected


@pytest.mark.parametrize(("codec", "silence"), [("mulaw", 0xFF), ("alaw", 0xD5)])
def test_finish_pads_with_the_codecs_silence(codec, silence):
    framer = Framer.for_format(codec, 8000)
    assert framer.push(b"\x01\x02\x03") == []
    (frame,) = framer.finish()
    assert frame == b"\x01\x02\x03" + bytes([silence]) * 157
    assert framer.finish() == []
    assert framer.pending == 0


def test_finish_with_nothing_left_gives_nothing():
    framer = Framer.for_format("alaw", 8000)
    assert framer.finish() == []
    assert len(framer.push(b"\x00" * 320)) == 2
    assert framer.finish() == []
    assert framer.push(b"") == []


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=5000), st.lists(st.integers(0, 400), max_size=20))
def test_n_samples_make_ceil_n_over_160_frames(n, sizes):
    samples = bytes(i % 256 for i in range(n))
    framer = Framer.for_format("mulaw", 8000)
    frames: list[bytes] = []
    position = 0
    for size in sizes:
        frames += framer.push(samples[position : position + size])
        position += size
    frames += framer.push(samples[position:])
    frames += framer.finish()
    assert len(frames) == math.ceil(n / 160)
    assert all(len(f) == 160 for f in frames)
    joined = b"".join(frames)
    assert joined[:n] == samples
    assert set(joined[n:]) <= {0xFF}


# Pacer ------------------------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when told, and a sleep that moves it (no real sleeping)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(fake: FakeTime, **kwargs) -> Pacer:
    return Pacer(clock=fake.clock, sleep=fake.sleep, **kwargs)


async def test_frames_leave_at_playback_speed_after_the_head_start():
    fake = FakeTime()
    paced = pacer(fake)
    released = []
    for n in range(30):
        await paced.wait(n * FRAME_MS)
        released.append(round(fake.now - 1000.0, 9))
    # The first 200 ms (11 frames: 0..200 ms) leave at once; then one every 20 ms.
    assert released == [round(max(0, n * 20 - 200) / 1000, 9) for n in range(30)]
    assert released[:11] == [0.0] * 11
    assert released[11] == pytest.approx(0.020)
    assert released[29] == pytest.approx(0.380)
    assert all(s > 0 for s in fake.sleeps)
    assert len(fake.sleeps) == 19


async def test_a_slow_producer_is_never_held_back():
    fake = FakeTime()
    paced = pacer(fake)
    for n in range(20):
        await paced.wait(n * FRAME_MS)
        fake.now += 0.030  # synthesis slower than playback
    assert fake.sleeps == []


async def test_a_late_frame_does_not_shift_the_schedule():
    fake = FakeTime()
    paced = pacer(fake, head_start_ms=0)
    await paced.wait(0)
    fake.now += 0.100  # a stall: frames 20..100 ms are late
    await paced.wait(20)
    await paced.wait(100)
    assert fake.sleeps == []
    await paced.wait(140)  # due at start + 140 ms, now is start + 100 ms
    assert fake.sleeps == [pytest.approx(0.040)]
    assert fake.now == pytest.approx(1000.140)


async def test_the_first_wait_starts_the_clock():
    fake = FakeTime()
    paced = pacer(fake, head_start_ms=0)
    fake.now += 50.0  # time before the first frame does not count
    await paced.wait(0)
    await paced.wait(20)
    assert fake.sleeps == [pytest.approx(0.020)]


async def test_reset_starts_a_new_utterance():
    fake = FakeTime()
    paced = pacer(fake, head_start_ms=100)
    for n in range(10):
        await paced.wait(n * FRAME_MS)
    assert fake.now == pytest.approx(1000.080)
    paced.reset()
    fake.sleeps.clear()
    fake.now += 5.0
    start = fake.now
    for n in range(10):
        await paced.wait(n * FRAME_MS)  # audio time restarts at 0
    assert fake.now - start == pytest.approx(0.080)
    assert len(fake.sleeps) == 4


async def test_the_default_clock_and_sleep_work():
    paced = Pacer()
    await paced.wait(0)
    await paced.wait(200)  # within the head start: no sleeping


# Twilio -----------------------------------------------------------------------------------


def test_twilio_media_message():
    payload = bytes(range(256)) + b"\xff" * 4
    message = twilio_media("MZ123", payload)
    assert message == {
        "event": "media",
        "streamSid": "MZ123",
        "media": {"payload": base64.b64encode(payload).decode("ascii")},
    }
    media = message["media"]
    assert isinstance(media, dict)
    assert base64.b64decode(media["payload"], validate=True) == payload


def test_twilio_media_of_an_empty_payload():
    assert twilio_media("MZ1", b"") == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": ""},
    }


def test_twilio_mark_message():
    assert twilio_mark("MZ123", "greeting-done") == {
        "event": "mark",
        "streamSid": "MZ123",
        "mark": {"name": "greeting-done"},
    }


@pytest.mark.parametrize("event", ["clear", "mark", "media", "start", "stop", "connected", "dtmf"])
def test_twilio_event_of_a_twilio_message(event):
    assert twilio_event({"event": event, "streamSid": "MZ123"}) == event


def test_twilio_event_of_our_own_messages():
    assert twilio_event(twilio_media("MZ1", b"\x00")) == "media"
    assert twilio_event(twilio_mark("MZ1", "m")) == "mark"


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"type": "cancel"},
        {"event": "bogus"},
        {"event": "CLEAR"},
        {"event": None},
        {"event": 5},
        {"event": ["clear"]},
        "clear",
        ["clear"],
        None,
        5,
    ],
)
def test_twilio_event_of_anything_else_is_none(message):
    assert twilio_event(message) is None
