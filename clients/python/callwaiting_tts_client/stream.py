"""An asyncio client for `/v1/stream`, protocol version 1 (docs/websocket.md).

One background task reads the socket into a queue; `speak` sends a context's text while it
collects that context's audio, so audio can arrive before the last piece of text is sent, as with
an LLM. `cancel` may be called from another task while `speak` runs (barge-in): `speak` then
returns a `Result` with `cancelled=True`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from callwaiting_tts_client.audio import duration_ms, to_wav
from callwaiting_tts_client.protocol import (
    APP_SUBPROTOCOL,
    CLOSE_CODE_NAMES,
    DEFAULT_FORMAT,
    DEFAULT_PCM_RATE,
    G711_RATE,
    KEY_SUBPROTOCOL_PREFIX,
    TWILIO_FORMAT,
)

AuthMode = Literal["header", "message", "subprotocol"]
AUTH_MODES: tuple[AuthMode, ...] = ("header", "message", "subprotocol")

Message = dict[str, Any]
Text = str | Iterable[str] | AsyncIterable[str]


class ClientError(Exception):
    """The server refused or failed something, or the socket went away.

    `code` is the server's error `code` when it sent one (`invalid_api_key`, `input_too_long`, …);
    otherwise a name for the close code (`not_authenticated` for 4401, …) or a client-side code
    (`connection_failed`, `handshake_rejected`, `timeout`, `connection_closed`, `not_connected`).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        close_code: int | None = None,
        error: Mapping[str, Any] | None = None,
        context_id: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.close_code = close_code
        self.error: dict[str, Any] = dict(error or {})
        self.context_id = context_id
        self.result: Result | None = None  # what was received before a context failed

    @classmethod
    def from_message(cls, message: Mapping[str, Any], close_code: int | None = None) -> ClientError:
        """From a server `{"type": "error", "error": {...}}` message."""
        error = message.get("error")
        body: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
        return cls(
            str(body.get("code") or body.get("type") or "error"),
            str(body.get("message") or "The server sent an error."),
            close_code=close_code,
            error=body,
            context_id=message.get("context_id"),
        )

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text} (close code {self.close_code})" if self.close_code else text


@dataclass
class Result:
    """One context's outcome. `audio` is in `format` at `sample_rate` (pcm: s16le mono)."""

    context_id: str
    audio: bytes
    characters: int
    audio_ms: int  # the server's figure (`done.audio_ms`, or `cancelled.audio_ms_sent`)
    marks: list[tuple[str, int]]  # (name, time_ms) in arrival order
    first_audio_s: float | None  # from the first text sent to the first audio byte
    events: list[Message]  # every JSON message received for this context, in order
    format: str = "pcm"
    sample_rate: int = DEFAULT_PCM_RATE
    cancelled: bool = False

    @property
    def received_ms(self) -> int:
        """The length of the audio actually received."""
        return duration_ms(len(self.audio), self.format, self.sample_rate)

    def wav(self, *, keep_g711: bool = False) -> bytes:
        """The audio as a WAV file (G.711 decoded to 16-bit unless `keep_g711`)."""
        return to_wav(self.audio, self.format, self.sample_rate, keep_g711=keep_g711)


@dataclass
class _Context:
    """What `speak` knows of its context while it runs."""

    context_id: str | None
    format: str
    sample_rate: int
    twilio: bool = False
    audio: bytearray = field(default_factory=bytearray)
    marks: list[tuple[str, int]] = field(default_factory=list)
    events: list[Message] = field(default_factory=list)
    first_text_at: float | None = None
    first_audio_s: float | None = None
    # With Twilio output a mark may come twice, as `mark` and as a Twilio `mark` event: the
    # names seen once and not yet the other way, to keep one entry per mark.
    unpaired_json_marks: list[str] = field(default_factory=list)
    unpaired_twilio_marks: list[str] = field(default_factory=list)

    def add_audio(self, data: bytes) -> None:
        if data and self.first_audio_s is None and self.first_text_at is not None:
            self.first_audio_s = time.perf_counter() - self.first_text_at
        self.audio += data

    def position_ms(self) -> int:
        return duration_ms(len(self.audio), self.format, self.sample_rate)

    def add_mark(self, name: str, time_ms: int | None) -> None:
        """A JSON `mark` (with `time_ms`) or a Twilio mark (`time_ms` None: placed at the audio
        received so far); the second of a pair is the same mark, its time taken from JSON."""
        if time_ms is None:
            if name in self.unpaired_json_marks:
                self.unpaired_json_marks.remove(name)
                return
            self.unpaired_twilio_marks.append(name)
            self.marks.append((name, self.position_ms()))
            return
        if name in self.unpaired_twilio_marks:
            self.unpaired_twilio_marks.remove(name)
            index = max(i for i, (seen, _) in enumerate(self.marks) if seen == name)
            self.marks[index] = (name, time_ms)
            return
        if self.twilio:
            self.unpaired_json_marks.append(name)
        self.marks.append((name, time_ms))

    def owns(self, message: Message) -> bool:
        """Whether a JSON message belongs to this context. Messages without `context_id` are
        this context's only for errors and audio (both say whose they are when they can)."""
        context_id = message.get("context_id")
        if context_id is None:
            return message.get("type") in ("error", "audio")
        if self.context_id is None:  # not started yet: the next `started` or error is ours
            return message.get("type") in ("started", "error")
        return bool(context_id == self.context_id)

    def result(self, message: Message, *, cancelled: bool) -> Result:
        context_id = self.context_id or str(message.get("context_id") or "")
        audio_ms = message.get("audio_ms_sent" if cancelled else "audio_ms")
        return Result(
            context_id=context_id,
            audio=bytes(self.audio),
            characters=int(message.get("characters") or 0),
            audio_ms=int(audio_ms) if audio_ms is not None else self.position_ms(),
            marks=self.marks,
            first_audio_s=self.first_audio_s,
            events=self.events,
            format=self.format,
            sample_rate=self.sample_rate,
            cancelled=cancelled,
        )


async def _pieces(text: Text) -> AsyncIterator[str]:
    if isinstance(text, str):
        yield text
    elif isinstance(text, AsyncIterable):
        async for piece in text:
            yield piece
    else:
        for piece in text:
            yield piece


class StreamClient:
    """A connection to `/v1/stream`. Use as `async with StreamClient(url, key) as client:`.

    `auth` picks how the key travels: `header` (`Authorization: Bearer`), `message` (a first
    `{"type": "auth"}` message) or `subprotocol` (`["callwaiting-tts", "cw-key.<key>"]`, as
    browsers do). Entering waits for `ready` (in `self.ready`) and raises `ClientError` if the
    server refuses the key.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        auth: str = "header",
        open_timeout: float = 10.0,
        ready_timeout: float = 15.0,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        self.url = url
        self.api_key = api_key
        self.auth = auth
        self.open_timeout = open_timeout
        self.ready_timeout = ready_timeout
        self.ready: Message = {}
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Message | bytes | ClientError] = asyncio.Queue()
        self._closed: ClientError | None = None
        self._last_message: Message | None = None
        self._cancel_waiters: list[tuple[str | None, asyncio.Future[Message]]] = []
        self._pong_waiters: list[tuple[str, asyncio.Future[Message]]] = []
        # Cancels this client sent (None: all), so a `cancelled` it did not ask for is known to
        # be the server's doing (`input_too_long`), explained by the error that follows it.
        self._cancels_sent: set[str | None] = set()
        self._speaking = asyncio.Lock()
        self._needs_sync = False
        self._syncs = 0

    # Connection

    async def __aenter__(self) -> StreamClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> Message:
        """Connects and authenticates; returns the `ready` message."""
        headers: dict[str, str] = {}
        subprotocols: list[Subprotocol] | None = None
        if self.auth == "header":
            headers["Authorization"] = f"Bearer {self.api_key}"
        elif self.auth == "subprotocol":
            subprotocols = [
                Subprotocol(APP_SUBPROTOCOL),
                Subprotocol(KEY_SUBPROTOCOL_PREFIX + self.api_key),
            ]
        try:
            self._ws = await connect(
                self.url,
                additional_headers=headers or None,
                subprotocols=subprotocols,
                open_timeout=self.open_timeout,
                max_size=2**22,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ClientError(
                "handshake_rejected", f"the server answered HTTP {status} to the upgrade"
            ) from exc
        except InvalidHandshake as exc:
            raise ClientError("handshake_failed", str(exc)) from exc
        except TimeoutError as exc:
            raise ClientError(
                "timeout", f"no WebSocket handshake within {self.open_timeout} s"
            ) from exc
        except OSError as exc:
            raise ClientError("connection_failed", f"cannot connect to {self.url}: {exc}") from exc
        self._reader = asyncio.create_task(self._read(self._ws))
        try:
            if self.auth == "message":
                await self.send({"type": "auth", "api_key": self.api_key})
            self.ready = await self._wait_ready()
        except BaseException:
            await self.close()
            raise
        return self.ready

    async def _wait_ready(self) -> Message:
        deadline = time.monotonic() + self.ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientError("timeout", f"no `ready` within {self.ready_timeout} s")
            item = await self.receive(remaining)
            if isinstance(item, bytes):
                continue
            if item.get("type") == "ready":
                return item
            if item.get("type") == "error":
                # A refusal is an error message and then a close code: report both.
                assert self._ws is not None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ws.wait_closed(), 1.0)
                raise ClientError.from_message(item, close_code=self._ws.close_code)

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code if self._ws is not None else None

    # Raw access

    async def send(self, message: Mapping[str, Any]) -> None:
        """Sends one JSON message."""
        if message.get("type") == "cancel" or message.get("event") == "clear":
            self._cancels_sent.add(message.get("context_id"))
        await self.send_raw(json.dumps(message, separators=(",", ":")))

    async def send_raw(self, data: str | bytes) -> None:
        """Sends a text or binary frame as is (tests of malformed input)."""
        if self._ws is None:
            raise ClientError("not_connected", "the client is not connected")
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise self._close_error() from exc

    async def receive(self, timeout: float) -> Message | bytes:
        """The next message: a dict for JSON, bytes for a binary frame. Raises `ClientError`
        once the socket is closed (with the server's code), or `code="timeout"`."""
        if self._ws is None:
            raise ClientError("not_connected", "the client is not connected")
        try:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            raise ClientError("timeout", f"nothing from the server for {timeout} s") from None
        if isinstance(item, ClientError):
            if item is self._closed:
                self._inbox.put_nowait(item)  # closed stays closed
            raise item
        return item

    # Speaking

    async def speak(
        self,
        text: Text | None = None,
        *,
        context_id: str | None = None,
        voice: str | None = None,
        language: str | None = None,
        format: str | None = None,
        sample_rate: int | None = None,
        speed: float | None = None,
        encoding: str | None = None,
        output: str | None = None,
        pacing: str | None = None,
        stream_sid: str | None = None,
        ssml: str | None = None,
        pronunciation_dictionaries: Sequence[str] | None = None,
        cache: bool | None = None,
        piece_delay_s: float = 0.0,
        marks: Mapping[int, str] | None = None,
        timeout: float = 30.0,
        extra: Mapping[str, Any] | None = None,
    ) -> Result:
        """Speaks one context: `start`, the text piece by piece (a str is one piece; an iterable,
        sync or async, is sent as it yields, `piece_delay_s` apart), a `mark` after the piece of
        each index in `marks`, `end`; returns when `done` (or `cancelled`) arrives.

        Options left `None` are not sent, so the server's defaults apply (pcm, 24 kHz, binary
        frames, raw output, no pacing); Twilio output asks for `service_events`. With `ssml` the
        context takes no text and ends itself. Without `context_id` the server names the context
        and text messages omit it (they then mean the context started last: this one). `timeout`
        is the longest wait for any message. Raises `ClientError` on an error for this context or
        when the socket closes.
        """
        twilio = output == "twilio"
        fmt = format or (TWILIO_FORMAT if twilio else DEFAULT_FORMAT)
        rate = sample_rate or (G711_RATE if fmt != "pcm" else DEFAULT_PCM_RATE)
        start: Message = {"type": "start"}
        options = {
            "context_id": context_id,
            "voice": voice,
            "language": language,
            "speed": speed,
            "format": format,
            "sample_rate": sample_rate,
            "encoding": encoding,
            "output": output,
            "pacing": pacing,
            "stream_sid": stream_sid,
            "ssml": ssml,
            "pronunciation_dictionaries": (
                None if pronunciation_dictionaries is None else list(pronunciation_dictionaries)
            ),
            "cache": cache,
        }
        start.update({name: value for name, value in options.items() if value is not None})
        if twilio:  # this client reads `started`, `done` and errors: Twilio output omits them
            start["service_events"] = True
        start.update(extra or {})
        context = _Context(context_id=context_id, format=fmt, sample_rate=rate, twilio=twilio)
        async with self._speaking:
            self._drain()
            self._cancels_sent.discard(None)
            if self._needs_sync:
                await self._sync(timeout)
            sender = asyncio.create_task(
                self._send_context(context, start, text, ssml, piece_delay_s, dict(marks or {}))
            )
            collector = asyncio.create_task(self._collect(context, timeout))
            try:
                await asyncio.wait({sender, collector}, return_when=asyncio.FIRST_EXCEPTION)
                if collector.done() and collector.exception() is None:
                    return collector.result()
                # Replies to what was sent for a failed context may still be on their way.
                self._needs_sync = True
                if collector.done():
                    return collector.result()
                failure = sender.exception()
                assert failure is not None
                if isinstance(failure, ClientError):
                    # The socket went away while sending: the reader has the server's reason.
                    with contextlib.suppress(TimeoutError):
                        return await asyncio.wait_for(asyncio.shield(collector), 2.0)
                    raise failure
                # The text source itself failed (an LLM stream broke): stop the context.
                collector.cancel()
                with contextlib.suppress(ClientError):
                    await self.send({"type": "cancel", **self._addressed(context_id)})
                raise failure
            finally:
                for task in (sender, collector):
                    if not task.done():
                        task.cancel()
                    with contextlib.suppress(BaseException):
                        await task

    async def cancel(
        self,
        context_id: str | None = None,
        *,
        played_ms: int | None = None,
        timeout: float = 5.0,
    ) -> Message | None:
        """Sends `cancel` (every context on the socket when `context_id` is None: barge-in) and
        returns the first `cancelled` message for it (its `text_spoken`: the words heard up to
        `played_ms` of the context's audio, or all the audio sent when None), or None when
        nothing was open to cancel
        (the server then answers nothing: a `ping` sent right behind the `cancel` tells).
        Raises `ClientError` on an error for it (`unknown_context`, `context_finished`).
        Safe to call while `speak` runs in another task; that `speak` returns `cancelled`."""
        loop = asyncio.get_running_loop()
        cancelled: asyncio.Future[Message] = loop.create_future()
        self._syncs += 1
        ping_id = f"cw-client-cancel-{self._syncs}"
        pong: asyncio.Future[Message] = loop.create_future()
        cancel_entry, pong_entry = (context_id, cancelled), (ping_id, pong)
        self._cancel_waiters.append(cancel_entry)
        self._pong_waiters.append(pong_entry)
        try:
            played = {} if played_ms is None else {"played_ms": played_ms}
            await self.send({"type": "cancel", **self._addressed(context_id), **played})
            await self.send({"type": "ping", "id": ping_id})
            await asyncio.wait({cancelled, pong}, timeout=timeout, return_when="FIRST_COMPLETED")
            # Messages are handled in order: a `cancelled` before the pong is already set.
            if cancelled.done():
                return cancelled.result()
            if pong.done():
                pong.result()  # raises if the socket closed
                return None
            raise ClientError("timeout", f"no `cancelled` within {timeout} s")
        finally:
            self._cancel_waiters.remove(cancel_entry)
            self._pong_waiters.remove(pong_entry)

    # Internals

    @staticmethod
    def _addressed(context_id: str | None) -> Message:
        return {"context_id": context_id} if context_id is not None else {}

    def _drain(self) -> None:
        """Drops what earlier contexts left unread, so their audio is not taken for ours."""
        while not self._inbox.empty():
            item = self._inbox.get_nowait()
            if isinstance(item, ClientError) and item is self._closed:
                self._inbox.put_nowait(item)
                raise item

    async def _sync(self, timeout: float) -> None:
        """Sends a `ping` and drops everything before its `pong`: the server answers in order, so
        late replies to a failed context (errors for its text, its `end`) cannot reach the next."""
        self._syncs += 1
        ping_id = f"cw-client-sync-{self._syncs}"
        await self.send({"type": "ping", "id": ping_id})
        while True:
            item = await self.receive(timeout)
            if isinstance(item, dict) and item.get("type") == "pong" and item.get("id") == ping_id:
                self._needs_sync = False
                return

    async def _send_context(
        self,
        context: _Context,
        start: Message,
        text: Text | None,
        ssml: str | None,
        piece_delay_s: float,
        marks: dict[int, str],
    ) -> None:
        addressed = self._addressed(context.context_id)
        if ssml is not None:
            context.first_text_at = time.perf_counter()
            await self.send(start)
            return
        await self.send(start)
        index = -1
        async for piece in _pieces(text if text is not None else ()):
            if index >= 0 and piece_delay_s > 0:
                await asyncio.sleep(piece_delay_s)
            index += 1
            if context.first_text_at is None:
                context.first_text_at = time.perf_counter()
            await self.send({"type": "text", "text": piece, **addressed})
            if index in marks:
                await self.send({"type": "mark", "name": marks[index], **addressed})
        for late in sorted(i for i in marks if i > index):
            await self.send({"type": "mark", "name": marks[late], **addressed})
        if context.first_text_at is None:
            context.first_text_at = time.perf_counter()
        await self.send({"type": "end", **addressed})

    async def _collect(self, context: _Context, timeout: float) -> Result:
        while True:
            item = await self.receive(timeout)
            if isinstance(item, bytes):  # binary frames: audio of the speaking context
                context.add_audio(item)
                continue
            if "event" in item and "type" not in item:
                self._twilio(context, item)
                continue
            if not context.owns(item):
                continue
            context.events.append(item)
            kind = item.get("type")
            if kind == "started":
                context.context_id = context.context_id or item.get("context_id")
            elif kind == "audio":
                context.add_audio(_b64(item.get("audio"), "audio"))
            elif kind == "mark":
                time_ms = item.get("time_ms")
                position = int(time_ms) if time_ms is not None else context.position_ms()
                context.add_mark(str(item.get("name")), position)
            elif kind == "done":
                return context.result(item, cancelled=False)
            elif kind == "cancelled":
                result = context.result(item, cancelled=True)
                if self._asked_to_cancel(result.context_id):
                    return result
                raise await self._why_cancelled(context, result)
            elif kind == "error":
                raise ClientError.from_message(item)

    def _asked_to_cancel(self, context_id: str) -> bool:
        asked = None in self._cancels_sent or context_id in self._cancels_sent
        self._cancels_sent.discard(context_id)
        return asked

    async def _why_cancelled(self, context: _Context, result: Result) -> ClientError:
        """The server cancelled the context itself (`input_too_long`): its error follows."""
        with contextlib.suppress(ClientError):
            while True:
                item = await self.receive(2.0)
                if isinstance(item, dict) and item.get("type") == "error" and context.owns(item):
                    context.events.append(item)
                    failure = ClientError.from_message(item)
                    failure.result = result
                    return failure
        return ClientError(
            "cancelled", "the server cancelled the context", context_id=result.context_id
        )

    @staticmethod
    def _twilio(context: _Context, item: Message) -> None:
        """Twilio Media Streams messages carry no context id: they are the speaking context's."""
        context.events.append(item)
        event = item.get("event")
        if event == "media":
            media = item.get("media")
            payload = media.get("payload") if isinstance(media, Mapping) else None
            context.add_audio(_b64(payload, "media.payload"))
        elif event == "mark":
            mark = item.get("mark")
            name = mark.get("name") if isinstance(mark, Mapping) else None
            context.add_mark(str(name), None)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                if isinstance(frame, bytes):
                    self._inbox.put_nowait(frame)
                    continue
                try:
                    message = json.loads(frame)
                except ValueError:
                    message = None
                if not isinstance(message, dict):
                    self._inbox.put_nowait(
                        ClientError("invalid_server_message", f"not a JSON object: {frame[:200]!r}")
                    )
                    continue
                self._last_message = message
                self._wake_cancel_waiters(message)
                self._inbox.put_nowait(message)
        except ConnectionClosed:
            pass
        closed = self._closed = self._close_error()
        for _, waiter in [*self._cancel_waiters, *self._pong_waiters]:
            if not waiter.done():
                waiter.set_exception(closed)
        self._inbox.put_nowait(closed)

    def _wake_cancel_waiters(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "pong":
            for ping_id, waiter in self._pong_waiters:
                if ping_id == message.get("id") and not waiter.done():
                    waiter.set_result(message)
            return
        if kind not in ("cancelled", "error"):
            return
        context_id = message.get("context_id")
        for wanted, waiter in self._cancel_waiters:
            if waiter.done():
                continue
            if kind == "cancelled" and wanted in (None, context_id):
                waiter.set_result(message)
            elif kind == "error" and context_id in (None, wanted):
                waiter.set_exception(ClientError.from_message(message))

    def _close_error(self) -> ClientError:
        if self._closed is not None:
            return self._closed
        code = self.close_code
        reason = self._ws.close_reason if self._ws is not None else None
        last = self._last_message
        if last is not None and last.get("type") == "error" and code not in (None, 1000):
            return ClientError.from_message(last, close_code=code)
        if code in CLOSE_CODE_NAMES:
            return ClientError(
                CLOSE_CODE_NAMES[code], reason or f"the server closed with {code}", close_code=code
            )
        detail = f": {reason}" if reason else ""
        return ClientError(
            "connection_closed", f"the socket closed (code {code}){detail}", close_code=code
        )


def _b64(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ClientError("invalid_server_message", f"`{name}` is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise ClientError("invalid_server_message", f"`{name}` is not valid base64") from exc
