"""The portal's Content-Security-Policy: scripts, styles and everything else from this origin
only, so an injected tag in a page can neither run nor load anything. Portal templates carry no
inline script or style (tests parse every page for them)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase

from callwaiting_tts.async_middleware import Middleware

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


class ContentSecurityPolicyMiddleware(Middleware):
    """Sets the policy on every response under /portal/ (pages, fragments, errors)."""

    def after(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if request.path_info.startswith(PORTAL_PREFIX):
            response.setdefault("Content-Security-Policy", POLICY)
        return response
