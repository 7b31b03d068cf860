"""ASGI entry point for daphne: HTTP through Django, WebSockets through Channels."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callwaiting_tts.settings")
# The web process pools its database connections (settings: DATABASE_POOL_SIZE).
os.environ.setdefault("DATABASE_POOL_SIZE", "16")
# Django must be set up before any module that imports models (the consumers) is imported.
django_http = get_asgi_application()

from callwaiting_tts.deployment import refuse_unsafe_settings  # noqa: E402

refuse_unsafe_settings()  # daphne runs no system checks: it stops here instead

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.signals import request_started  # noqa: E402
from django.db import close_old_connections, reset_queries  # noqa: E402

# Under daphne each request's synchronous code runs in a thread of its own, whose database
# connection is new, and `database_sync_to_async` closes before and after each call: closing
# "old" connections (and resetting the query log) as a request starts finds nothing to do, and
# cost every request a thread round trip (Django sends the signal's sync receivers to a
# thread). `request_finished` still closes the request's connections (back to the pool).
request_started.disconnect(close_old_connections)
request_started.disconnect(reset_queries)
from django.urls import re_path  # noqa: E402

from callwaiting_tts.backpressure import BackpressureMiddleware  # noqa: E402
from callwaiting_tts.forwarded import ForwardedClientMiddleware  # noqa: E402
from synthesis.consumers import StreamConsumer  # noqa: E402
from tenants.sockets import ApiKeyAuthMiddleware  # noqa: E402

websocket_routes = [re_path(r"^v1/stream/?$", StreamConsumer.as_asgi())]

# First of all: who the client is, from a trusted proxy's X-Forwarded-For (TRUSTED_PROXIES).
application = ForwardedClientMiddleware(
    ProtocolTypeRouter(
        {
            # Static files: WhiteNoise, a middleware of the Django app (settings.MIDDLEWARE).
            # Each request learns how much of its response daphne holds unsent (slow readers).
            "http": BackpressureMiddleware(django_http),
            "websocket": BackpressureMiddleware(ApiKeyAuthMiddleware(URLRouter(websocket_routes))),
        }
    )
)
