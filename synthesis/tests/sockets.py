"""In-process realtime sockets for tests: connect through the ASGI application, read the next
JSON message (skipping audio frames) or the next one of a kind, and close every socket a test
opened (`disconnect_every_socket`, autouse where imported)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from channels.testing import WebsocketCommunicator

from callwaiting_tts.asgi import application

_open: list[WebsocketCommunicator] = []


async def connect(key: str | None) -> WebsocketCommunicator:
    """A socket with the key in its headers (None: it must authenticate by message)."""
    headers = [(b"x-api-key", key.encode())] if key else []
    comm = WebsocketCommunicator(application, "/v1/stream", headers=headers)
    _open.append(comm)
    connected, _ = await comm.connect()
    assert connected
    return comm


def forget(comm: WebsocketCommunicator) -> None:
    """A socket the test closed (or that crashed) itself: not to be disconnected again."""
    _open.remove(comm)


@pytest.fixture(autouse=True)
async def disconnect_every_socket():
    yield
    while _open:
        comm = _open.pop()
        if not comm.future.done():  # not closed by the test itself
            await comm.disconnect(timeout=10)


async def next_json(comm: WebsocketCommunicator, timeout: float = 10) -> dict:
    """The next JSON message, skipping audio frames; a close as {"type": "close", "code"}."""
    deadline = time.monotonic() + timeout
    while True:
        message = await comm.receive_output(timeout=max(0.05, deadline - time.monotonic()))
        if message["type"] == "websocket.close":
            return {"type": "close", "code": message.get("code")}
        if message.get("text") is not None:
            return json.loads(message["text"])


async def until(comm, kind: str, timeout: float = 20) -> dict:
    """The next message of type `kind`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        message = await next_json(comm, max(0.05, deadline - time.monotonic()))
        if message["type"] == kind:
            return message


async def eventually(check, timeout: float = 10):
    """The check's value once it is truthy (awaited again every 50 ms until `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)
