"""HTTP clients: the service's streamed `POST /v1/synthesize` and Piper's `POST /synthesize`.

Plain `http.client` on a connection opened before the clock starts, so a time is from sending
the request to the byte in question (the request goes out in one `send`: headers and body).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

SAMPLE_RATE = 22050  # the engine's own rate: PCM passes through without resampling
BYTES_PER_SAMPLE = 2
READ_SIZE = 65536

# (bytes received, time.perf_counter() at receipt) -> keep reading?
OnData = Callable[[int, float], bool]


@dataclass
class Reply:
    status: int
    ttfb: float | None  # seconds from sending the request to the first body byte
    total: float  # seconds from sending the request to the end of the body
    body_bytes: int
    error: str = ""  # the error code of a non-200 answer, or the exception's name
    headers: float | None = None  # seconds from sending the request to the response headers

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.error

    @property
    def audio_seconds(self) -> float:
        return self.body_bytes / BYTES_PER_SAMPLE / SAMPLE_RATE


class Connections:
    """The connections in flight, so another thread can cut them (the end of a timed run)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: set[http.client.HTTPConnection] = set()
        self.closed = False

    def add(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            if self.closed:
                raise ConnectionAbortedError("the run is over")
            self._open.add(conn)

    def discard(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._open.discard(conn)

    def abort_all(self) -> None:
        with self._lock:
            self.closed = True
            for conn in self._open:
                if conn.sock is not None:
                    with contextlib.suppress(OSError):
                        conn.sock.shutdown(socket.SHUT_RDWR)


def _error_code(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unreadable_error"


def synthesize(
    port: int,
    api_key: str,
    text: str,
    *,
    host: str = "127.0.0.1",
    timeout: float = 600.0,
    on_data: OnData | None = None,
    connections: Connections | None = None,
    voice: str | None = None,
    sample_rate: int = SAMPLE_RATE,
    cache: bool | str | None = None,
) -> Reply:
    """One streamed PCM synthesis over HTTP/1.1 (chunked), read to the end (or until `on_data`
    says stop); in `voice` (the default voice when None), at `sample_rate`."""
    payload: dict[str, object] = {
        "text": text,
        "format": "pcm",
        "sample_rate": sample_rate,
        "stream": True,
    }
    if voice is not None:
        payload["voice"] = voice
    if cache is not None:
        payload["cache"] = cache
    body = json.dumps(payload).encode()
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Connection": "close",
    }
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    started = time.perf_counter()
    try:
        if connections is not None:
            connections.add(conn)
        conn.connect()  # sets TCP_NODELAY
        if connections is not None and connections.closed:
            raise ConnectionAbortedError("the run is over")
        started = time.perf_counter()
        conn.request("POST", "/v1/synthesize", body=body, headers=headers)
        response = conn.getresponse()
        headers_at = time.perf_counter() - started
        if response.status != 200:
            error = _error_code(response.read())
            return Reply(response.status, None, time.perf_counter() - started, 0, error)
        first: float | None = None
        received = 0
        while True:
            data = response.read1(READ_SIZE)
            if not data:
                break
            now = time.perf_counter()
            if first is None:
                first = now - started
            received += len(data)
            if on_data is not None and not on_data(len(data), now):
                break
        return Reply(200, first, time.perf_counter() - started, received, headers=headers_at)
    except (OSError, http.client.HTTPException) as exc:
        return Reply(0, None, time.perf_counter() - started, 0, type(exc).__name__)
    finally:
        if connections is not None:
            connections.discard(conn)
        conn.close()


def piper_synthesize(port: int, text: str, *, host: str = "127.0.0.1") -> Reply:
    """Piper's own server: the whole WAV in one answer; `total` is the time to all of it."""
    body = json.dumps({"text": text}).encode()
    conn = http.client.HTTPConnection(host, port, timeout=600)
    try:
        conn.connect()
        started = time.perf_counter()
        conn.request("POST", "/synthesize", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        total = time.perf_counter() - started
        error = "" if response.status == 200 else f"http_{response.status}"
        return Reply(response.status, None, total, len(data), error)
    finally:
        conn.close()


def wait_until_ready(port: int, path: str, timeout: float = 60.0) -> int:
    """GETs `path` until it answers 200; returns the last status."""
    deadline = time.monotonic() + timeout
    status = 0
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            status = response.status
            if status == 200:
                return status
        except (OSError, http.client.HTTPException):
            status = 0
        finally:
            conn.close()
        time.sleep(0.2)
    return status
