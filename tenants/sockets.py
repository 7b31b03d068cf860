"""WebSocket authentication: the one place a socket gets its principal.

Django-tenants' middleware never runs for WebSockets, so `ApiKeyAuthMiddleware` resolves the
key from a header (`Authorization: Bearer`, `X-API-Key`, `xi-api-key`) or, for browsers, from
a `Sec-WebSocket-Protocol` entry `cw-key.<key>`; a socket with neither authenticates with its
first message (the consumer calls `authenticate_socket` with that key). Either way the result
lands in `scope["principal"]` (`tenants.principal.socket_principal` reads it).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from callwaiting_tts_client.protocol import KEY_SUBPROTOCOL_PREFIX
from tenants.auth import ApiKeyError, authenticate_api_key, key_from_headers
from tenants.principal import Principal


def scope_headers(scope: dict[str, Any]) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", [])
    }


def key_from_scope(scope: dict[str, Any]) -> str | None:
    raw = key_from_headers(scope_headers(scope))
    if raw is not None:
        return raw
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return protocol[len(KEY_SUBPROTOCOL_PREFIX) :]
    return None


def _client(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


@database_sync_to_async
def authenticate_socket(scope: dict[str, Any], raw: str) -> Principal:
    """Resolves `raw` and sets `scope["principal"]`. Raises ApiKeyError."""
    principal = authenticate_api_key(raw, client=_client(scope))
    scope["principal"] = principal
    return principal


class ApiKeyAuthMiddleware:
    """Sets `scope["principal"]` (None until authenticated) and, when a presented key is bad,
    `scope["auth_error"]`; the consumer accepts and then closes such a socket, since closing
    before accept reaches the client as a bare HTTP 403."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope, principal=None, auth_error=None)
        try:
            raw = key_from_scope(scope)
            if raw is not None:
                await authenticate_socket(scope, raw)
        except ApiKeyError as error:
            scope["auth_error"] = error
        return await self.app(scope, receive, send)
