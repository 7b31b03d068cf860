"""`/v1/stream`: the WebSocket for voice agents. This is the authenticated shell (auth, close
codes, ping); the realtime issue adds text-in/audio-out messages. Protocol: docs/websocket.md."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from callwaiting_tts.middleware import new_request_id
from tenants.auth import ApiKeyError, KeyPrincipal
from tenants.sockets import APP_SUBPROTOCOL, authenticate_socket, tenant_db
from voices.models import Voice

# Close codes (documented in docs/websocket.md).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_TOO_MANY_FAILURES = 4429


def _close_code(error: ApiKeyError) -> int:
    return {403: CLOSE_FORBIDDEN, 429: CLOSE_TOO_MANY_FAILURES}.get(
        error.status, CLOSE_UNAUTHENTICATED
    )


@tenant_db
def _voice_count() -> int:
    return Voice.objects.count()


class StreamConsumer(AsyncJsonWebsocketConsumer):
    # No channel layer: audio comes back on Redis lists (docs/adr/0004), so a per-socket
    # channel-layer receive would only cost a Redis connection, and cancelling it when the socket
    # goes away can hang (ADR 0004).
    channel_layer_alias = None
    auth_timer: asyncio.TimerHandle | None = None

    async def connect(self) -> None:
        self.request_id = new_request_id()
        offered = self.scope.get("subprotocols", [])
        await self.accept(subprotocol=APP_SUBPROTOCOL if APP_SUBPROTOCOL in offered else None)
        error: ApiKeyError | None = self.scope.get("auth_error")
        if error is not None:
            await self.fail(error)
        elif self.scope.get("api_key") is not None:
            await self.ready()
        else:
            loop = asyncio.get_running_loop()
            self.auth_timer = loop.call_later(
                settings.WS_AUTH_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self.auth_timeout())
            )

    async def disconnect(self, code: int) -> None:
        if self.auth_timer is not None:
            self.auth_timer.cancel()

    async def auth_timeout(self) -> None:
        if self.scope.get("api_key") is None:
            await self.send_error(
                "auth_timeout", f"No API key within {settings.WS_AUTH_TIMEOUT_SECONDS:g} seconds."
            )
            await self.close(code=CLOSE_AUTH_TIMEOUT)

    async def ready(self) -> None:
        principal: KeyPrincipal = self.scope["api_key"]
        if not principal.has_scope("synthesize"):
            await self.send_error(
                "insufficient_scope", "This API key lacks the 'synthesize' scope."
            )
            await self.close(code=CLOSE_FORBIDDEN)
            return
        voices = await _voice_count(principal.schema_name)
        await self.send_json(
            {
                "type": "ready",
                "request_id": self.request_id,
                "tenant": principal.tenant_slug,
                "api_key": principal.prefix,
                "scopes": sorted(principal.scopes),
                "voices": voices,
            }
        )

    async def fail(self, error: ApiKeyError) -> None:
        await self.send_error(error.code, error.message)
        await self.close(code=_close_code(error))

    async def send_error(self, code: str, message: str, param: str | None = None) -> None:
        await self.send_json(
            {
                "type": "error",
                "error": {
                    "type": "authentication_error"
                    if code.startswith(("invalid", "api_key", "auth"))
                    else "invalid_request_error",
                    "code": code,
                    "message": message,
                    "param": param,
                    "request_id": self.request_id,
                },
            }
        )

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if text_data is None:
            await self.send_error("invalid_message", "Messages are JSON text frames.")
            return
        try:
            content = await self.decode_json(text_data)
        except ValueError:
            await self.send_error("invalid_json", "The message is not valid JSON.")
            return
        if not isinstance(content, dict):
            await self.send_error("invalid_message", "A message is a JSON object with a 'type'.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        if self.scope.get("api_key") is None:
            await self.authenticate_first_message(content)
        elif kind == "ping":
            await self.send_json({"type": "pong", "id": content.get("id")})
        elif kind == "auth":
            await self.send_error("already_authenticated", "This socket is authenticated.", "type")
        else:
            await self.send_error("unknown_message_type", f"Unknown message type {kind!r}.", "type")

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
        if self.auth_timer is not None:
            self.auth_timer.cancel()
        try:
            await authenticate_socket(self.scope, raw)
        except ApiKeyError as error:
            await self.fail(error)
            return
        await self.ready()
