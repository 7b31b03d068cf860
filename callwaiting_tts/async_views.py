"""DRF views whose handlers are `async def`: the audio endpoints.

DRF's `APIView` is synchronous: under daphne the whole view ran in a thread, and a synthesis's
start (async: Redis, the worker hand-off, the phrase cache) went back to the event loop through
`async_to_sync` and returned, two more round trips between threads before the first audio
(docs/phrase-cache.md, "Measured"). Here the handler runs on the event loop; what may block
(the API key's authentication reads Redis, permissions) runs in one thread round trip, as do
the error path and any other synchronous step the handler awaits itself. The request's
parsing and the serializer's checks are CPU work on the loop, as DRF would do them in its
thread. In a synchronous chain (the test client) Django runs the view with `async_to_sync`:
the same code either way.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase
from rest_framework.views import APIView


class AsyncApiView(APIView):
    """An APIView whose method handlers are coroutines (DRF's dispatch, awaited)."""

    async def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        self.args = args
        self.kwargs = kwargs
        drf_request = self.initialize_request(request, *args, **kwargs)
        self.request = drf_request
        self.headers = self.default_response_headers
        try:
            # The request's own thread, not `database_sync_to_async`: that closes the thread's
            # connection, which in a synchronous chain is the caller's (a test's transaction).
            # A key read from PostgreSQL (a cache miss) keeps its pooled connection until the
            # response ends, as a synchronous view's does.
            await sync_to_async(self.initial)(drf_request, *args, **kwargs)
            method = (drf_request.method or "").lower()
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                handler = self.http_method_not_allowed
            if iscoroutinefunction(handler):
                response = await handler(drf_request, *args, **kwargs)
            else:  # OPTIONS, a method not allowed: DRF's own, synchronous
                response = await sync_to_async(handler)(drf_request, *args, **kwargs)
        except Exception as exc:
            response = await sync_to_async(self.handle_exception)(exc)
        self.response = self.finalize_response(drf_request, response, *args, **kwargs)
        return self.response
