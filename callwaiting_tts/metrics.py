"""GET /metrics (django-prometheus's export), for the scraper only.

Metrics name tenants' traffic, paths and error rates: a proxy rule alone (nginx, the ingress) is
one mistake away from publishing them, and "any private address" lets in every pod and container
beside us. The view itself answers a request that bears METRICS_TOKEN as a Bearer token, or one
whose peer address is in METRICS_ALLOWED_NETWORKS (loopback by default); anything else gets the
one error shape: 401 where a token would do, 403 where none is configured. The peer address is
REMOTE_ADDR (behind a trusted proxy, the client it names).
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

from callwaiting_tts.errors import error_response

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


def _token_presented(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token_matches(request: HttpRequest) -> bool:
    expected = settings.METRICS_TOKEN
    presented = _token_presented(request)
    return bool(expected and presented) and hmac.compare_digest(
        str(presented).encode(), expected.encode()
    )


def metrics_view(request: HttpRequest) -> HttpResponse:
    if _token_matches(request) or _address_allowed(str(request.META.get("REMOTE_ADDR") or "")):
        return ExportToDjangoView(request)
    if settings.METRICS_TOKEN:
        return error_response(
            401,
            "metrics_unauthorized",
            "Metrics need the scraper's token: Authorization: Bearer <METRICS_TOKEN>.",
            request=request,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return error_response(
        403,
        "metrics_forbidden",
        "Metrics are served only to METRICS_ALLOWED_NETWORKS or with METRICS_TOKEN.",
        request=request,
    )
