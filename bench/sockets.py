"""The realtime socket as the bench's sections drive it (`ws`, `soak`, `bench.load`): one
authenticated `/v1/stream` connection whose messages are stamped with `time.perf_counter()` by
one reader task the moment `websockets` hands them over, and the stack's settings for sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.client import SAMPLE_RATE

Message = dict[str, Any]

WS_WORKERS = 2  # as `make run` starts them on this 2-core machine (one per core)
# The per-tenant limits (10 syntheses, 50 sockets by default) would refuse most of 100 sockets
# of the one bench tenant by policy; the section measures capacity, so (as the service tests do)
# daphne gets limits above the load for this section only.
SERVER_SETTINGS = {"TTS_MAX_CONCURRENT_PER_TENANT": "200", "WS_MAX_CONNECTIONS_PER_TENANT": "200"}
OPEN_TIMEOUT_S = 60.0
FORMAT = {"format": "pcm", "sample_rate": SAMPLE_RATE}


# --- the socket ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    at: float  # time.perf_counter() when the message came out of the socket
    audio: bytes | None  # a binary frame
    message: Message | None  # a JSON message (type "_closed" when the socket closed)


class Socket:
    """One authenticated `/v1/stream` connection whose messages are timestamped on arrival."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[Received] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, api_key: str) -> Socket:
        # No client keepalive pings: a busy bench process must not close sockets by itself.
        ws = await connect(
            url,
            additional_headers={"X-API-Key": api_key},
            open_timeout=OPEN_TIMEOUT_S,
            ping_interval=None,
            max_size=2**23,
        )
        sock = cls(ws)
        try:
            first = await sock.next(OPEN_TIMEOUT_S)
        except BaseException:
            await sock.close()
            raise
        if first.message is None or first.message.get("type") != "ready":
            await sock.close()
            raise ConnectionError(f"no ready message: {first.message}")
        return sock

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                at = time.perf_counter()
                if isinstance(data, bytes):
                    self.inbox.put_nowait(Received(at, data, None))
                else:
                    self.inbox.put_nowait(Received(at, None, json.loads(data)))
        except ConnectionClosed:
            pass
        finally:
            closed = {"type": "_closed", "code": self.ws.close_code, "reason": self.ws.close_reason}
            self.inbox.put_nowait(Received(time.perf_counter(), None, closed))

    async def send(self, message: Message) -> float:
        """Sends `message`; returns the time just before it went out."""
        at = time.perf_counter()
        await self.ws.send(json.dumps(message))
        return at

    async def next(self, timeout: float) -> Received:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 10)
        self.reader.cancel()
        with contextlib.suppress(BaseException):
            await self.reader


async def open_sockets(url: str, api_key: str, count: int) -> tuple[list[Socket], Counter[str]]:
    """`count` sockets opened at once; the ones that failed, by reason."""
    opened = await asyncio.gather(
        *(Socket.open(url, api_key) for _ in range(count)), return_exceptions=True
    )
    sockets = [s for s in opened if isinstance(s, Socket)]
    failures = Counter(_failure(e) for e in opened if isinstance(e, BaseException))
    return sockets, failures


def _failure(error: BaseException) -> str:
    if isinstance(error, InvalidHandshake | ConnectionClosed):
        return f"open_{type(error).__name__}"
    if isinstance(error, TimeoutError):
        return "open_timeout"
    return f"open_{type(error).__name__}"
