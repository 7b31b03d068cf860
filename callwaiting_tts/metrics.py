"""GET /metrics (django-prometheus's export and the synthesis figures of
`callwaiting_tts.tts_metrics`), for the scraper only; and a TTS worker's own metrics port.

Metrics name tenants' traffic, paths and error rates: a proxy rule alone (nginx, the ingress) is
one mistake away from publishing them, and "any private address" lets in every pod and container
beside us. The view itself answers a request that bears METRICS_TOKEN as a Bearer token, or one
whose peer address is in METRICS_ALLOWED_NETWORKS (loopback by default); anything else gets the
one error shape: 401 where a token would do, 403 where none is configured. The peer address is
REMOTE_ADDR (behind a trusted proxy, the client it names). A worker's port
(`serve_worker_metrics`) answers on the same terms.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from callwaiting_tts import tts_metrics
from callwaiting_tts.errors import error_body, error_response

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    return any(ip.version == net.version and ip in net for net in networks)


def _token_presented(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token_matches(authorization: str) -> bool:
    expected = settings.METRICS_TOKEN
    presented = _token_presented(authorization)
    return bool(expected and presented) and hmac.compare_digest(
        str(presented).encode(), expected.encode()
    )


def _allowed(authorization: str, address: str) -> bool:
    return _token_matches(authorization) or _address_allowed(address)


def _refusal() -> tuple[int, str, str, dict[str, str]]:
    """(status, code, message, headers) for a scraper that is not let in."""
    if settings.METRICS_TOKEN:
        return (
            401,
            "metrics_unauthorized",
            "Metrics need the scraper's token: Authorization: Bearer <METRICS_TOKEN>.",
            {"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return (
        403,
        "metrics_forbidden",
        "Metrics are served only to METRICS_ALLOWED_NETWORKS or with METRICS_TOKEN.",
        {},
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    authorization = request.headers.get("Authorization", "")
    if _allowed(authorization, str(request.META.get("REMOTE_ADDR") or "")):
        tts_metrics.refresh()
        return ExportToDjangoView(request)
    status, code, message, headers = _refusal()
    return error_response(status, code, message, request=request, headers=headers)


# --- a TTS worker's metrics port --------------------------------------------------------------

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
Answer = tuple[int, dict[str, str], bytes]


async def serve_worker_metrics(host: str, port: int) -> asyncio.Server:
    """Serves `GET /metrics` (this process's registry) on `host:port`, one request per
    connection, to the scraper only. The worker's event loop runs it: an export takes a
    millisecond or two, between the scheduler's steps."""
    return await asyncio.start_server(_answer, host, port)


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        writer.close()
        return
    try:
        status, headers, body = _worker_response(head, writer.get_extra_info("peername"))
        lines = [f"HTTP/1.1 {status} {_REASONS[status]}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + body)
        await writer.drain()
    except (ConnectionError, OSError):
        pass  # the scraper went away
    finally:
        writer.close()


def _worker_response(head: bytes, peer: object) -> Answer:
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    fields = dict(line.partition(":")[::2] for line in header_lines if ":" in line)
    headers = {name.strip().lower(): value.strip() for name, value in fields.items()}
    address = str(peer[0]) if isinstance(peer, tuple) and peer else ""

    def refused(status: int, code: str, message: str, extra: dict[str, str]) -> Answer:
        body = error_body(status=status, code=code, message=message, param=None, request_id=None)
        return status, {"Content-Type": "application/json", **extra}, json.dumps(body).encode()

    if len(parts) != 3 or parts[0] != "GET":
        return refused(400, "bad_request", "Only GET /metrics is served here.", {})
    if parts[1].split("?", 1)[0] != "/metrics":
        return refused(404, "not_found", f"No route for {parts[1]}.", {})
    if not _allowed(headers.get("authorization", ""), address):
        return refused(*_refusal())
    return 200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest(REGISTRY)
