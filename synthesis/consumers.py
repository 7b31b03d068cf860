"""`/v1/stream`: the WebSocket for voice agents: authentication, limits and message routing;
the contexts themselves live in `synthesis.realtime`. Protocol: docs/websocket.md; its constants
(version, subprotocols, close codes) are the reference client's `callwaiting_tts_client.protocol`,
the one copy both sides read."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from billing import leases
from callwaiting_tts import tts_metrics
from callwaiting_tts.backpressure import UNSENT
from callwaiting_tts.errors import ApplicationError, error_body
from callwaiting_tts.middleware import new_request_id
from callwaiting_tts.parsers import JsonRefused, loads
from callwaiting_tts.redis import async_client
from callwaiting_tts_client.protocol import (
    APP_SUBPROTOCOL,
    CLOSE_AUTH_TIMEOUT,
    CLOSE_FORBIDDEN,
    CLOSE_IDLE_TIMEOUT,
    CLOSE_MESSAGE_TOO_LARGE,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_PROTOCOL_ERROR,
    CLOSE_TOO_MANY_REQUESTS,
    ERROR_CLOSE_BASE,
    MESSAGE_FIELDS,
    PROTOCOL_VERSION,
)
from synthesis.realtime.messages import MalformedMessage, asks_for_twilio_only, check_message
from synthesis.realtime.session import Session
from synthesis.realtime.telephony import twilio_event
from tenants.auth import ApiKeyError, key_problem
from tenants.principal import Principal, socket_principal
from tenants.sockets import authenticate_socket
from voices.selectors import voice_count

# The client's message types, by their `type` (Twilio's `clear` is keyed by `event`).
_TYPES = frozenset(MESSAGE_FIELDS) - {"clear"}
# Messages that make a context speak re-check the key (at most every WS_KEY_RECHECK_SECONDS;
# `start` always); a `cancel` only ever stops speech, so it never needs the key.
_SPEAKS = {"text", "flush", "end", "mark"}
# A key revoked or a tenant suspended while the socket was open ends the socket.
_CLOSES_THE_SOCKET = {
    "tenant_suspended": CLOSE_FORBIDDEN,
    "api_key_revoked": CLOSE_NOT_AUTHENTICATED,
    "api_key_expired": CLOSE_NOT_AUTHENTICATED,
}


def _close_code(error: ApiKeyError) -> int:
    return {403: CLOSE_FORBIDDEN, 429: CLOSE_TOO_MANY_REQUESTS}.get(
        error.status, CLOSE_NOT_AUTHENTICATED
    )


def _refusal(error: ApiKeyError) -> ApplicationError:
    return ApplicationError(error.message, code=error.code, status=error.status)


def _bad(code: str, message: str, param: str | None = None) -> ApplicationError:
    return ApplicationError(message, code=code, param=param)


def _kind(content: dict[str, Any]) -> tuple[str | None, str]:
    """A message's type and the key that names it: `type`, or `event` for Twilio's `clear`."""
    if "type" not in content and twilio_event(content) == "clear":
        return "clear", "event"
    kind = content.get("type")
    return (kind if isinstance(kind, str) and kind in _TYPES else None), "type"


def error_close_code(error: ApplicationError) -> int:
    """Twilio-only output's close for an error it cannot send as a message: 4000 + the status
    the error has over HTTP (4400, 4409, 4429, 4503, ...), as the socket's other close codes."""
    return ERROR_CLOSE_BASE + error.status


class StreamConsumer(AsyncJsonWebsocketConsumer):
    # No channel layer: audio comes back on Redis lists (docs/adr/0004), so a per-socket
    # channel-layer receive would only cost a Redis connection, and cancelling it when the socket
    # goes away can hang (ADR 0004).
    channel_layer_alias = None
    auth_timer: asyncio.TimerHandle | None = None
    session: Session | None = None
    connection_lease: tuple[leases.LeaseSet, str] | None = None
    watchdog: asyncio.Task[None] | None = None
    last_message = 0.0
    key_checked = 0.0  # when the key's record was last read (time.monotonic)
    errors_in_a_row = 0
    closing = False
    teardown: asyncio.Task[None] | None = None

    @property
    def principal(self) -> Principal | None:
        return socket_principal(self.scope)

    async def connect(self) -> None:
        self.request_id = new_request_id()
        offered = self.scope.get("subprotocols", [])
        await self.accept(subprotocol=APP_SUBPROTOCOL if APP_SUBPROTOCOL in offered else None)
        error: ApiKeyError | None = self.scope.get("auth_error")
        if error is not None:
            await self.fail(error)
        elif self.principal is not None:
            await self.ready()
        else:
            loop = asyncio.get_running_loop()
            self.auth_timer = loop.call_later(
                settings.WS_AUTH_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self.auth_timeout())
            )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The socket's whole life. However it ends (a close, a crash in a handler, daphne
        cancelling us), its contexts are cancelled and billed for what was sent and its leases
        released; a crash still ends the application with its exception, so daphne logs it and
        closes 1011."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.disconnect(1011)  # awaits the one teardown, started or done already

    async def disconnect(self, code: int) -> None:
        """The socket is gone, closing or crashed: settles everything, once. Shielded, so that
        a caller cancelled meanwhile (daphne gives up on a slow application) stops only its
        own wait."""
        if self.teardown is None:
            self.teardown = asyncio.ensure_future(self._tear_down())
        await asyncio.shield(self.teardown)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Closes the socket and settles at once: the client's reply to a close may never
        come."""
        self.closing = True
        try:
            await super().close(code=code, reason=reason)
        finally:
            await self.disconnect(code or 1000)

    async def _tear_down(self) -> None:
        self.closing = True
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        if self.watchdog is not None:  # may be the task that closed: it ends on its own then
            self.watchdog.cancel()
        if self.session is not None:
            await self.session.close()  # every open context: cancelled, usage recorded
        if self.connection_lease is not None:
            lease_set, lease_id = self.connection_lease
            with contextlib.suppress(Exception):
                await lease_set.release(lease_id)
            with contextlib.suppress(Exception):
                await lease_set.client.aclose()

    async def auth_timeout(self) -> None:
        if self.principal is None:
            timeout = settings.WS_AUTH_TIMEOUT_SECONDS
            await self.send_error(
                ApplicationError(
                    f"No API key within {timeout:g} seconds.", code="auth_timeout", status=401
                )
            )
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def ready(self) -> None:
        principal = self.principal
        assert principal is not None  # ready() follows a successful authentication
        if not principal.has_scope("synthesize"):
            await self.send_error(
                ApplicationError(
                    "This API key lacks the 'synthesize' scope.",
                    code="insufficient_scope",
                    status=403,
                )
            )
            await self.close(code=CLOSE_FORBIDDEN)
            return
        lease_set = leases.LeaseSet(
            async_client(settings.REDIS_URL),
            leases.connection_key(principal.tenant_id),
        )
        lease_id = f"{self.request_id}:{uuid.uuid4().hex[:8]}"
        self.connection_lease = (lease_set, lease_id)
        if not await lease_set.acquire(lease_id, settings.WS_MAX_CONNECTIONS_PER_TENANT):
            self.connection_lease = None
            await lease_set.client.aclose()
            limit = settings.WS_MAX_CONNECTIONS_PER_TENANT
            await self.send_error(
                ApplicationError(
                    f"This account has {limit} sockets open already.",
                    code="too_many_connections",
                    status=429,
                )
            )
            await self.close(code=CLOSE_TOO_MANY_REQUESTS)
            return
        voices = await database_sync_to_async(voice_count)(principal=principal)
        # Under daphne: the bytes the socket holds unsent (callwaiting_tts.backpressure).
        unsent = self.scope.get(UNSENT)
        self.session = Session(
            principal, self.request_id, self._send_any, report=self.report, unsent=unsent
        )
        self.last_message = time.monotonic()
        self.watchdog = asyncio.ensure_future(self._watch(lease_set, lease_id))
        await self.send_json(
            {
                "type": "ready",
                "protocol": PROTOCOL_VERSION,
                "request_id": self.request_id,
                "tenant": principal.tenant_slug,
                "api_key": principal.prefix,
                "scopes": sorted(principal.scopes),
                "voices": voices,
            }
        )

    async def fail(self, error: ApiKeyError) -> None:
        await self.send_error(_refusal(error))
        await self.close(code=_close_code(error))

    async def _send_any(self, message: dict[str, Any] | bytes) -> None:
        if self.closing:
            return
        if isinstance(message, bytes):
            await self.send(bytes_data=message)
        else:
            await self.send_json(message)

    async def _watch(self, lease_set: leases.LeaseSet, lease_id: str) -> None:
        """Renews the connection's lease and closes an idle socket (nothing received for
        WS_IDLE_TIMEOUT_SECONDS and nothing being spoken)."""
        renew_every = lease_set.ttl_ms / 3000
        renewed = time.monotonic()
        idle = settings.WS_IDLE_TIMEOUT_SECONDS
        tick = min(1.0, idle / 4, settings.WS_CONTEXT_IDLE_TIMEOUT_SECONDS / 4)
        while not self.closing:
            await asyncio.sleep(tick)
            now = time.monotonic()
            if now - renewed >= renew_every:
                renewed = now
                with contextlib.suppress(Exception):
                    await lease_set.renew(lease_id)
            if self.session is not None:
                await self.session.tick()  # ends idle contexts, drops finished ones
            busy = self.session is not None and self.session.busy()
            if busy:
                self.last_message = now
            elif now - self.last_message > idle:
                await self.report(
                    ApplicationError(
                        f"Nothing received for {idle:g} seconds.", code="idle_timeout", status=408
                    ),
                    close_code=CLOSE_IDLE_TIMEOUT,
                )
                return

    @property
    def twilio_only(self) -> bool:
        return self.session is not None and self.session.twilio_only

    async def report(
        self,
        error: ApplicationError,
        context_id: str | None = None,
        *,
        close_code: int | None = None,
    ) -> None:
        """An error for the client: an `error` message (then the close `close_code`, if given).
        In Twilio-only mode (docs/websocket.md, "Twilio") Twilio would refuse the message:
        the socket closes instead, with `close_code` or 4000 + the error's status."""
        if self.closing:  # closed already (by another task, or an error before this one)
            return
        if self.twilio_only:
            self.closing = True  # nothing more goes out, from any task
            await self.close(code=close_code or error_close_code(error))
            return
        await self.send_error(error, context_id=context_id)
        if close_code is not None:
            self.closing = True
            await self.close(code=close_code)

    async def send_error(self, error: ApplicationError, context_id: str | None = None) -> None:
        """An `error` message: the same body as an HTTP error's (`callwaiting_tts.errors`), and
        `retry_after` (seconds) where HTTP would send `Retry-After`."""
        extra = {} if context_id is None else {"context_id": context_id}
        tts_metrics.count_error(error.code, "ws")
        body = error_body(
            status=error.status,
            code=error.code,
            message=error.message,
            param=error.param,
            request_id=self.request_id,
        )
        retry_after = error.headers.get("Retry-After")
        if retry_after is not None:  # what HTTP says in the header (a 503 at capacity)
            body["error"]["retry_after"] = int(retry_after)
        await self.send_json({"type": "error", **extra, **body})

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self.closing:  # closed by us: what the client still sends goes unanswered
            return
        self.last_message = time.monotonic()
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > settings.WS_MAX_MESSAGE_BYTES:
            await self.report(
                ApplicationError(
                    f"A message may be at most {settings.WS_MAX_MESSAGE_BYTES} bytes.",
                    code="message_too_large",
                    status=413,
                ),
                close_code=CLOSE_MESSAGE_TOO_LARGE,
            )
            return
        if text_data is None:
            await self.protocol_error(_bad("invalid_message", "Messages are JSON text frames."))
            return
        try:
            content = await self.decode_json(text_data)
        except JsonRefused as refused:
            await self.protocol_error(_bad("invalid_json", str(refused)))
            return
        except ValueError:
            await self.protocol_error(_bad("invalid_json", "The message is not valid JSON."))
            return
        if not isinstance(content, dict):
            await self.protocol_error(
                _bad("invalid_message", "A message is a JSON object with a 'type'.")
            )
            return
        await self.receive_json(content)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        """JSON nested at most MAX_JSON_DEPTH deep (`callwaiting_tts.parsers`), as HTTP bodies."""
        return loads(text_data)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        if self.principal is None:
            await self.authenticate_first_message(content)
            return
        kind, key = _kind(content)
        if self.session is None or kind is None:
            await self.protocol_error(
                _bad("unknown_message_type", f"Unknown message type {content.get('type')!r}.", key)
            )
            return
        if kind == "auth":  # well formed, but too late: answered, not counted
            await self.report(_bad("already_authenticated", "This socket is authenticated.", key))
            return
        if kind == "start" and asks_for_twilio_only(content):
            self.session.twilio_only = True  # its refusal, too, must take Twilio's shape
        context_id = content.get("context_id")
        context_id = context_id if isinstance(context_id, str) else None
        try:
            message = check_message(kind, content, key)
        except MalformedMessage as malformed:
            await self.protocol_error(malformed, context_id=context_id)
            return
        if kind == "ping":  # answered, but no proof of a well-behaved client: the count stays
            if not self.twilio_only:  # a `pong` is not a Twilio message
                await self.send_json({"type": "pong", "id": message.get("id")})
        elif kind == "clear":
            await self.session.cancel({})  # Twilio's barge-in: stop everything
        else:
            await self.handle(kind, message, context_id)

    async def handle(self, kind: str, content: dict[str, Any], context_id: str | None) -> None:
        """One context message, well formed: re-authenticated at each `start` and, at most every
        WS_KEY_RECHECK_SECONDS, at each message that makes a context speak (the key and its
        tenant as they are now: one cache GET), then handed to the session. A refusal is
        answered but not counted as a bad message: the message was well formed."""
        assert self.session is not None
        try:
            now = time.monotonic()
            if kind == "start" or (
                kind in _SPEAKS and now - self.key_checked >= settings.WS_KEY_RECHECK_SECONDS
            ):
                await self._check_key()
                self.key_checked = now
            await getattr(self.session, kind)(content)
            self.errors_in_a_row = 0
        except ApplicationError as error:
            # suspended or revoked since the socket opened: closed; else the socket carries on
            await self.report(error, context_id, close_code=_CLOSES_THE_SOCKET.get(error.code))

    async def _check_key(self) -> None:
        principal = self.principal
        assert principal is not None
        problem = await database_sync_to_async(key_problem)(principal.prefix)
        if problem is not None:
            raise _refusal(problem)

    async def protocol_error(self, error: ApplicationError, context_id: str | None = None) -> None:
        """A malformed message (not JSON, not an object, an unknown type or field, a value of the
        wrong JSON type, a required field missing): answered, and counted; the socket closes at
        WS_MAX_CONSECUTIVE_ERRORS of them with no message between that did what it asked."""
        await self.report(error, context_id)
        if self.closing:
            return
        self.errors_in_a_row += 1
        if self.errors_in_a_row >= settings.WS_MAX_CONSECUTIVE_ERRORS:
            await self.report(
                _bad("protocol_error", f"{self.errors_in_a_row} bad messages in a row: closing."),
                close_code=CLOSE_PROTOCOL_ERROR,
            )

    async def authenticate_first_message(self, content: dict[str, Any]) -> None:
        raw = content.get("api_key")
        if content.get("type") != "auth" or not isinstance(raw, str):
            await self.fail(
                ApiKeyError(
                    "missing_api_key",
                    'Authenticate first: send {"type": "auth", "api_key": "..."}.',
                )
            )
            return
        try:
            check_message("auth", content)
        except MalformedMessage as malformed:  # an unknown field: a client to fix, not a key
            await self.send_error(malformed)
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        try:
            await authenticate_socket(self.scope, raw)
        except ApiKeyError as error:
            await self.fail(error)
            return
        await self.ready()
