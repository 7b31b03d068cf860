"""The portal's Content-Security-Policy: scripts, styles and everything else from this origin
only, so an injected tag in a page can neither run nor load anything. Portal templates carry no
inline script or style (tests parse every page for them)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PORTAL_PREFIX = "/portal/"

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


class ContentSecurityPolicyMiddleware:
    """Sets the policy on every response under /portal/ (pages, fragments, errors)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith(PORTAL_PREFIX):
            response.setdefault("Content-Security-Policy", POLICY)
        return response
