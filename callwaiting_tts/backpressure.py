"""How much of a response (or a socket's output) the web process holds unsent, so a slow reader
cannot pile audio up.

daphne applies no backpressure: `send()` of a body chunk returns at once and Twisted keeps
whatever the socket did not take in its transport's buffer, so a client that reads slowly (or
not at all) would make the web process hold the whole synthesis. The ASGI wrapper below gives
each HTTP request a probe, `scope[UNSENT]`, returning the bytes its connection's transport holds
unsent; streaming responses wait while it is over `TTS_RESPONSE_BUFFER_BYTES` (the credit window
then pauses the job at its worker, so nothing accumulates anywhere) and end the stream when the
reader makes no progress for `TTS_SLOW_READER_SECONDS` (`synthesis.api.responses`).

The probe reads daphne's protocol object out of the `send` callable daphne hands the app (a
`functools.partial` of `Server.handle_reply` bound to the request's protocol) and Twisted's
`FileDescriptor` buffers; under any other server, or a transport without those attributes, there
is no probe (None) and responses rely on their byte bounds alone. Both run on the event loop's
thread (daphne runs Twisted's asyncio reactor), so reading them is safe. WebSockets get the same
probe (their protocol is the transport's own): the socket's audio waits the same way.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings

from callwaiting_tts.errors import ApplicationError

UNSENT = "cwtts.unsent"

Probe = Callable[[], int]
Scope = dict[str, Any]
Asgi = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Any]


def _transport_of(send: Any) -> Any | None:
    if not isinstance(send, functools.partial) or not send.args:
        return None
    protocol = send.args[0]
    channel = getattr(protocol, "channel", None)  # HTTP: the request's channel; WebSocket: none
    return getattr(channel or protocol, "transport", None)


class TransportProbe:
    """The bytes a daphne connection's transport holds unsent (called), and whether the
    connection is gone (`lost`)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def __call__(self) -> int:
        transport = self.transport
        buffered = len(getattr(transport, "dataBuffer", b"")) - int(getattr(transport, "offset", 0))
        return max(0, buffered) + int(getattr(transport, "_tempDataLen", 0))

    def lost(self) -> bool:
        """Twisted has closed the connection (the peer reset or closed it). The application
        is told by an `http.disconnect`, which at times came only once a stream had ended
        (tests/test_synthesis.py, the client that goes away): a stream checks this itself."""
        return bool(getattr(self.transport, "disconnected", False))


def unsent_probe(send: Any) -> Probe | None:
    """A function returning the bytes the connection behind `send` holds unsent, or None."""
    transport = _transport_of(send)
    if transport is None or not hasattr(transport, "_tempDataLen"):
        return None
    return TransportProbe(transport)


def connection_lost(probe: Probe | None) -> bool:
    """Whether the connection behind `probe` is known to be gone (False where none tells)."""
    return isinstance(probe, TransportProbe) and probe.lost()


class SlowReader(ApplicationError):
    """The client took nothing of what was sent for `TTS_SLOW_READER_SECONDS`."""

    def __init__(self) -> None:
        super().__init__(
            f"The client read nothing for {settings.TTS_SLOW_READER_SECONDS:g} s; "
            "the stream was ended.",
            code="slow_reader",
            status=408,
        )


async def drain(unsent: Probe | None) -> None:
    """Waits while the connection holds more than `TTS_RESPONSE_BUFFER_BYTES` unsent. Raises
    SlowReader when the reader takes nothing for `TTS_SLOW_READER_SECONDS` (nothing unsent
    shrank in that time). No probe: returns at once."""
    if unsent is None:
        return
    limit = settings.TTS_RESPONSE_BUFFER_BYTES
    held = unsent()
    if held <= limit:
        return
    since, lowest = time.monotonic(), held
    while held > limit:
        await asyncio.sleep(0.02)
        held = unsent()
        if held < lowest:
            lowest, since = held, time.monotonic()
        elif time.monotonic() - since > settings.TTS_SLOW_READER_SECONDS:
            raise SlowReader()


class BackpressureMiddleware:
    """ASGI: puts the unsent-bytes probe in every HTTP and WebSocket scope daphne serves."""

    def __init__(self, app: Asgi) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope.get("type") in ("http", "websocket"):
            probe = unsent_probe(send)
            if probe is not None:
                scope = {**scope, UNSENT: probe}
        return await self.app(scope, receive, send)
