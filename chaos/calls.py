"""Calls the suite makes, each in a thread, each recording what its caller saw and when.

HTTP with httpx (streamed `POST /v1/synthesize`, raw PCM or `stream_format: sse`), the socket
with the websockets library's blocking client. Times are `time.monotonic()`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

# About 100 s of speech: a call that is still streaming whenever the suite breaks something.
LONG_TEXT = " ".join(
    f"This is sentence number {n} of a long answer, read slowly to a patient caller."
    for n in range(1, 21)
)
# One sentence with no clause breaks, within the engine's segment limit (200 characters): a
# socket context speaks it as one unit, so one job on one worker. Said at ONE_UNIT_SPEED it
# lasts about 32 s, so its job still runs when the worker is killed: the socket sends at most
# WS_SEND_AHEAD_MS (10 s) ahead of playback, and the worker makes at most its credit window
# (8 one-second chunks) ahead of that. A shorter job had ended before the kill, and the
# context rightly played on (its next units went to the other worker): nothing to cut.
ONE_UNIT_TEXT = (
    " ".join(["thank you for waiting while we find the next agent who can help"] * 3)
).capitalize() + "."
ONE_UNIT_SPEED = 0.25
# About 25 s of speech: a call that runs on through a fault elsewhere and then ends.
MEDIUM_TEXT = " ".join(LONG_TEXT.split(". ")[:5]) + "."
SHORT_TEXT = "Thanks for waiting, your call matters to us."
READ_TIMEOUT = 15.0  # no byte for this long: the call hangs (a failure of the suite)


@dataclass
class Call:
    kind: str  # sse, raw, socket
    started: float = field(default_factory=time.monotonic)
    status: int = 0
    synthesis_id: str = ""
    retry_after: str = ""
    first_audio: float | None = None
    ended: float | None = None
    outcome: str = ""  # done, clean_end, truncated, error:<code>, http:<status>:<code>, hang
    audio_bytes: int = 0
    admitted: int = 0  # syntheses the service started for this call (usage rows it owes)
    has_audio: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)

    def audio(self, size: int) -> None:
        self.audio_bytes += size
        if self.first_audio is None:
            self.first_audio = time.monotonic()
            self.has_audio.set()

    def end(self, outcome: str) -> None:
        if not self.outcome:
            self.outcome = outcome
        self.ended = time.monotonic()
        self.has_audio.set()  # a call that ends without audio wakes its waiter too
        self.finished.set()


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def http_call(base_url: str, key: str, text: str, kind: str, *, stop: threading.Event) -> Call:
    """Starts one streamed synthesis in a thread; `stop` set: the client hangs up."""
    call = Call(kind)
    body: dict[str, object] = {"text": text, "format": "pcm", "sample_rate": 22050}
    if kind == "sse":
        body["stream_format"] = "sse"

    def run() -> None:
        timeout = httpx.Timeout(READ_TIMEOUT, connect=5.0)
        headers = {"Authorization": f"Bearer {key}"}
        try:
            with httpx.stream(
                "POST", f"{base_url}/v1/synthesize", json=body, headers=headers, timeout=timeout
            ) as response:
                _read_http(call, response, stop)
        except httpx.RemoteProtocolError:
            call.end("truncated")  # the body ended before its chunked terminator
        except httpx.ReadTimeout:
            call.end("hang")
        except httpx.TransportError as error:
            call.end(f"transport:{type(error).__name__}")

    threading.Thread(target=run, daemon=True).start()
    return call


def _read_http(call: Call, response: httpx.Response, stop: threading.Event) -> None:
    call.status = response.status_code
    call.synthesis_id = response.headers.get("x-synthesis-id", "")
    call.retry_after = response.headers.get("retry-after", "")
    # Every synthesis admitted has a usage row, a refused one too (failed, billed 0): the
    # synthesis id in the answer says it was admitted.
    call.admitted = 1 if call.synthesis_id else 0
    if response.status_code != 200:
        response.read()
        call.end(f"http:{response.status_code}:{_error_code(response)}")
        return
    if call.kind == "raw":
        call.end(_read_raw(call, response, stop))
    else:
        call.end(_read_events(call, response, stop))


def _read_raw(call: Call, response: httpx.Response, stop: threading.Event) -> str:
    for piece in response.iter_bytes():
        call.audio(len(piece))
        if stop.is_set():
            return "hung_up"
    return "clean_end"


def _read_events(call: Call, response: httpx.Response, stop: threading.Event) -> str:
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        if event["type"] == "audio":
            call.audio(len(event["audio"]) * 3 // 4)  # base64
        elif event["type"] == "done":
            return "done"
        elif event["type"] == "error":
            return f"error:{event['error']['code']}"
        if stop.is_set():
            return "hung_up"
    return "clean_end"  # an SSE stream without `done` or `error`: incomplete


class Socket:
    """One `/v1/stream` socket, read by a thread; `contexts` maps context id → its Call."""

    def __init__(self, ws_url: str, key: str) -> None:
        self.conn: ClientConnection = connect(
            f"{ws_url}/v1/stream", additional_headers={"X-API-Key": key}, open_timeout=10
        )
        self.contexts: dict[str, Call] = {}
        self.closed: str = ""
        ready = json.loads(self.conn.recv(timeout=10))
        if ready.get("type") != "ready":
            raise RuntimeError(f"socket not ready: {ready}")
        self._current = ""
        threading.Thread(target=self._read, daemon=True).start()

    def speak(self, context_id: str, text: str, speed: float = 1.0) -> Call:
        call = Call("socket")
        self.contexts[context_id] = call
        start = {"type": "start", "context_id": context_id, "text": text, "speed": speed}
        self.conn.send(json.dumps(start))
        self.conn.send(json.dumps({"type": "end", "context_id": context_id}))
        return call

    def _read(self) -> None:
        try:
            while True:
                message = self.conn.recv(timeout=READ_TIMEOUT)
                self._on(message)
        except TimeoutError:
            self._end_all("hang")
        except ConnectionClosed as closed:
            self.closed = f"closed:{closed.rcvd.code if closed.rcvd else 'none'}"
            self._end_all(self.closed)

    def _on(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            if self._current in self.contexts:
                self.contexts[self._current].audio(len(message))
            return
        event = json.loads(message)
        call = self.contexts.get(str(event.get("context_id", "")))
        if call is None:
            return
        kind = event["type"]
        if kind == "started":
            call.status, call.admitted = 200, 1
            self._current = str(event["context_id"])
        elif kind == "done":
            call.end("done")
        elif kind == "error":
            call.end(f"error:{event['error']['code']}")

    def _end_all(self, outcome: str) -> None:
        for call in self.contexts.values():
            if not call.finished.is_set():
                call.end(outcome)

    def close(self) -> None:
        self.conn.close()


def wait_all(calls: list[Call], event: Callable[[Call], threading.Event], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    return all(event(c).wait(max(0.0, deadline - time.monotonic())) for c in calls)
