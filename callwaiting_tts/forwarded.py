"""The client's address behind proxies: `X-Forwarded-For`, believed only from trusted peers.

daphne's own `--proxy-headers` believes the leftmost `X-Forwarded-For` entry from any peer: a
client that reaches daphne, or sends its own header through a proxy that appends, picks the
address the failed-authentication brake counts and the audit log records, and a value that is
no address at all made the audit insert fail. This ASGI middleware runs first instead, for HTTP
and WebSocket scopes alike:

- when the immediate peer is not in `TRUSTED_PROXIES` (addresses or networks; empty by
  default), the peer is the client, and the forwarding headers it sent (`X-Forwarded-*`,
  `Forwarded`, `X-Real-IP`) are dropped from the scope: nothing behind this middleware (Django's
  `SECURE_PROXY_SSL_HEADER` included) can be told "https" or an address by a client;
- otherwise the `X-Forwarded-For` hops are walked from the right (the nearest proxy's entry
  first), trusted hops are skipped, and the first untrusted hop is the client; when every hop is
  trusted, the leftmost is;
- a hop that is not an IP address (after dropping a port) ends the walk: the client is then the
  peer itself, never the garbage and never an error;
- `X-Forwarded-Proto` (`http` or `https`, a single value) from a trusted peer sets the scheme, as
  daphne's flag did.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Scope = dict[str, Any]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Headers only a proxy may set: dropped from an untrusted peer's scope.
_FORWARDING_HEADERS = (b"forwarded", b"x-real-ip")
_FORWARDING_PREFIX = b"x-forwarded-"

_SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


def parse_address(value: str) -> Address | None:
    """An IP address from a forwarded hop or a peer: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
    `[2001:db8::1]:443`; an IPv4-mapped IPv6 address as its IPv4. None for anything else."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {error}") from None


def _trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address in network for network in networks)


def forwarded_client(peer: Address, forwarded_for: list[str], networks: tuple[Network, ...]) -> str:
    """The client's address for a connection from the trusted proxy `peer` carrying these
    `X-Forwarded-For` header values (in order): see the module docstring."""
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return str(peer)
        client = address
        if not _trusted(address, networks):
            break
    return str(client)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [
        value.decode("latin-1")
        for header, value in scope.get("headers", [])
        if header.lower() == name
    ]


def _forwarded_scheme(scope: Scope) -> str | None:
    values = _header_values(scope, b"x-forwarded-proto")
    if len(values) != 1:
        return None
    return _SCHEMES[scope["type"]].get(values[0].strip().lower())


class ForwardedClientMiddleware:
    """ASGI: rewrites `scope["client"]` (and the scheme) from a trusted proxy's headers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        trusted_networks(tuple(settings.TRUSTED_PROXIES))  # a bad entry stops the start

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        if scope.get("type") in ("http", "websocket") and scope.get("client"):
            scope = self._rewritten(scope)
        return await self.app(scope, receive, send)

    @staticmethod
    def _rewritten(scope: Scope) -> Scope:
        networks = trusted_networks(tuple(settings.TRUSTED_PROXIES))
        peer = parse_address(str(scope["client"][0]))
        if peer is None or not _trusted(peer, networks):
            return _without_forwarding_headers(scope)
        client = forwarded_client(peer, _header_values(scope, b"x-forwarded-for"), networks)
        scheme = _forwarded_scheme(scope)
        return {
            **scope,
            "client": [client, 0] if client != str(peer) else scope["client"],
            **({"scheme": scheme} if scheme else {}),
        }


def _without_forwarding_headers(scope: Scope) -> Scope:
    headers = scope.get("headers", [])
    kept = [
        (name, value)
        for name, value in headers
        if not (name.lower().startswith(_FORWARDING_PREFIX) or name.lower() in _FORWARDING_HEADERS)
    ]
    return scope if len(kept) == len(headers) else {**scope, "headers": kept}
