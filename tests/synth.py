"""Helpers for end-to-end synthesis tests: talk to daphne like a client does."""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import soundfile


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict[str, Any]:
        return self.json()["error"]


def post(
    url: str,
    path: str,
    key: str | None,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Answer:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    if key:
        all_headers["Authorization"] = f"Bearer {key}"
    conn.request("POST", path, body=json.dumps(body), headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)


def delete(url: str, path: str, key: str) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    conn.request("DELETE", path, headers={"Authorization": f"Bearer {key}"})
    status = conn.getresponse().status
    conn.close()
    return status


def open_stream(
    url: str, path: str, key: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    conn.request(
        "POST",
        path,
        body=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {key}",
            **(headers or {}),
        },
    )
    return conn, conn.getresponse()


def pcm(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


def decode_duration(data: bytes, fmt: str, rate: int) -> float:
    """Seconds of audio in an encoded answer, decoded by soundfile or PyAV."""
    if fmt == "pcm":
        return len(data) / 2 / rate
    if fmt in {"mulaw", "alaw"}:
        return len(data) / rate
    if fmt in {"wav", "mp3", "flac"}:  # libsndfile has no AAC
        samples, decoded_rate = soundfile.read(io.BytesIO(data), dtype="int16")
        assert decoded_rate == rate
        return len(samples) / rate
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        samples = sum(int(frame.samples) for frame in container.decode(stream))
        return samples / int(stream.rate)


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    """`condition()`'s first truthy value, polled until `timeout`; AssertionError after it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


async def context_audio(ws: Any, context_id: str, **start: Any) -> tuple[bytes, dict[str, Any]]:
    """One context spoken over an open socket: its audio, and its `done` (or `error`)."""
    await ws.send(json.dumps({"type": "start", "context_id": context_id, **start}))
    await ws.send(json.dumps({"type": "end", "context_id": context_id}))
    audio = bytearray()
    while True:
        raw = await asyncio.wait_for(ws.recv(), 30)
        if isinstance(raw, bytes):
            audio += raw
            continue
        message = json.loads(raw)
        if message.get("context_id") == context_id and message["type"] in ("done", "error"):
            return bytes(audio), message


async def barge_in(
    ws: Any, context_id: str, text: str, *, after: int
) -> tuple[int, dict[str, Any]]:
    """A caller who barges in: starts a context, lets `after` bytes of its audio arrive, then
    cancels it. The bytes received in all (those sent before the cancel arrived too) and the
    next message about the context (its `cancelled`, unless something else came first)."""
    await ws.send(json.dumps({"type": "start", "context_id": context_id, "text": text}))
    await ws.send(json.dumps({"type": "end"}))
    received = 0
    while received < after:
        raw = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(raw, bytes):
            received += len(raw)
    await ws.send(json.dumps({"type": "cancel", "context_id": context_id}))
    while True:
        raw = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(raw, bytes):
            received += len(raw)
            continue
        return received, json.loads(raw)
