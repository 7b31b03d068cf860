"""A phone-agent fleet against CallWaiting TTS, for locust (README, "Load testing").

`PhoneCall` users place calls one after another on the realtime socket (`/v1/stream`,
docs/websocket.md): a call opens a socket, speaks a greeting and then replies (each a context:
`start` with the line, `end`), waits while the caller talks between turns, is sometimes cut off
by the caller mid-turn (barge-in: `cancel` with the playback point), and hangs up (a close
handshake). `HttpSynthesis` users send `POST /v1/synthesize` and `POST /v1/audio/speech`.

Locust runs users as gevent greenlets and monkey-patches the standard library when it is
imported, so the socket client is websocket-client's blocking one (asyncio's would not yield to
the other users). Every step is a locust request of type `WS` and its own name:

    connect                  socket opened → `ready`
    first audio: greeting    `start` sent → first audio frame (the same line every call: a
    first audio: reply         phrase-cache hit after the first); a reply varies per turn
    turn                     `start` sent → `done` (with `pacing: realtime`: the audio's length)
    cancel→cancelled         `cancel` sent → `cancelled`
    cancel→silence           `cancel` sent → the context's last audio frame (0: none came after
                             it); a failure if any audio follows `cancelled`
    hang-up                  close sent → the server's close

Parameters come from the environment (locust's own `LOCUST_HOST`, `LOCUST_USERS`,
`LOCUST_SPAWN_RATE`, `LOCUST_RUN_TIME` as well): see `Profile.from_env`.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
import websocket
from callwaiting_tts_client.protocol import PATH
from locust import HttpUser, User, between, task
from locust.env import Environment

Message = dict[str, Any]


def _env(name: str, default: str) -> str:
    return os.environ.get(name, "").strip() or default


def _pair(name: str, default: str) -> tuple[float, float]:
    low, _, high = _env(name, default).partition(",")
    return float(low), float(high or low)


@dataclass(frozen=True)
class Profile:
    api_key: str
    voice: str
    audio_format: str  # the socket's `format`: mulaw (8 kHz, 20 ms frames), alaw or pcm
    sample_rate: int  # pcm only; G.711 is 8 kHz
    pacing: str  # realtime: frames leave at playback speed, as a telephony relay wants them
    turns_per_call: tuple[int, int]
    turn_interval_s: tuple[float, float]  # the caller speaking between two turns
    barge_in_probability: float
    barge_in_after_s: tuple[float, float]  # audio heard before the caller interrupts
    http_interval_s: tuple[float, float]
    cache: bool  # false: every line is synthesized (the phrase cache bypassed)
    timeout_s: float

    @classmethod
    def from_env(cls) -> Profile:
        turns = _pair("LOAD_TURNS_PER_CALL", "3,6")
        interval = float(_env("LOAD_TURN_INTERVAL_S", "2"))
        return cls(
            api_key=_env("CALLWAITING_API_KEY", ""),
            voice=_env("LOAD_VOICE", "joe"),
            audio_format=_env("LOAD_FORMAT", "mulaw"),
            sample_rate=int(_env("LOAD_SAMPLE_RATE", "8000")),
            pacing=_env("LOAD_PACING", "realtime"),
            turns_per_call=(int(turns[0]), int(turns[1])),
            # Spread around the mean so that calls drift apart instead of speaking in step.
            turn_interval_s=(interval * 0.5, interval * 1.5),
            barge_in_probability=float(_env("LOAD_BARGE_IN_PROBABILITY", "0.3")),
            barge_in_after_s=_pair("LOAD_BARGE_IN_AFTER_S", "0.3,1.5"),
            http_interval_s=_pair("LOAD_HTTP_INTERVAL_S", "1,3"),
            cache=_env("LOAD_CACHE", "1") not in ("0", "false"),
            timeout_s=float(_env("LOAD_TIMEOUT_S", "30")),
        )

    @property
    def bytes_per_ms(self) -> float:
        return 8.0 if self.audio_format in ("mulaw", "alaw") else self.sample_rate * 2 / 1000

    def start_options(self) -> Message:
        options: Message = {"voice": self.voice, "format": self.audio_format}
        options.update(pacing=self.pacing, cache=self.cache)
        if self.audio_format == "pcm":
            options["sample_rate"] = self.sample_rate
        return options


PROFILE = Profile.from_env()

GREETING = "Thanks for calling Riverside Dental, this is Ava. How can I help you today?"
REPLIES = (
    "I can see an opening on {day} at {hour} {half}. Would that work for you, "
    "or shall I check the following week?",
    "Your order number {number} shipped on {day} and should arrive within two business days. "
    "Is there anything else I can help you with?",
    "I have moved your appointment to {day} at {hour} {half}. "
    "You will get a text message confirming it in a few minutes.",
    "Your reference number is {number}. Our office is open from eight in the morning until six "
    "in the evening, Monday to Friday, and on Saturdays until noon.",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")


def reply(rng: random.Random) -> str:
    """An agent's line with the details of this caller: each one mostly new to the cache."""
    line = rng.choice(REPLIES)
    half = rng.choice(("in the morning", "in the afternoon"))
    return line.format(
        day=rng.choice(DAYS), hour=rng.randint(1, 11), half=half, number=rng.randint(1000, 9999)
    )


class TurnFailed(Exception):
    """The turn did not end as the protocol says (an error, a close, a timeout, late audio)."""


def record(env: Environment, name: str, seconds: float, error: Exception | None = None) -> None:
    env.events.request.fire(
        request_type="WS",
        name=name,
        response_time=seconds * 1000,
        response_length=0,
        exception=error,
        context={},
    )


class CallSocket:
    """One call's socket; every message is stamped with `time.perf_counter()` on arrival."""

    def __init__(self, ws: websocket.WebSocket, timeout_s: float) -> None:
        self.ws = ws
        self.timeout_s = timeout_s

    @classmethod
    def dial(cls, url: str, profile: Profile) -> CallSocket:
        ws = websocket.create_connection(
            url, timeout=profile.timeout_s, header=[f"X-API-Key: {profile.api_key}"]
        )
        sock = cls(ws, profile.timeout_s)
        _at, hello = sock.receive(time.perf_counter() + profile.timeout_s)
        if not isinstance(hello, dict) or hello.get("type") != "ready":
            sock.drop()
            raise TurnFailed(f"no ready message: {hello!r}")
        return sock

    def send(self, message: Message) -> float:
        """Sends `message`; returns the time just before it went out."""
        at = time.perf_counter()
        try:
            self.ws.send(json.dumps(message))
        except (OSError, websocket.WebSocketException) as error:
            raise TurnFailed(f"socket lost: {error!r}") from None
        return at

    def receive(self, deadline: float) -> tuple[float, bytes | Message]:
        """The next audio frame or JSON message; `TimeoutError` past `deadline`, `TurnFailed`
        when the socket closes."""
        self.ws.settimeout(max(0.001, deadline - time.perf_counter()))
        try:
            opcode, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            raise TimeoutError from None
        except websocket.WebSocketException as error:
            raise TurnFailed(f"socket lost: {error!r}") from None
        at = time.perf_counter()
        if opcode == websocket.ABNF.OPCODE_BINARY:
            return at, bytes(data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            raise TurnFailed(f"closed by the server: {data[:2].hex()} {data[2:]!r}")
        message: Message = json.loads(data)
        return at, message

    def hang_up(self) -> float:
        """The close handshake; its duration."""
        started = time.perf_counter()
        self.ws.close(timeout=self.timeout_s)
        if self.ws.close_frame is None:
            raise TurnFailed("the server did not answer the close")
        return time.perf_counter() - started

    def drop(self) -> None:
        """Closes the connection without a handshake (a call cut off, or the run ending)."""
        self.ws.shutdown()


@dataclass
class Turn:
    """What came back for one context so far."""

    context_id: str
    timeout_s: float
    started_at: float = 0.0  # `start` went out
    first_audio_at: float | None = None
    last_audio_at: float | None = None
    done_at: float | None = None
    audio_bytes: int = 0

    @property
    def deadline(self) -> float:
        return self.started_at + self.timeout_s

    def take(self, at: float, item: bytes | Message, allow: tuple[str, ...] = ()) -> str:
        """Counts an audio frame ("audio"); returns the type of a message of this context or
        of the socket ("" for another context's). An `error` is a `TurnFailed` unless its code
        is in `allow`."""
        if isinstance(item, bytes):
            self.first_audio_at = self.first_audio_at or at
            self.last_audio_at = at
            self.audio_bytes += len(item)
            return "audio"
        if item.get("context_id") not in (None, self.context_id):
            return ""
        kind = str(item.get("type"))
        if kind == "error" and item.get("error", {}).get("code") not in allow:
            raise TurnFailed(f"error: {item.get('error')}")
        if kind == "done":
            self.done_at = at
        return kind


class BargeIns:
    """Which turns the caller interrupts: a fraction `probability` of them, evenly spread, so a
    short run still has them in proportion; each user starts at a random phase."""

    def __init__(self, probability: float, rng: random.Random) -> None:
        self.probability = probability
        self.level = rng.random()

    def next(self) -> bool:
        self.level += self.probability
        if self.level >= 1.0:
            self.level -= 1.0
            return True
        return False


class PhoneCall(User):
    """An AI phone agent's calls, one after another, on the realtime socket."""

    weight = int(_env("LOAD_CALL_WEIGHT", "4"))
    wait_time = between(0.0, 0.5)  # a new call comes in right after the last one ended

    def on_start(self) -> None:
        self.profile = PROFILE
        self.rng = random.Random()  # noqa: S311 - load shape, not security
        self.barge_ins = BargeIns(self.profile.barge_in_probability, self.rng)
        self.url = (self.host or "").replace("http", "ws", 1).rstrip("/") + PATH
        self.calls = 0

    @task
    def call(self) -> None:
        self.calls += 1
        sock = self.dial()
        if sock is None:
            return
        try:
            turns = self.rng.randint(*self.profile.turns_per_call)
            for number, text in enumerate(self.lines(turns)):
                if number:
                    time.sleep(self.rng.uniform(*self.profile.turn_interval_s))
                self.turn(sock, f"call{self.calls}-t{number}", text, greeting=number == 0)
            self.step("hang-up", sock.hang_up)
        except TurnFailed:
            pass  # recorded where it happened; the agent drops the call
        finally:
            sock.drop()

    def lines(self, turns: int) -> Iterator[str]:
        yield GREETING
        for _ in range(turns - 1):
            yield reply(self.rng)

    def dial(self) -> CallSocket | None:
        started = time.perf_counter()
        try:
            sock = CallSocket.dial(self.url, self.profile)
        except (TurnFailed, TimeoutError, OSError, websocket.WebSocketException) as error:
            record(self.environment, "connect", time.perf_counter() - started, error=error)
            return None
        record(self.environment, "connect", time.perf_counter() - started)
        return sock

    def step(self, name: str, run: Callable[[], float]) -> None:
        """Runs one measured step, which returns its figure in seconds; a failure is recorded
        under its name and ends the call."""
        started = time.perf_counter()
        try:
            seconds = run()
        except (TurnFailed, TimeoutError) as error:
            record(self.environment, name, time.perf_counter() - started, error=error)
            raise TurnFailed(name) from error
        record(self.environment, name, seconds)

    def turn(self, sock: CallSocket, context_id: str, text: str, *, greeting: bool) -> None:
        """One context: the line, then either all of its audio or a barge-in."""
        turn = Turn(context_id, self.profile.timeout_s)
        label = "first audio: greeting" if greeting else "first audio: reply"
        self.step(label, lambda: self.first_audio(sock, turn, text))
        heard_s = self.rng.uniform(*self.profile.barge_in_after_s)
        if self.barge_ins.next() and self.play(sock, turn, heard_s) and self.barge_in(sock, turn):
            return
        self.step("turn", lambda: self.until_done(sock, turn))

    def first_audio(self, sock: CallSocket, turn: Turn, text: str) -> float:
        start = {"type": "start", "context_id": turn.context_id, "text": text}
        turn.started_at = sock.send({**start, **self.profile.start_options()})
        sock.send({"type": "end", "context_id": turn.context_id})
        while turn.first_audio_at is None:
            if turn.take(*sock.receive(turn.deadline)) == "done":
                raise TurnFailed("done without audio")
        return turn.first_audio_at - turn.started_at

    def until_done(self, sock: CallSocket, turn: Turn) -> float:
        while turn.done_at is None:
            turn.take(*sock.receive(turn.deadline))
        return turn.done_at - turn.started_at

    def play(self, sock: CallSocket, turn: Turn, heard_s: float) -> bool:
        """Reads audio until the caller has heard `heard_s` of it (counted from the first
        frame, as a player does); False if the turn ended first (nothing left to interrupt)."""
        assert turn.first_audio_at is not None
        until = min(turn.first_audio_at + heard_s, turn.deadline)
        while turn.done_at is None and until > time.perf_counter():
            with contextlib.suppress(TimeoutError):
                turn.take(*sock.receive(until))
        return turn.done_at is None

    def barge_in(self, sock: CallSocket, turn: Turn) -> bool:
        """`cancel` with the playback point, timed to `cancelled` and to the context's last
        audio frame. False when the context's `done` crossed the cancel: a whole turn."""
        assert turn.first_audio_at is not None
        played_ms = int((time.perf_counter() - turn.first_audio_at) * 1000)
        heard_ms = int(turn.audio_bytes / self.profile.bytes_per_ms)
        cancel = {"type": "cancel", "context_id": turn.context_id}
        audio_before = turn.audio_bytes
        cancel_at = time.perf_counter()
        try:
            cancel_at = sock.send({**cancel, "played_ms": min(played_ms, heard_ms)})
            cancelled_at = self.cancelled(sock, turn)
        except (TurnFailed, TimeoutError) as error:
            elapsed = time.perf_counter() - cancel_at
            record(self.environment, "cancel→cancelled", elapsed, error=error)
            raise TurnFailed("cancel") from error
        if cancelled_at is None:
            return False
        record(self.environment, "cancel→cancelled", cancelled_at - cancel_at)
        stopped = turn.last_audio_at if turn.audio_bytes > audio_before else None
        self.step("cancel→silence", lambda: self.silence(sock, turn, cancel_at, stopped))
        return True

    def cancelled(self, sock: CallSocket, turn: Turn) -> float | None:
        """When `cancelled` came; None when `done` came first (the server then answers the
        cancel with `context_finished`)."""
        while True:
            at, item = sock.receive(turn.deadline)
            allow = ("context_finished",) if turn.done_at is not None else ()
            kind = turn.take(at, item, allow)
            if kind in ("cancelled", "error"):
                return at if kind == "cancelled" else None

    def silence(
        self, sock: CallSocket, turn: Turn, cancel_at: float, stopped: float | None
    ) -> float:
        """From the cancel to the context's last audio frame (0: none came after it), once a
        ping's pong shows that no audio follows `cancelled` (it would arrive before the pong)."""
        sent = sock.send({"type": "ping", "id": turn.context_id})
        while True:
            _at, item = sock.receive(sent + turn.timeout_s)
            if isinstance(item, bytes):
                raise TurnFailed("audio after cancelled")
            if item.get("type") == "pong":
                return 0.0 if stopped is None else max(0.0, stopped - cancel_at)


class HttpSynthesis(HttpUser):
    """A backend's whole-line requests: streamed `POST /v1/synthesize` and OpenAI's speech."""

    weight = int(_env("LOAD_HTTP_WEIGHT", "1"))
    wait_time = between(*PROFILE.http_interval_s)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {PROFILE.api_key}"
        self.rng = random.Random()  # noqa: S311 - load shape, not security

    @task(3)
    def synthesize(self) -> None:
        body = {"text": reply(self.rng), "voice": PROFILE.voice, "format": "wav"}
        self.fetch("/v1/synthesize", {**body, "cache": PROFILE.cache})

    @task(1)
    def openai_speech(self) -> None:
        body = {"model": "tts-1", "voice": PROFILE.voice, "input": reply(self.rng)}
        self.fetch("/v1/audio/speech", {**body, "response_format": "mp3", "cache": PROFILE.cache})

    def fetch(self, path: str, body: Message) -> None:
        """Locust times a streamed request to its headers, which daphne sends with the first
        audio: the time recorded is the first byte's; the whole body is read and checked."""
        name = f"{path} (first byte)"
        with self.client.post(path, json=body, stream=True, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return
            try:
                size = sum(len(chunk) for chunk in r.iter_content(8192))
            except requests.RequestException as error:  # a body cut short: its chunks unended
                r.failure(f"the body failed: {error!r}")
                return
            if size == 0:
                r.failure("an empty body")
