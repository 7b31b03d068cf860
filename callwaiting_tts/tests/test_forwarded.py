"""Who the client is behind proxies (issue #14, point 11): `X-Forwarded-For` only from
`TRUSTED_PROXIES`, right to left, validated."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from callwaiting_tts.forwarded import ForwardedClientMiddleware

PROXIES = ["10.0.0.0/8", "192.0.2.10"]


async def headers_seen(peer: str, *headers: tuple[str, str]) -> list[tuple[bytes, bytes]]:
    """The headers the application behind the middleware sees."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": "http",
        "scheme": "http",
        "client": [peer, 50123],
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }
    await ForwardedClientMiddleware(app)(scope, None, None)
    return list(seen["headers"])


async def client_seen(
    peer: str | None,
    *headers: tuple[str, str],
    kind: str = "http",
    scheme: str = "http",
) -> tuple[Any, str]:
    """(scope["client"], scope["scheme"]) as the application behind the middleware sees them."""
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {
        "type": kind,
        "scheme": scheme,
        "client": [peer, 50123] if peer is not None else None,
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }
    await ForwardedClientMiddleware(app)(scope, None, None)
    return (seen["client"][0] if seen["client"] else None), seen["scheme"]


def xff(value: str) -> tuple[str, str]:
    return ("X-Forwarded-For", value)


async def test_without_trusted_proxies_the_peer_is_the_client_whatever_it_forwards():
    assert await client_seen("10.1.2.3", xff("203.0.113.5")) == ("10.1.2.3", "http")


@override_settings(TRUSTED_PROXIES=PROXIES)
async def test_an_untrusted_peer_cannot_choose_its_address_or_scheme():
    seen = await client_seen("198.51.100.1", xff("203.0.113.5"), ("X-Forwarded-Proto", "https"))
    assert seen == ("198.51.100.1", "http")


@override_settings(TRUSTED_PROXIES=PROXIES)
async def test_an_untrusted_peers_forwarding_headers_never_reach_the_application():
    """Django's SECURE_PROXY_SSL_HEADER reads X-Forwarded-Proto itself: from a client it
    would make a plain request secure."""
    forwarding = [
        ("X-Forwarded-Proto", "https"),
        xff("203.0.113.5"),
        ("X-Forwarded-Host", "evil.example"),
        ("Forwarded", "for=203.0.113.5;proto=https"),
        ("X-Real-IP", "203.0.113.5"),
    ]
    seen = await headers_seen("198.51.100.1", ("Accept", "audio/mpeg"), *forwarding)
    assert seen == [(b"accept", b"audio/mpeg")]
    from_a_proxy = await headers_seen("192.0.2.10", ("Accept", "audio/mpeg"), *forwarding)
    assert len(from_a_proxy) == 1 + len(forwarding)


@override_settings(TRUSTED_PROXIES=PROXIES)
@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["203.0.113.5"], "203.0.113.5"),
        # A client's own entry, then what the proxy appended: the right-most untrusted hop.
        (["6.6.6.6, 203.0.113.5"], "203.0.113.5"),
        (["6.6.6.6", "203.0.113.5, 10.9.9.9"], "203.0.113.5"),
        (["203.0.113.5, 10.9.9.9, 192.0.2.10"], "203.0.113.5"),
        (["203.0.113.5:41234"], "203.0.113.5"),
        (["[2001:db8::7]:443"], "2001:db8::7"),
        (["2001:db8::7"], "2001:db8::7"),
        (["::ffff:203.0.113.5"], "203.0.113.5"),
        # Every hop trusted: the leftmost is the client (an internal caller).
        (["10.4.4.4, 10.9.9.9"], "10.4.4.4"),
        # Nothing forwarded, or garbage where the client should be: the peer, never an error.
        ([], "10.1.2.3"),
        ([""], "10.1.2.3"),
        (["not-an-ip"], "10.1.2.3"),
        (["203.0.113.5, unknown"], "10.1.2.3"),
        (["<script>, 10.9.9.9"], "10.1.2.3"),
        (["1.2.3.4.5"], "10.1.2.3"),
    ],
)
async def test_a_trusted_peers_forwarded_for_is_walked_from_the_right(forwarded, client):
    seen, _ = await client_seen("10.1.2.3", *[xff(value) for value in forwarded])
    assert seen == client


@override_settings(TRUSTED_PROXIES=PROXIES)
async def test_a_trusted_peer_sets_the_scheme_of_http_and_websocket_scopes():
    proto = ("X-Forwarded-Proto", "https")
    assert await client_seen("192.0.2.10", xff("203.0.113.5"), proto) == ("203.0.113.5", "https")
    socket = await client_seen("192.0.2.10", proto, kind="websocket", scheme="ws")
    assert socket == ("192.0.2.10", "wss")
    odd = await client_seen("192.0.2.10", ("X-Forwarded-Proto", "gopher"))
    assert odd == ("192.0.2.10", "http")


@override_settings(TRUSTED_PROXIES=PROXIES)
async def test_the_websocket_scope_gets_the_forwarded_client():
    seen = await client_seen("10.1.2.3", xff("203.0.113.5"), kind="websocket", scheme="ws")
    assert seen == ("203.0.113.5", "ws")


@override_settings(TRUSTED_PROXIES=PROXIES)
async def test_a_scope_without_a_peer_or_of_another_type_passes_unchanged():
    assert await client_seen(None, xff("203.0.113.5")) == (None, "http")
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    lifespan = {"type": "lifespan"}
    await ForwardedClientMiddleware(app)(lifespan, None, None)
    assert seen == [lifespan]


def test_a_bad_trusted_proxies_entry_stops_the_start():
    with (
        override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "nginx"]),
        pytest.raises(ImproperlyConfigured, match="nginx"),
    ):
        ForwardedClientMiddleware(lambda *args: None)
